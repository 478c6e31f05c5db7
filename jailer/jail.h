/* flint-jailer: the pure parts. Command-line parsing and validation, path
 * building and the parsers for /proc/mounts, /proc/self/cgroup and
 * /proc/misc. Nothing here touches the file system or the process state, so
 * every function is unit-tested on plain strings. Single-threaded program:
 * no function here keeps state between calls. */
#ifndef FLINT_JAILER_JAIL_H
#define FLINT_JAILER_JAIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JAIL_ID_MAX	    64 /* Firecracker's limit on --id */
#define JAIL_MAX_CGROUPS    32 /* --cgroup options */
#define JAIL_MAX_HIER	    12 /* distinct cgroup hierarchies (v1 mounts) */
#define JAIL_MAX_CG_DEPTH   8  /* components of --parent-cgroup */
#define JAIL_CG_FILE_MAX    64
#define JAIL_CG_VALUE_MAX   256
#define JAIL_ERR_MAX	    768
#define JAIL_DEFAULT_BASE   "/srv/jailer"
#define JAIL_DEFAULT_NOFILE 2048 /* Firecracker's default RLIMIT_NOFILE */
/* setresuid()/setresgid() read (uid_t)-1 as "leave unchanged". */
#define JAIL_ID_NUM_MAX 4294967294u

/* One formatted error message naming the failed step. */
struct jail_err {
	char msg[JAIL_ERR_MAX];
};

/* Format the message; when errnum != 0 append ": strerror(errnum)".
 * Returns -errnum, or -EINVAL when errnum is 0 (a validation error). */
int jail_fail(struct jail_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --cgroup FILE=VALUE. controller is FILE up to its first '.'. */
struct jail_cgroup_arg {
	char file[JAIL_CG_FILE_MAX];
	char controller[JAIL_CG_FILE_MAX];
	char value[JAIL_CG_VALUE_MAX];
};

/* The command line after parsing. Strings point into argv. */
struct jail_config {
	const char *id;
	const char *exec_file; /* absolute */
	uint32_t uid;
	uint32_t gid;
	const char *base_dir;	   /* absolute; default JAIL_DEFAULT_BASE */
	const char *netns;	   /* NULL: stay in the current netns */
	const char *parent_cgroup; /* NULL: the exec file's name */
	bool daemonize;
	bool new_pid_ns;
	int cgroup_version; /* 1 or 2 */
	struct jail_cgroup_arg cgroups[JAIL_MAX_CGROUPS];
	unsigned n_cgroups;
	bool has_fsize;
	uint64_t fsize;
	uint64_t nofile;	 /* default JAIL_DEFAULT_NOFILE */
	char *const *extra_args; /* after "--", passed to the exec file */
	int n_extra;
	bool help;
	bool version;
};

/* Parse argv (argv[0] is the program). Syntax checks only; the file system is
 * looked at later by jail_validate(). 0 or -EINVAL with err set. When --help
 * or --version is given the other options are not required. */
int jail_parse_args(int argc, char *const argv[], struct jail_config *cfg, struct jail_err *err);
/* Letters, digits and '-', 1..JAIL_ID_MAX characters. */
int jail_check_id(const char *id, struct jail_err *err);
/* Decimal digits only, 0..JAIL_ID_NUM_MAX. 0 or -EINVAL. */
int jail_parse_id_num(const char *s, uint32_t *out);
/* Decimal digits only, fits in 64 bits. 0 or -EINVAL. */
int jail_parse_u64(const char *s, uint64_t *out);
/* FILE=VALUE: FILE is "<controller>.<name>" of [A-Za-z0-9_.-], no "..", no
 * '/'; VALUE is non-empty printable text. */
int jail_parse_cgroup_arg(const char *spec, struct jail_cgroup_arg *out, struct jail_err *err);
/* fsize=N or no-file=N, stored in cfg. */
int jail_parse_rlimit(const char *spec, struct jail_config *cfg, struct jail_err *err);
/* A relative path of at most JAIL_MAX_CG_DEPTH non-empty components, none of
 * them "." or "..", no control characters. */
int jail_check_rel_path(const char *path, struct jail_err *err);
/* The --help text. */
const char *jail_usage(void);

/* out = a "/" b. 0 or -ENAMETOOLONG. */
int jail_path_join(char *out, size_t len, const char *a, const char *b);
/* The last component of an absolute path ("/usr/bin/flint" -> "flint"); NULL
 * when there is none ("/", "/usr/"). */
const char *jail_path_base(const char *path);

/* Find a cgroup mount in /proc/mounts text: controller NULL means the cgroup2
 * mount, otherwise the v1 mount whose options name that controller. Octal
 * escapes (\040) in the mount point are decoded. 0, -ENOENT or -ENAMETOOLONG. */
int jail_mounts_find(const char *mounts, const char *controller, char *out, size_t len);
/* Find this process's cgroup in /proc/self/cgroup text: controller NULL means
 * the v2 line "0::/path". 0, -ENOENT or -ENAMETOOLONG. */
int jail_proc_cgroup_find(const char *text, const char *controller, char *out, size_t len);
/* The minor number of a misc device in /proc/misc text, or -ENOENT. */
int jail_misc_minor(const char *text, const char *name);

#endif
