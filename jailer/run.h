/* flint-jailer: the steps that change the system, in the order jail_run()
 * calls them (STYLE.md item 14):
 *
 *   validate -> jail folder + copy exec -> cgroups (+ v2 device program)
 *   -> netns -> mount ns + pivot_root -> device nodes -> rlimits
 *   -> drop uid/gid and capabilities -> daemonize -> close fds -> exec
 *
 * Every step records what it creates in a struct jail_undo so that a failure
 * at any later step removes it again. With --daemonize or --new-pid-ns the
 * steps from cgroups on run in a child; the undo log then lives in a shared
 * mapping and the parent, which stays root in the host namespaces, cleans up
 * when the child reports a failure. All functions return 0 or -errno with
 * ctx->err naming the step. Single-threaded. */
#ifndef FLINT_JAILER_RUN_H
#define FLINT_JAILER_RUN_H

#include "jailer/jail.h"

#include <linux/bpf.h>

#define JAIL_UNDO_MAX 128

enum jail_undo_kind {
	JAIL_UNDO_TREE,	   /* remove a directory tree we created */
	JAIL_UNDO_RMDIR,   /* rmdir a directory we created, if empty */
	JAIL_UNDO_FILE,	   /* unlink a file or node we created */
	JAIL_UNDO_CGROUP,  /* rmdir our cgroup, waiting for its tasks to exit */
	JAIL_UNDO_CGLEAVE, /* move this process back into the cgroup at path */
};

struct jail_undo_entry {
	enum jail_undo_kind kind;
	char path[PATH_MAX];
};

struct jail_undo {
	unsigned n;
	struct jail_undo_entry e[JAIL_UNDO_MAX];
};

/* One cgroup hierarchy the process joins. */
struct jail_hier {
	char mount[PATH_MAX]; /* where the hierarchy is mounted */
	char home[PATH_MAX];  /* our cgroup before joining, for the way back */
	char dir[PATH_MAX];   /* <mount>/<parent>/<id> */
	bool cpuset;	      /* v1 cpuset: cpus and mems must be set first */
};

/* Everything jail_validate() resolved from the configuration. */
struct jail_plan {
	char exec_path[PATH_MAX]; /* realpath of --exec-file */
	char exec_name[NAME_MAX + 1];
	char exec_dir[PATH_MAX]; /* <base>/<exec name> */
	char id_dir[PATH_MAX];	 /* <exec_dir>/<id> */
	char root_dir[PATH_MAX]; /* <id_dir>/root */
	char parent_cgroup[PATH_MAX];
	struct jail_hier hier[JAIL_MAX_HIER];
	unsigned n_hier;
	unsigned char cg_hier[JAIL_MAX_CGROUPS]; /* --cgroup i goes to hier[cg_hier[i]] */
	int uffd_minor;				 /* /dev/userfaultfd, -1 when absent */
	int dev_hier;	 /* v1: index of the devices hierarchy, -1 when not mounted */
	bool root_fresh; /* we created root: its removal undoes all inside */
};

struct jail_ctx {
	const struct jail_config *cfg;
	struct jail_plan *plan;
	struct jail_undo *undo; /* MAP_SHARED: written by a child, read by the parent */
	int status_fd;		/* child -> parent failure report, -1 without a child */
	int orig_mnt_fd;	/* the host mount namespace, to clean up from */
	int devnull_fd;		/* for --daemonize, opened before pivot_root */
	bool in_jail;		/* after unshare(CLONE_NEWNS) */
	bool dropped;		/* after setresuid(): no clean-up possible */
	uint64_t start_us;	/* CLOCK_MONOTONIC at start */
	uint64_t start_cpu_us;	/* CLOCK_PROCESS_CPUTIME_ID at start */
	uint64_t parent_cpu_us; /* CPU time of the parent before the child forked */
	const char *fail_step;	/* test hook: the step to fail, or NULL */
	struct jail_err err;
};

/* Parse nothing, create nothing: check the exec file, base directory, netns,
 * cgroup mounts and controllers, and that neither the jail folder nor the
 * cgroups exist yet; fill plan. */
int jail_validate(const struct jail_config *cfg, struct jail_plan *plan, struct jail_err *err);
/* The cgroup part of jail_validate(), given the text of /proc/mounts and
 * /proc/self/cgroup: find the hierarchies the --cgroup files and device
 * control need and fill plan->hier, cg_hier and dev_hier (plan->parent_cgroup
 * set by the caller). Creates nothing; it only probes the paths it builds
 * (lstat, access) and, for v2, reads <mount>/cgroup.controllers. Split out
 * so that the parsing can be fuzzed on made-up /proc text. */
int jail_plan_cgroups(const struct jail_config *cfg, struct jail_plan *plan, const char *mounts,
		      const char *self, struct jail_err *err);

/* Create <base>/<exec name>/<id>/root and copy the exec file into it (a
 * copy, never a hard link: see fs.c); check that uid:gid may execute it. */
int jail_fs_create(struct jail_ctx *ctx);
/* New mount namespace, jail root bound on itself, pivot_root, old root gone. */
int jail_fs_enter(struct jail_ctx *ctx);
/* Inside the jail: /dev, /dev/net, /run and the device nodes, owned by
 * uid:gid. */
int jail_fs_make_devices(struct jail_ctx *ctx);
/* Record a file or directory created inside the jail root (in_jail: the path
 * as seen from inside) unless the root itself is ours and goes as a whole. */
int jail_fs_note(struct jail_ctx *ctx, enum jail_undo_kind kind, const char *in_jail);
/* Write pid to <root>/<exec name>.pid (host path, O_EXCL). */
int jail_fs_write_pid(struct jail_ctx *ctx, const char *root, pid_t pid);

/* Create, configure and join the cgroups; on v2 attach the device program. */
int jail_cg_setup(struct jail_ctx *ctx);

/* Build the BPF_PROG_TYPE_CGROUP_DEVICE program allowing only flint's devices
 * (uffd_minor < 0: no userfaultfd). Returns the instruction count, or
 * -ENOSPC when max is too small. */
int jail_devprog_build(struct bpf_insn *out, size_t max, int uffd_minor);

#define JAIL_DEV_RULE_MAX 32
/* The same allowlist for the cgroup v1 devices controller: one
 * devices.allow line ("c 10:232 rwm") per device. Returns the count, or
 * -ENOSPC when max is too small. */
int jail_dev_v1_rules(char (*out)[JAIL_DEV_RULE_MAX], size_t max, int uffd_minor);

/* RLIMIT_NOFILE (and RLIMIT_FSIZE when given), soft = hard. */
int jail_set_rlimits(struct jail_ctx *ctx);
/* setgroups(0), setresgid, setresuid; empty bounding, ambient and all other
 * capability sets; no_new_privs; then check with capget that nothing is left. */
int jail_drop_privs(struct jail_ctx *ctx);
/* Close every fd above 2 except keep (-1: none). */
int jail_close_fds(struct jail_ctx *ctx, int keep);

/* Record an undo entry. -ENOSPC when the log is full. */
int jail_undo_add(struct jail_undo *undo, enum jail_undo_kind kind, const char *path);
/* Undo everything, newest first. Never fails; problems go to stderr. */
void jail_undo_run(struct jail_undo *undo);

/* Read a small file (at most len - 1 bytes) as a string. Bytes read or -errno. */
ssize_t jail_read_file(const char *path, char *buf, size_t len);
/* Write a string to an existing file (cgroup files). 0 or -errno. */
int jail_write_file(const char *path, const char *text);

/* The whole sequence; returns the exit status for main on failure and does
 * not return on success (the exec file runs). */
int jail_run(const struct jail_config *cfg);

#endif
