/* Route table and matching; see routes.h. */
#include "api/routes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

_Static_assert(ROUTE_ID_MAX == CFG_ID_MAX, "route ids are stored in the config model");

/* Allowed states follow Firecracker's PrebootApiController and
 * RuntimeApiController: configuration is pre-boot only, updates of a
 * running device post-boot only. Paused-only rules (snapshot/create) are
 * the handler's, which knows why it refuses. */
static const struct route route_table[ROUTE_COUNT] = {
    {ROUTE_GET_INSTANCE_INFO, "GET", "/", ROUTE_ANY, ROUTE_BODY_NONE},
    {ROUTE_PUT_ACTIONS, "PUT", "/actions", ROUTE_ANY, ROUTE_BODY_REQUIRED},
    {ROUTE_GET_BALLOON, "GET", "/balloon", ROUTE_ANY, ROUTE_BODY_NONE},
    {ROUTE_PUT_BALLOON, "PUT", "/balloon", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_BALLOON, "PATCH", "/balloon", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_GET_BALLOON_STATS, "GET", "/balloon/statistics", ROUTE_POST, ROUTE_BODY_NONE},
    {ROUTE_PATCH_BALLOON_STATS, "PATCH", "/balloon/statistics", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_BALLOON_HINT_START, "PATCH", "/balloon/hinting/start", ROUTE_POST,
     ROUTE_BODY_OPTIONAL},
    {ROUTE_GET_BALLOON_HINT_STATUS, "GET", "/balloon/hinting/status", ROUTE_POST, ROUTE_BODY_NONE},
    {ROUTE_PATCH_BALLOON_HINT_STOP, "PATCH", "/balloon/hinting/stop", ROUTE_POST,
     ROUTE_BODY_OPTIONAL},
    {ROUTE_PUT_BOOT_SOURCE, "PUT", "/boot-source", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_CPU_CONFIG, "PUT", "/cpu-config", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_DRIVE, "PUT", "/drives/{id}", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_DRIVE, "PATCH", "/drives/{id}", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_PMEM, "PUT", "/pmem/{id}", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_PMEM, "PATCH", "/pmem/{id}", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_LOGGER, "PUT", "/logger", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_GET_MACHINE_CONFIG, "GET", "/machine-config", ROUTE_ANY, ROUTE_BODY_NONE},
    {ROUTE_PUT_MACHINE_CONFIG, "PUT", "/machine-config", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_MACHINE_CONFIG, "PATCH", "/machine-config", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_METRICS, "PUT", "/metrics", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_MMDS, "PUT", "/mmds", ROUTE_ANY, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_MMDS, "PATCH", "/mmds", ROUTE_ANY, ROUTE_BODY_REQUIRED},
    {ROUTE_GET_MMDS, "GET", "/mmds", ROUTE_ANY, ROUTE_BODY_NONE},
    {ROUTE_PUT_MMDS_CONFIG, "PUT", "/mmds/config", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_ENTROPY, "PUT", "/entropy", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_SERIAL, "PUT", "/serial", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_HOTPLUG_MEMORY, "PUT", "/hotplug/memory", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_HOTPLUG_MEMORY, "PATCH", "/hotplug/memory", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_GET_HOTPLUG_MEMORY, "GET", "/hotplug/memory", ROUTE_POST, ROUTE_BODY_NONE},
    {ROUTE_PUT_NET, "PUT", "/network-interfaces/{id}", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_PATCH_NET, "PATCH", "/network-interfaces/{id}", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_SNAPSHOT_CREATE, "PUT", "/snapshot/create", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_PUT_SNAPSHOT_LOAD, "PUT", "/snapshot/load", ROUTE_PRE, ROUTE_BODY_REQUIRED},
    {ROUTE_GET_VERSION, "GET", "/version", ROUTE_ANY, ROUTE_BODY_NONE},
    {ROUTE_PATCH_VM, "PATCH", "/vm", ROUTE_POST, ROUTE_BODY_REQUIRED},
    {ROUTE_GET_VM_CONFIG, "GET", "/vm/config", ROUTE_ANY, ROUTE_BODY_NONE},
    {ROUTE_PUT_VSOCK, "PUT", "/vsock", ROUTE_PRE, ROUTE_BODY_REQUIRED},
};

const struct route *routes_table(void)
{
	return route_table;
}

static int route_fail(struct route_error *err, int ret, const char *msg)
{
	err->status = 400;
	err->route = ROUTE_COUNT;
	err->fails = false;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	return ret;
}

/* Firecracker names only the first path segment: "PUT vm". */
static int route_fail_path(struct route_error *err, int ret, const char *method, const char *p,
			   size_t plen)
{
	const char *slash = memchr(p, '/', plen);
	int seg = (int)(slash ? (size_t)(slash - p) : plen);

	if (seg > 128)
		seg = 128;
	err->status = 400;
	err->route = ROUTE_COUNT;
	err->fails = false;
	snprintf(err->msg, sizeof(err->msg), "Invalid request method and/or path: %.16s %.*s.",
		 method, seg, p);
	return ret;
}

/* Match the normalized path p[0..plen) against pat (without its leading
 * '/'). On a match, *id and *idlen give the {id} segment; a missing trailing id
 * ("drives" for "drives/{id}") matches with an empty id, which the caller
 * refuses as Firecracker does ("The ID cannot be empty."). */
static bool route_path_match(const char *pat, const char *p, size_t plen, const char **id,
			     size_t *idlen)
{
	size_t i = 0;

	*id = NULL;
	*idlen = 0;
	while (*pat) {
		if (strncmp(pat, "{id}", 4) == 0) {
			size_t start = i;

			while (i < plen && p[i] != '/')
				i++;
			*id = p + start;
			*idlen = i - start;
			pat += 4;
			continue;
		}
		if (i == plen && strcmp(pat, "/{id}") == 0) {
			*id = p + i;
			return true;
		}
		if (i == plen)
			return false;
		if (*pat != p[i])
			return false;
		pat++;
		i++;
	}
	return i == plen;
}

static int route_copy_id(struct route_match *out, const char *id, size_t n, struct route_error *err)
{
	size_t i;

	if (n == 0)
		return route_fail(err, -EINVAL, "The ID cannot be empty.");
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return route_fail(err, -EINVAL,
					  "API Resource IDs can only contain alphanumeric "
					  "characters and underscores.");
	}
	if (n > ROUTE_ID_MAX)
		return route_fail(err, -EINVAL,
				  "API Resource IDs can be at most 64 characters long.");
	memcpy(out->id, id, n);
	out->id[n] = '\0';
	return 0;
}

int routes_match(const char *method, const char *path, struct route_match *out,
		 struct route_error *err)
{
	size_t plen, i;
	bool path_known = false;

	memset(out, 0, sizeof(*out));
	/* Normalize as Firecracker does: leading '/'s trimmed, one trailing '/'
	 * ignored. */
	while (*path == '/')
		path++;
	plen = strlen(path);
	if (plen > 0 && path[plen - 1] == '/')
		plen--;
	for (i = 0; i < ROUTE_COUNT; i++) {
		const struct route *r = &route_table[i];
		const char *id;
		size_t idlen;

		if (!route_path_match(r->pattern + 1, path, plen, &id, &idlen))
			continue;
		path_known = true;
		if (strcmp(r->method, method) != 0)
			continue;
		out->route = r;
		if (id && route_copy_id(out, id, idlen, err) < 0) {
			/* Firecracker's parser has picked the route by now: it
			 * counts the request, and an empty id as a failure. */
			err->route = r->id;
			err->fails = idlen == 0;
			return -EINVAL;
		}
		return 0;
	}
	return route_fail_path(err, path_known ? -ENOTSUP : -ENOENT, method, path, plen);
}

int routes_resolve(const char *method, const char *path, size_t body_len, struct route_match *out,
		   struct route_error *err)
{
	bool put = strcmp(method, "PUT") == 0, patch = strcmp(method, "PATCH") == 0;
	int ret;

	if (strcmp(method, "GET") == 0 && body_len > 0)
		return route_fail(err, -EINVAL, "GET request cannot have a body.");
	ret = routes_match(method, path, out, err);
	/* Firecracker refuses any body-less PUT/PATCH, known path or not,
	 * unless the route's body is optional. */
	if ((put || patch) && body_len == 0 &&
	    !(out->route && out->route->body != ROUTE_BODY_REQUIRED))
		return route_fail(err, -EINVAL,
				  put ? "Empty PUT request." : "Empty PATCH request.");
	return ret;
}

int routes_check_state(enum route_id id, enum route_vm_state st, struct route_error *err)
{
	if ((unsigned)id >= ROUTE_COUNT || (unsigned)st > ROUTE_VM_PAUSED)
		return route_fail(err, -EINVAL, "Invalid request method and/or path.");
	if (route_table[id].states & (1u << st))
		return 0;
	route_fail(err, -EPERM,
		   st == ROUTE_VM_NOT_STARTED ? ROUTE_MSG_PRE_BOOT : ROUTE_MSG_POST_BOOT);
	err->route = id;
	return -EPERM;
}
