/* jail_validate(): everything that can be checked before anything is
 * created, so that bad input leaves no trace on the host. */
#include "jailer/run.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_BUF_SIZE 65536

static int check_exec_file(const struct jail_config *cfg, struct jail_plan *plan,
			   struct jail_err *err)
{
	struct stat st;
	const char *name;

	if (!realpath(cfg->exec_file, plan->exec_path))
		return jail_fail(err, errno, "invalid --exec-file %s", cfg->exec_file);
	if (stat(plan->exec_path, &st))
		return jail_fail(err, errno, "invalid --exec-file %s", plan->exec_path);
	if (!S_ISREG(st.st_mode))
		return jail_fail(err, 0, "invalid --exec-file %s: not a regular file",
				 plan->exec_path);
	if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
		return jail_fail(err, 0, "invalid --exec-file %s: not executable", plan->exec_path);
	name = jail_path_base(plan->exec_path);
	if (!name || strlen(name) > NAME_MAX)
		return jail_fail(err, 0, "invalid --exec-file %s: bad file name", plan->exec_path);
	memcpy(plan->exec_name, name, strlen(name) + 1);
	return 0;
}

/* Directories on the way must be directories (lstat: no symlinks). */
static int check_dir_or_absent(const char *path, struct jail_err *err)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : jail_fail(err, errno, "jail: %s", path);
	if (!S_ISDIR(st.st_mode))
		return jail_fail(err, 0, "jail: %s exists and is not a directory", path);
	return 0;
}

static int check_absent(const char *dir, const char *name, struct jail_err *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (jail_path_join(path, sizeof(path), dir, name))
		return jail_fail(err, ENAMETOOLONG, "jail: %s", dir);
	if (!lstat(path, &st) || errno != ENOENT)
		return jail_fail(err, EEXIST, "jail: %s", path);
	return 0;
}

/* As in Firecracker, <base>/<exec name>/<id>/root may exist already, staged
 * with the files the jailed program needs (kernel, --config-file). Only the
 * names the jailer creates inside must be free. */
static int check_jail_dirs(const struct jail_config *cfg, struct jail_plan *plan,
			   struct jail_err *err)
{
	char base[PATH_MAX], pid[NAME_MAX + 8];
	struct stat st;

	if (!realpath(cfg->base_dir, base))
		return jail_fail(err, errno, "invalid --chroot-base-dir %s", cfg->base_dir);
	if (stat(base, &st) || !S_ISDIR(st.st_mode))
		return jail_fail(err, 0, "invalid --chroot-base-dir %s: not a directory", base);
	if (jail_path_join(plan->exec_dir, sizeof(plan->exec_dir), base, plan->exec_name) ||
	    jail_path_join(plan->id_dir, sizeof(plan->id_dir), plan->exec_dir, cfg->id) ||
	    jail_path_join(plan->root_dir, sizeof(plan->root_dir), plan->id_dir, "root"))
		return jail_fail(err, ENAMETOOLONG, "invalid --chroot-base-dir %s", base);
	if (check_dir_or_absent(plan->exec_dir, err) || check_dir_or_absent(plan->id_dir, err) ||
	    check_dir_or_absent(plan->root_dir, err))
		return -EINVAL;
	snprintf(pid, sizeof(pid), "%s.pid", plan->exec_name);
	if (check_absent(plan->root_dir, plan->exec_name, err) ||
	    check_absent(plan->root_dir, pid, err))
		return -EEXIST;
	return 0;
}

static int check_netns(const struct jail_config *cfg, struct jail_err *err)
{
	int fd, type;

	if (!cfg->netns)
		return 0;
	fd = open(cfg->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return jail_fail(err, errno, "invalid --netns %s", cfg->netns);
	type = ioctl(fd, NS_GET_NSTYPE);
	close(fd);
	if (type != CLONE_NEWNET)
		return jail_fail(err, 0, "invalid --netns %s: not a network namespace", cfg->netns);
	return 0;
}

static int check_rlimits(const struct jail_config *cfg, struct jail_err *err)
{
	char buf[32];
	uint64_t nr_open;

	if (jail_read_file("/proc/sys/fs/nr_open", buf, sizeof(buf)) <= 0)
		return 0; /* setrlimit() will say */
	buf[strcspn(buf, "\n")] = '\0';
	if (!jail_parse_u64(buf, &nr_open) && cfg->nofile > nr_open)
		return jail_fail(err, 0,
				 "invalid --resource-limit no-file=%llu: above the system's "
				 "maximum %llu (fs.nr_open)",
				 (unsigned long long)cfg->nofile, (unsigned long long)nr_open);
	return 0;
}

/* <mount> + <path from /proc/self/cgroup>, which starts with '/'. */
static int cg_home(char *out, const char *mount, const char *path)
{
	int n = snprintf(out, PATH_MAX, "%s%s", mount, strcmp(path, "/") ? path : "");

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Add (or find) the hierarchy mounted at mount; returns its index. */
static int plan_hier(const char *id, struct jail_plan *plan, const char *mount,
		     const char *own_path, struct jail_err *err)
{
	char parent[PATH_MAX], file[PATH_MAX];
	struct jail_hier *h;
	struct stat st;

	for (unsigned i = 0; i < plan->n_hier; i++)
		if (!strcmp(plan->hier[i].mount, mount))
			return (int)i;
	if (plan->n_hier >= JAIL_MAX_HIER)
		return jail_fail(err, 0, "cgroup: too many hierarchies");
	h = &plan->hier[plan->n_hier];
	if (strlen(mount) >= sizeof(h->mount) || cg_home(h->home, mount, own_path) ||
	    jail_path_join(parent, sizeof(parent), mount, plan->parent_cgroup) ||
	    jail_path_join(h->dir, sizeof(h->dir), parent, id) ||
	    jail_path_join(file, sizeof(file), mount, "cpuset.cpus"))
		return jail_fail(err, ENAMETOOLONG, "cgroup: %s", mount);
	memcpy(h->mount, mount, strlen(mount) + 1);
	if (!lstat(h->dir, &st) || errno != ENOENT)
		return jail_fail(err, EEXIST, "cgroup: %s", h->dir);
	h->cpuset = !access(file, F_OK);
	return (int)plan->n_hier++;
}

static int plan_v1(const struct jail_config *cfg, struct jail_plan *plan, const char *mounts,
		   const char *self, struct jail_err *err)
{
	char mount[PATH_MAX], own[PATH_MAX];

	for (unsigned i = 0; i < cfg->n_cgroups; i++) {
		const char *ctl = cfg->cgroups[i].controller;
		int h;

		if (jail_mounts_find(mounts, ctl, mount, sizeof(mount)))
			return jail_fail(err, 0, "cgroup: controller %s is not mounted (cgroup v1)",
					 ctl);
		if (jail_proc_cgroup_find(self, ctl, own, sizeof(own)))
			return jail_fail(err, 0, "cgroup: no %s line in /proc/self/cgroup", ctl);
		h = plan_hier(cfg->id, plan, mount, own, err);
		if (h < 0)
			return h;
		plan->cg_hier[i] = (unsigned char)h;
	}
	/* Device control, as the v2 program gives it: always, when the host
	 * has the devices controller (without it there is none to have). */
	plan->dev_hier = -1;
	if (!jail_mounts_find(mounts, "devices", mount, sizeof(mount))) {
		int h;

		if (jail_proc_cgroup_find(self, "devices", own, sizeof(own)))
			return jail_fail(err, 0, "cgroup: no devices line in /proc/self/cgroup");
		h = plan_hier(cfg->id, plan, mount, own, err);
		if (h < 0)
			return h;
		plan->dev_hier = h;
	}
	return 0;
}

/* Is word one of the space-separated words of list? */
static bool words_have(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t w = strcspn(p, " ");

		if (w == n && !strncmp(p, word, n))
			return true;
		p += w;
		p += strspn(p, " ");
	}
	return false;
}

/* v2: one hierarchy, always joined (it carries the device program); every
 * controller named by --cgroup must be offered by the root. */
static int plan_v2(const struct jail_config *cfg, struct jail_plan *plan, const char *mounts,
		   const char *self, struct jail_err *err)
{
	char mount[PATH_MAX], own[PATH_MAX], path[PATH_MAX], ctls[1024];
	int h;

	if (jail_mounts_find(mounts, NULL, mount, sizeof(mount)))
		return jail_fail(err, 0, "cgroup: no cgroup2 file system is mounted");
	if (jail_proc_cgroup_find(self, NULL, own, sizeof(own)))
		return jail_fail(err, 0, "cgroup: no v2 line in /proc/self/cgroup");
	h = plan_hier(cfg->id, plan, mount, own, err);
	if (h < 0)
		return h;
	if (jail_path_join(path, sizeof(path), mount, "cgroup.controllers") ||
	    jail_read_file(path, ctls, sizeof(ctls)) < 0)
		return jail_fail(err, errno, "cgroup: cannot read %s", path);
	ctls[strcspn(ctls, "\n")] = '\0';
	for (unsigned i = 0; i < cfg->n_cgroups; i++) {
		const char *ctl = cfg->cgroups[i].controller;

		plan->cg_hier[i] = (unsigned char)h;
		/* "cgroup.*" files are the core's, present without a controller. */
		if (strcmp(ctl, "cgroup") != 0 && !words_have(ctls, ctl))
			return jail_fail(err, 0, "cgroup: controller %s is not available in %s",
					 ctl, mount);
	}
	return 0;
}

int jail_plan_cgroups(const struct jail_config *cfg, struct jail_plan *plan, const char *mounts,
		      const char *self, struct jail_err *err)
{
	if (cfg->cgroup_version == 2)
		return plan_v2(cfg, plan, mounts, self, err);
	return plan_v1(cfg, plan, mounts, self, err);
}

static int check_cgroups(const struct jail_config *cfg, struct jail_plan *plan,
			 struct jail_err *err)
{
	char *mounts = malloc(PROC_BUF_SIZE), *self = malloc(PROC_BUF_SIZE);
	int rc = -ENOMEM;

	if (!mounts || !self) {
		jail_fail(err, ENOMEM, "cgroup");
		goto out;
	}
	if (jail_read_file("/proc/mounts", mounts, PROC_BUF_SIZE) < 0 ||
	    jail_read_file("/proc/self/cgroup", self, PROC_BUF_SIZE) < 0) {
		rc = jail_fail(err, errno, "cgroup: cannot read /proc");
		goto out;
	}
	rc = jail_plan_cgroups(cfg, plan, mounts, self, err);
out:
	free(mounts);
	free(self);
	return rc;
}

int jail_validate(const struct jail_config *cfg, struct jail_plan *plan, struct jail_err *err)
{
	char misc[4096];
	int rc;

	memset(plan, 0, sizeof(*plan));
	plan->dev_hier = -1;
	rc = check_exec_file(cfg, plan, err);
	if (!rc)
		rc = check_jail_dirs(cfg, plan, err);
	if (!rc)
		rc = check_netns(cfg, err);
	if (!rc)
		rc = check_rlimits(cfg, err);
	if (rc)
		return rc;
	snprintf(plan->parent_cgroup, sizeof(plan->parent_cgroup), "%s",
		 cfg->parent_cgroup ? cfg->parent_cgroup : plan->exec_name);
	rc = jail_check_rel_path(plan->parent_cgroup, err);
	if (!rc)
		rc = check_cgroups(cfg, plan, err);
	if (rc)
		return rc;
	/* userfaultfd has a dynamic misc minor (257 on some hosts), so it is
	 * looked up rather than assumed. */
	plan->uffd_minor = -1;
	if (jail_read_file("/proc/misc", misc, sizeof(misc)) > 0)
		plan->uffd_minor = jail_misc_minor(misc, "userfaultfd");
	if (plan->uffd_minor < 0)
		plan->uffd_minor = -1;
	return 0;
}
