/* Path building and the parsers for the /proc files the jailer reads. Pure:
 * the callers read the files and pass their text. */
#include "jailer/jail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jail_path_join(char *out, size_t len, const char *a, const char *b)
{
	size_t la = strlen(a);
	int n;

	/* "/" + "x" is "/x", not "//x". */
	while (la > 1 && a[la - 1] == '/')
		la--;
	if (la == 1 && a[0] == '/')
		la = 0;
	n = snprintf(out, len, "%.*s/%s", (int)la, a, b);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

const char *jail_path_base(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return NULL;
	return base;
}

/* Copy one whitespace-separated field of a /proc/mounts line, decoding the
 * kernel's \ooo escapes. Returns the position after the field. */
static const char *mounts_field(const char *p, const char *end, char *out, size_t len, int *rc)
{
	size_t n = 0;

	while (p < end && *p != ' ' && *p != '\t') {
		char c = *p++;

		if (c == '\\' && end - p >= 3 && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' &&
		    p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
			c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
			p += 3;
		}
		if (n + 1 >= len) {
			*rc = -ENAMETOOLONG;
			return end;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Is name one of the comma-separated words in list? */
static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		size_t w = strcspn(p, ",");

		if (w == n && !strncmp(p, name, n))
			return true;
		p += w;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Does one line (without its newline) describe the wanted mount? */
static int mounts_line(const char *p, const char *end, const char *controller, char *out,
		       size_t len)
{
	char dev[64], dir[PATH_MAX], type[32], options[512];
	int rc = 0;

	p = mounts_field(p, end, dev, sizeof(dev), &rc);
	p = mounts_field(p, end, dir, sizeof(dir), &rc);
	p = mounts_field(p, end, type, sizeof(type), &rc);
	mounts_field(p, end, options, sizeof(options), &rc);
	if (rc)
		return -ENOENT; /* an over-long field cannot be ours */
	if (controller ? strcmp(type, "cgroup") != 0 || !list_has(options, controller)
		       : strcmp(type, "cgroup2") != 0)
		return -ENOENT;
	if (strlen(dir) >= len)
		return -ENAMETOOLONG;
	memcpy(out, dir, strlen(dir) + 1);
	return 0;
}

int jail_mounts_find(const char *mounts, const char *controller, char *out, size_t len)
{
	const char *p = mounts;

	while (*p) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		int rc = mounts_line(p, end, controller, out, len);

		if (rc != -ENOENT)
			return rc;
		p = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

/* One "hierarchy-id:controller-list:path" line of /proc/self/cgroup. */
static int cgroup_line(const char *p, const char *end, const char *controller, char *out,
		       size_t len)
{
	const char *c1 = memchr(p, ':', (size_t)(end - p));
	const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	char list[256];
	size_t ll, pl;

	if (!c2)
		return -ENOENT;
	ll = (size_t)(c2 - c1 - 1);
	if (ll >= sizeof(list))
		return -ENOENT;
	memcpy(list, c1 + 1, ll);
	list[ll] = '\0';
	if (controller ? !list_has(list, controller) : (ll != 0 || c1 - p != 1 || *p != '0'))
		return -ENOENT;
	pl = (size_t)(end - c2 - 1);
	if (pl + 1 > len)
		return -ENAMETOOLONG;
	memcpy(out, c2 + 1, pl);
	out[pl] = '\0';
	return 0;
}

int jail_proc_cgroup_find(const char *text, const char *controller, char *out, size_t len)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		int rc = cgroup_line(p, end, controller, out, len);

		if (rc != -ENOENT)
			return rc;
		p = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

int jail_misc_minor(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while (*p) {
		char *end;
		long minor = strtol(p, &end, 10);
		const char *nl = strchr(p, '\n');
		size_t rest;

		if (end != p && *end == ' ') {
			while (*end == ' ')
				end++;
			rest = nl ? (size_t)(nl - end) : strlen(end);
			if (rest == n && !strncmp(end, name, n) && minor >= 0 && minor < (1 << 20))
				return (int)minor;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return -ENOENT;
}
