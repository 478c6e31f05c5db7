/* Command-line parsing for flint-jailer: Firecracker's jailer flags. Only
 * syntax is checked here; jail_validate() looks at the file system. */
#include "jailer/jail.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int jail_fail(struct jail_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (errnum) {
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	}
	return errnum ? -errnum : -EINVAL;
}

const char *jail_usage(void)
{
	return "Usage: flint-jailer --id <id> --exec-file <path> --uid <uid> --gid <gid>\n"
	       "       [--chroot-base-dir <dir>] [--netns <path>] [--daemonize] [--new-pid-ns]\n"
	       "       [--cgroup-version 1|2] [--cgroup <file>=<value>]... [--parent-cgroup "
	       "<path>]\n"
	       "       [--resource-limit fsize=<n>|no-file=<n>]... [-- <args for the exec file>]\n"
	       "\n"
	       "  --id               jail id: letters, digits and '-', at most 64 characters\n"
	       "  --exec-file        absolute path of the program to jail and exec\n"
	       "  --uid, --gid       numeric ids the program runs as\n"
	       "  --chroot-base-dir  where jails are built (default /srv/jailer); the jail is\n"
	       "                     <dir>/<exec file name>/<id>/root\n"
	       "  --netns            network namespace to join (e.g. /var/run/netns/<name>)\n"
	       "  --daemonize        detach: new session, standard streams on /dev/null\n"
	       "  --new-pid-ns       run the program as pid 1 of a new pid namespace\n"
	       "  --cgroup-version   cgroup hierarchy to use (default 1)\n"
	       "  --cgroup           write <value> to the cgroup file <file> (e.g. "
	       "cpuset.cpus=0);\n"
	       "                     repeatable\n"
	       "  --parent-cgroup    cgroup under which <id> is created (default: exec file name)\n"
	       "  --resource-limit   fsize=<bytes> or no-file=<n> (default no-file=2048); "
	       "repeatable\n"
	       "  --help, --version\n"
	       "\n"
	       "The program is run as /<exec file name> --id <id> --start-time-us <us>\n"
	       "--start-time-cpu-us <us> --parent-cpu-time-us <us> followed by the arguments\n"
	       "given after \"--\".\n";
}

int jail_check_id(const char *id, struct jail_err *err)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAIL_ID_MAX)
		return jail_fail(err, 0, "invalid --id: must be 1 to %d characters long",
				 JAIL_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (!isascii(c) || (!isalnum(c) && c != '-'))
			return jail_fail(
			    err, 0, "invalid --id: character %zu is not a letter, digit or '-'",
			    i + 1);
	}
	return 0;
}

int jail_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -EINVAL;
	}
	*out = v;
	return 0;
}

int jail_parse_id_num(const char *s, uint32_t *out)
{
	uint64_t v;

	if (jail_parse_u64(s, &v) || v > JAIL_ID_NUM_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static bool cg_file_char_ok(char c)
{
	return isascii((unsigned char)c) &&
	       (isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-');
}

static int cg_check_file(const char *file, size_t len, const char *spec, struct jail_err *err)
{
	const char *dot = memchr(file, '.', len);

	if (len == 0 || len >= JAIL_CG_FILE_MAX)
		return jail_fail(err, 0, "invalid --cgroup %s: bad file name length", spec);
	for (size_t i = 0; i < len; i++)
		if (!cg_file_char_ok(file[i]))
			return jail_fail(err, 0, "invalid --cgroup %s: bad character in file name",
					 spec);
	/* The file must look like "<controller>.<name>": a '/' could leave the
	 * cgroup directory, ".." could name its parent. */
	if (!dot || dot == file || dot == file + len - 1 || memmem(file, len, "..", 2))
		return jail_fail(err, 0, "invalid --cgroup %s: file must be <controller>.<name>",
				 spec);
	return 0;
}

int jail_parse_cgroup_arg(const char *spec, struct jail_cgroup_arg *out, struct jail_err *err)
{
	const char *eq = strchr(spec, '=');
	size_t flen, vlen;
	int rc;

	if (!eq)
		return jail_fail(err, 0, "invalid --cgroup %s: expected <file>=<value>", spec);
	flen = (size_t)(eq - spec);
	rc = cg_check_file(spec, flen, spec, err);
	if (rc)
		return rc;
	vlen = strlen(eq + 1);
	if (vlen == 0 || vlen >= JAIL_CG_VALUE_MAX)
		return jail_fail(err, 0, "invalid --cgroup %s: value must be 1 to %d characters",
				 spec, JAIL_CG_VALUE_MAX - 1);
	for (size_t i = 0; i < vlen; i++)
		if (iscntrl((unsigned char)eq[1 + i]))
			return jail_fail(err, 0, "invalid --cgroup %s: control character in value",
					 spec);
	memcpy(out->file, spec, flen);
	out->file[flen] = '\0';
	memcpy(out->controller, spec, flen);
	out->controller[strcspn(out->controller, ".")] = '\0';
	memcpy(out->value, eq + 1, vlen + 1);
	return 0;
}

int jail_parse_rlimit(const char *spec, struct jail_config *cfg, struct jail_err *err)
{
	const char *eq = strchr(spec, '=');
	uint64_t v;

	if (!eq || jail_parse_u64(eq + 1, &v))
		return jail_fail(
		    err, 0, "invalid --resource-limit %s: expected fsize=<n> or no-file=<n>", spec);
	if ((size_t)(eq - spec) == 5 && !strncmp(spec, "fsize", 5)) {
		cfg->has_fsize = true;
		cfg->fsize = v;
	} else if ((size_t)(eq - spec) == 7 && !strncmp(spec, "no-file", 7)) {
		cfg->nofile = v;
	} else {
		return jail_fail(err, 0, "invalid --resource-limit %s: unknown resource", spec);
	}
	return 0;
}

int jail_check_rel_path(const char *path, struct jail_err *err)
{
	const char *p = path;
	unsigned depth = 0;

	if (!*path || *path == '/')
		return jail_fail(err, 0, "invalid --parent-cgroup %s: must be a relative path",
				 path);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return jail_fail(err, 0,
					 "invalid --parent-cgroup %s: empty, '.' or '..' component",
					 path);
		for (size_t i = 0; i < n; i++)
			if (iscntrl((unsigned char)p[i]))
				return jail_fail(err, 0,
						 "invalid --parent-cgroup: control character");
		if (++depth > JAIL_MAX_CG_DEPTH)
			return jail_fail(err, 0, "invalid --parent-cgroup %s: more than %d levels",
					 path, JAIL_MAX_CG_DEPTH);
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Options taking a value and where to store it when it is a plain string. */
enum opt {
	OPT_ID,
	OPT_EXEC,
	OPT_UID,
	OPT_GID,
	OPT_BASE,
	OPT_NETNS,
	OPT_CGVER,
	OPT_CGROUP,
	OPT_PARENT,
	OPT_RLIMIT,
	OPT_DAEMONIZE,
	OPT_NEWPID,
	OPT_HELP,
	OPT_VERSION,
	OPT_COUNT,
};

static const struct {
	const char *name;
	bool has_value;
	bool repeatable;
} jail_opts[OPT_COUNT] = {
    [OPT_ID] = {"id", true, false},
    [OPT_EXEC] = {"exec-file", true, false},
    [OPT_UID] = {"uid", true, false},
    [OPT_GID] = {"gid", true, false},
    [OPT_BASE] = {"chroot-base-dir", true, false},
    [OPT_NETNS] = {"netns", true, false},
    [OPT_CGVER] = {"cgroup-version", true, false},
    [OPT_CGROUP] = {"cgroup", true, true},
    [OPT_PARENT] = {"parent-cgroup", true, false},
    [OPT_RLIMIT] = {"resource-limit", true, true},
    [OPT_DAEMONIZE] = {"daemonize", false, false},
    [OPT_NEWPID] = {"new-pid-ns", false, false},
    [OPT_HELP] = {"help", false, false},
    [OPT_VERSION] = {"version", false, false},
};

static int opt_lookup(const char *name, size_t len)
{
	for (int i = 0; i < OPT_COUNT; i++)
		if (strlen(jail_opts[i].name) == len && !strncmp(jail_opts[i].name, name, len))
			return i;
	return -1;
}

static int store_num(const char *flag, const char *val, uint32_t *out, struct jail_err *err)
{
	if (jail_parse_id_num(val, out))
		return jail_fail(err, 0, "invalid --%s %s: expected a number from 0 to %u", flag,
				 val, JAIL_ID_NUM_MAX);
	return 0;
}

static int store_cgroup(struct jail_config *cfg, const char *val, struct jail_err *err)
{
	if (cfg->n_cgroups >= JAIL_MAX_CGROUPS)
		return jail_fail(err, 0, "too many --cgroup options (at most %d)",
				 JAIL_MAX_CGROUPS);
	return jail_parse_cgroup_arg(val, &cfg->cgroups[cfg->n_cgroups++], err);
}

static int store_abs(const char *flag, const char *val, const char **out, struct jail_err *err)
{
	if (val[0] != '/' || strlen(val) >= PATH_MAX)
		return jail_fail(err, 0, "invalid --%s %s: must be an absolute path", flag, val);
	*out = val;
	return 0;
}

static int store_opt(struct jail_config *cfg, int o, const char *val, struct jail_err *err)
{
	switch (o) {
	case OPT_ID:
		cfg->id = val;
		return jail_check_id(val, err);
	case OPT_EXEC:
		return store_abs("exec-file", val, &cfg->exec_file, err);
	case OPT_UID:
		return store_num("uid", val, &cfg->uid, err);
	case OPT_GID:
		return store_num("gid", val, &cfg->gid, err);
	case OPT_BASE:
		return store_abs("chroot-base-dir", val, &cfg->base_dir, err);
	case OPT_NETNS:
		return store_abs("netns", val, &cfg->netns, err);
	case OPT_CGVER:
		if (strcmp(val, "1") != 0 && strcmp(val, "2") != 0)
			return jail_fail(err, 0, "invalid --cgroup-version %s: expected 1 or 2",
					 val);
		cfg->cgroup_version = val[0] - '0';
		return 0;
	case OPT_CGROUP:
		return store_cgroup(cfg, val, err);
	case OPT_PARENT:
		cfg->parent_cgroup = val;
		return jail_check_rel_path(val, err);
	case OPT_RLIMIT:
		return jail_parse_rlimit(val, cfg, err);
	default:
		return jail_fail(err, 0, "option takes no value");
	}
}

static void store_flag(struct jail_config *cfg, int o)
{
	switch (o) {
	case OPT_DAEMONIZE:
		cfg->daemonize = true;
		break;
	case OPT_NEWPID:
		cfg->new_pid_ns = true;
		break;
	case OPT_HELP:
		cfg->help = true;
		break;
	default:
		cfg->version = true;
		break;
	}
}

static void config_defaults(struct jail_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->base_dir = JAIL_DEFAULT_BASE;
	cfg->cgroup_version = 1;
	cfg->nofile = JAIL_DEFAULT_NOFILE;
}

static int check_required(const struct jail_config *cfg, const bool *seen, struct jail_err *err)
{
	static const int required[] = {OPT_ID, OPT_EXEC, OPT_UID, OPT_GID};

	if (cfg->help || cfg->version)
		return 0;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!seen[required[i]])
			return jail_fail(err, 0, "missing required option --%s",
					 jail_opts[required[i]].name);
	return 0;
}

/* One "--name value", "--name=value" or "--flag" at argv[*i]. */
static int parse_one(int argc, char *const argv[], int *i, struct jail_config *cfg, bool *seen,
		     struct jail_err *err)
{
	const char *arg = argv[*i];
	const char *name, *eq, *val = NULL;
	int o;

	/* Check before stepping over "--": arg may be shorter than that. */
	if (strncmp(arg, "--", 2) != 0 || !arg[2])
		return jail_fail(err, 0, "unexpected argument '%s' (see --help)", arg);
	name = arg + 2;
	eq = strchr(name, '=');
	o = opt_lookup(name, eq ? (size_t)(eq - name) : strlen(name));
	if (o < 0)
		return jail_fail(err, 0, "unknown option '%s' (see --help)", arg);
	if (seen[o] && !jail_opts[o].repeatable)
		return jail_fail(err, 0, "option --%s given more than once", jail_opts[o].name);
	seen[o] = true;
	if (!jail_opts[o].has_value) {
		if (eq)
			return jail_fail(err, 0, "option --%s takes no value", jail_opts[o].name);
		store_flag(cfg, o);
		return 0;
	}
	if (eq) {
		val = eq + 1;
	} else {
		if (*i + 1 >= argc)
			return jail_fail(err, 0, "option --%s needs a value", jail_opts[o].name);
		val = argv[++*i];
	}
	return store_opt(cfg, o, val, err);
}

int jail_parse_args(int argc, char *const argv[], struct jail_config *cfg, struct jail_err *err)
{
	bool seen[OPT_COUNT] = {false};
	int i, rc;

	config_defaults(cfg);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			cfg->extra_args = &argv[i + 1];
			cfg->n_extra = argc - i - 1;
			break;
		}
		rc = parse_one(argc, argv, &i, cfg, seen, err);
		if (rc)
			return rc;
	}
	return check_required(cfg, seen, err);
}
