/* cgroups: <mount>/<parent>/<id> in every hierarchy a --cgroup option
 * names and in the devices hierarchy (v1, with the device allowlist), or in
 * the unified hierarchy (v2, with the device program). */
#include "jailer/run.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cg_read_line(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;

	if (jail_path_join(path, sizeof(path), dir, file))
		return -ENAMETOOLONG;
	n = jail_read_file(path, buf, len);
	if (n < 0)
		return (int)n;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* A new v1 cpuset cgroup starts with empty cpus and mems and accepts no task
 * until both are set: copy the parent's. */
static int cg_inherit_cpuset(struct jail_ctx *ctx, const char *parent, const char *dir)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	char val[4096], path[PATH_MAX];
	int rc;

	for (size_t i = 0; i < 2; i++) {
		rc = cg_read_line(dir, files[i], val, sizeof(val));
		if (rc)
			return jail_fail(&ctx->err, -rc, "cgroup: cannot read %s/%s", dir,
					 files[i]);
		if (val[0])
			continue;
		rc = cg_read_line(parent, files[i], val, sizeof(val));
		if (!rc && jail_path_join(path, sizeof(path), dir, files[i]))
			rc = -ENAMETOOLONG;
		if (!rc)
			rc = jail_write_file(path, val);
		if (rc)
			return jail_fail(&ctx->err, -rc, "cgroup: cannot inherit %s from %s",
					 files[i], parent);
	}
	return 0;
}

/* v2: a controller's files appear in a cgroup only when its parent lists the
 * controller in cgroup.subtree_control. */
static int cg_enable_controllers(struct jail_ctx *ctx, const char *dir)
{
	const struct jail_config *cfg = ctx->cfg;
	char path[PATH_MAX], word[JAIL_CG_FILE_MAX + 1];
	int rc;

	if (jail_path_join(path, sizeof(path), dir, "cgroup.subtree_control"))
		return jail_fail(&ctx->err, ENAMETOOLONG, "cgroup: %s", dir);
	for (unsigned i = 0; i < cfg->n_cgroups; i++) {
		if (!strcmp(cfg->cgroups[i].controller, "cgroup"))
			continue;
		snprintf(word, sizeof(word), "+%s", cfg->cgroups[i].controller);
		rc = jail_write_file(path, word);
		if (rc)
			return jail_fail(&ctx->err, -rc, "cgroup: cannot enable %s in %s", word + 1,
					 path);
	}
	return 0;
}

/* Make one level below parent; remember it for the undo log if it is new. */
static int cg_mkdir(struct jail_ctx *ctx, const struct jail_hier *h, const char *parent,
		    const char *dir, bool leaf)
{
	bool v1 = ctx->cfg->cgroup_version == 1;
	int rc;

	if (!v1 && (rc = cg_enable_controllers(ctx, parent)))
		return rc;
	if (mkdir(dir, 0755)) {
		if (errno != EEXIST || leaf)
			return jail_fail(&ctx->err, errno, "cgroup: cannot create %s", dir);
	} else if (jail_undo_add(ctx->undo, leaf ? JAIL_UNDO_CGROUP : JAIL_UNDO_RMDIR, dir)) {
		return jail_fail(&ctx->err, ENOSPC, "cgroup: undo log");
	}
	if (v1 && h->cpuset)
		return cg_inherit_cpuset(ctx, parent, dir);
	return 0;
}

/* mount -> mount/a -> mount/a/b (the parent cgroup) -> .../<id>. */
static int cg_create(struct jail_ctx *ctx, const struct jail_hier *h)
{
	const char *p = ctx->plan->parent_cgroup;
	char prev[PATH_MAX], cur[PATH_MAX];
	int rc;

	snprintf(cur, sizeof(cur), "%s", h->mount);
	while (*p) {
		size_t n = strcspn(p, "/");
		char comp[NAME_MAX + 1];

		if (n > NAME_MAX)
			return jail_fail(&ctx->err, ENAMETOOLONG, "cgroup: %s", p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		memcpy(prev, cur, sizeof(prev));
		if (jail_path_join(cur, sizeof(cur), prev, comp))
			return jail_fail(&ctx->err, ENAMETOOLONG, "cgroup: %s", prev);
		rc = cg_mkdir(ctx, h, prev, cur, false);
		if (rc)
			return rc;
		p += n + (p[n] == '/');
	}
	return cg_mkdir(ctx, h, cur, h->dir, true);
}

static int cg_write_values(struct jail_ctx *ctx, unsigned hi)
{
	const struct jail_config *cfg = ctx->cfg;
	const struct jail_hier *h = &ctx->plan->hier[hi];
	char path[PATH_MAX];
	int rc;

	for (unsigned i = 0; i < cfg->n_cgroups; i++) {
		const struct jail_cgroup_arg *a = &cfg->cgroups[i];

		if (ctx->plan->cg_hier[i] != hi)
			continue;
		if (jail_path_join(path, sizeof(path), h->dir, a->file))
			return jail_fail(&ctx->err, ENAMETOOLONG, "cgroup: %s", a->file);
		rc = jail_write_file(path, a->value);
		if (rc == -ENOENT)
			return jail_fail(&ctx->err, 0, "cgroup: no file %s in %s", a->file, h->dir);
		if (rc)
			return jail_fail(&ctx->err, -rc, "cgroup: cannot write %s=%s", a->file,
					 a->value);
	}
	return 0;
}

/* v1: deny every device, then allow flint's (devprog.c's list). Written
 * before the user's --cgroup devices.* values, so those can still widen it,
 * and before the process moves in. An allow the parent cgroup does not have
 * itself is refused with EPERM: that device stays denied, which is what the
 * parent already says, so it is no error. */
static int cg_v1_devices(struct jail_ctx *ctx, const struct jail_hier *h)
{
	char rules[16][JAIL_DEV_RULE_MAX], deny[PATH_MAX], allow[PATH_MAX];
	int n = jail_dev_v1_rules(rules, 16, ctx->plan->uffd_minor), rc;

	if (n < 0)
		return jail_fail(&ctx->err, -n, "cgroup: device list");
	if (jail_path_join(deny, sizeof(deny), h->dir, "devices.deny") ||
	    jail_path_join(allow, sizeof(allow), h->dir, "devices.allow"))
		return jail_fail(&ctx->err, ENAMETOOLONG, "cgroup: %s", h->dir);
	rc = jail_write_file(deny, "a");
	if (rc)
		return jail_fail(&ctx->err, -rc, "cgroup: cannot write %s", deny);
	for (int i = 0; i < n; i++) {
		rc = jail_write_file(allow, rules[i]);
		if (rc && rc != -EPERM)
			return jail_fail(&ctx->err, -rc, "cgroup: cannot allow %s in %s", rules[i],
					 allow);
	}
	return 0;
}

static int cg_load_devprog(struct jail_ctx *ctx, int cg_fd)
{
	struct bpf_insn prog[64];
	int n, fd, rc;

	n = jail_devprog_build(prog, sizeof(prog) / sizeof(prog[0]), ctx->plan->uffd_minor);
	if (n < 0)
		return jail_fail(&ctx->err, -n, "cgroup: device program");
	fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, "flint_devices", "GPL", prog, (size_t)n,
			   NULL);
	if (fd < 0)
		return jail_fail(&ctx->err, -fd, "cgroup: cannot load the device program");
	/* ALLOW_MULTI: programs of ancestor cgroups (systemd's) still run and
	 * all must allow; the cgroup keeps a reference, so fd can go. */
	rc = bpf_prog_attach(fd, cg_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
	if (rc < 0)
		rc = jail_fail(&ctx->err, -rc, "cgroup: cannot attach the device program");
	close(fd);
	return rc < 0 ? rc : 0;
}

static int cg_attach_devprog(struct jail_ctx *ctx, const struct jail_hier *h)
{
	int fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return jail_fail(&ctx->err, errno, "cgroup: cannot open %s", h->dir);
	rc = cg_load_devprog(ctx, fd);
	close(fd);
	return rc;
}

static int cg_join(struct jail_ctx *ctx, const struct jail_hier *h)
{
	char path[PATH_MAX], pid[24];
	int rc;

	if (jail_undo_add(ctx->undo, JAIL_UNDO_CGLEAVE, h->home))
		return jail_fail(&ctx->err, ENOSPC, "cgroup: undo log");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (jail_path_join(path, sizeof(path), h->dir, "cgroup.procs"))
		return jail_fail(&ctx->err, ENAMETOOLONG, "cgroup: %s", h->dir);
	rc = jail_write_file(path, pid);
	if (rc)
		return jail_fail(&ctx->err, -rc, "cgroup: cannot move pid %s into %s", pid, h->dir);
	return 0;
}

int jail_cg_setup(struct jail_ctx *ctx)
{
	struct jail_plan *plan = ctx->plan;
	int rc;

	/* All values first: a v1 cpuset takes no task before cpus/mems. */
	for (unsigned i = 0; i < plan->n_hier; i++) {
		rc = cg_create(ctx, &plan->hier[i]);
		if (!rc && (int)i == plan->dev_hier)
			rc = cg_v1_devices(ctx, &plan->hier[i]);
		if (!rc)
			rc = cg_write_values(ctx, i);
		if (rc)
			return rc;
	}
	/* The device program goes on before we move in, so the jailed process
	 * is never in its cgroup unrestricted. */
	if (ctx->cfg->cgroup_version == 2 && plan->n_hier == 1) {
		rc = cg_attach_devprog(ctx, &plan->hier[0]);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < plan->n_hier; i++) {
		rc = cg_join(ctx, &plan->hier[i]);
		if (rc)
			return rc;
	}
	return 0;
}
