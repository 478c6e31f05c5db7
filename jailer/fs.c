/* The jail's file system: the folder with the exec file, the mount
 * namespace and pivot_root into it, and the device nodes inside. */
#include "jailer/run.h"

#include <elf.h>
#include <errno.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/fsuid.h>
#include <unistd.h>

/* read/write loop: the fallback where copy_file_range() cannot copy. */
static int copy_fd_rw(int in, int out)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno != EINTR)
				return -errno;
			off += w > 0 ? w : 0;
		}
	}
	return 0;
}

/* copy_file_range() copies in the kernel without a round trip through our
 * buffers (a 2 MiB static flint costs well under a millisecond). A file
 * system or kernel that cannot do it fails the first call before anything
 * is written, so the read/write loop can take over from offset 0. A reflink
 * that some file systems make here is still a new inode with its own page
 * cache, which is all that copying is for (see copy_exec). */
static int copy_fd(int in, int out, off_t size)
{
	off_t done = 0;

	while (done < size) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && done == 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			return copy_fd_rw(in, out);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the exec file shrank under us */
		done += n;
	}
	return 0;
}

/* The exec file is always copied, never hard-linked, as Firecracker's jailer
 * does (src/jailer/src/env.rs):
 * - a hard link fails across file systems (the jail base on its own mount);
 * - a hard link puts the host binary's inode inside the jail: a jailed
 *   process running as uid could then write through it if its mode allows,
 *   and every jailed VMM would share that inode's page cache, so one VMM's
 *   code pages (.text) would be the same physical memory as another's,
 *   which Firecracker's threat model rules out (no memory shared between
 *   microVMs, e.g. for cache side channels).
 * The copy keeps the permission bits but not set-id bits. */
static int copy_exec(const char *src, const char *dst)
{
	struct stat st;
	int in, out, rc;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &st)) {
		rc = -errno;
		close(in);
		return rc;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	rc = copy_fd(in, out, st.st_size);
	if (!rc && fchmod(out, st.st_mode & 0777))
		rc = -errno;
	if (close(out) && !rc)
		rc = -errno;
	close(in);
	return rc;
}

/* Can uid:gid execute the file? Checked now, so a jail whose program could
 * never start is refused while we can still clean up. In this process
 * rather than in a child that drops to uid:gid (a fork and a wait cost a
 * millisecond or more of the boot here): supplementary groups go now (the
 * privileges step drops them anyway, and root's capabilities need none),
 * then the file-system ids are switched, which also clears the file
 * capabilities (CAP_DAC_OVERRIDE ...) from the effective set, see
 * capabilities(7). AT_EACCESS + AT_EMPTY_PATH check with exactly those:
 * the file's mode, ACLs and a noexec mount. Switching back to fsuid 0
 * raises those capabilities again from the permitted set. Single-threaded:
 * the file-system ids are per thread. */
static int check_exec_as(const struct jail_config *cfg, const char *path, struct jail_err *err)
{
	int fd = open(path, O_PATH | O_CLOEXEC), rc = 0, e = 0;
	uid_t old_uid;
	gid_t old_gid;

	if (fd < 0)
		return jail_fail(err, errno, "jail: cannot open %s", path);
	if (setgroups(0, NULL)) {
		rc = jail_fail(err, errno, "jail: setgroups");
		goto out;
	}
	old_gid = (gid_t)setfsgid(cfg->gid);
	old_uid = (uid_t)setfsuid(cfg->uid);
	/* setfsuid() reports no error: a call that changes nothing returns
	 * the current id. */
	if ((uid_t)setfsuid((uid_t)-1) != cfg->uid || (gid_t)setfsgid((gid_t)-1) != cfg->gid)
		rc =
		    jail_fail(err, EPERM, "jail: cannot check access as %u:%u", cfg->uid, cfg->gid);
	else if (faccessat(fd, "", X_OK, AT_EACCESS | AT_EMPTY_PATH))
		e = errno;
	setfsuid(old_uid);
	setfsgid(old_gid);
	if ((uid_t)setfsuid((uid_t)-1) != old_uid || (gid_t)setfsgid((gid_t)-1) != old_gid)
		rc = jail_fail(err, EPERM, "jail: cannot switch back to file-system ids %u:%u",
			       old_uid, old_gid);
	else if (!rc && e)
		rc = jail_fail(err, e, "jail: uid %u gid %u cannot execute %s", cfg->uid, cfg->gid,
			       path);
out:
	close(fd);
	return rc;
}

/* Open interp resolved inside the jail root, as the jailed execve() will. */
static int open_in_root(const char *root, const char *path)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, e;

	if (rfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, rfd, path, &how, sizeof(how));
	e = errno;
	close(rfd);
	if (fd < 0)
		return -e;
	close(fd);
	return 0;
}

/* A dynamically linked exec file needs its ELF interpreter inside the jail.
 * Without it execve() would fail only after the privileges are gone, when
 * nothing can be cleaned up any more: refuse it now. */
static int check_interp(struct jail_ctx *ctx, int fd)
{
	char interp[PATH_MAX];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int rc;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph))
		return 0; /* not ELF64: execve() judges */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph))
			return 0;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz == 0 || ph.p_filesz >= sizeof(interp) ||
		    pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz)
			return jail_fail(&ctx->err, 0, "jail: bad ELF interpreter in %s",
					 ctx->plan->exec_path);
		interp[ph.p_filesz] = '\0';
		rc = open_in_root(ctx->plan->root_dir, interp);
		if (rc)
			return jail_fail(&ctx->err, -rc,
					 "jail: %s is dynamically linked and its interpreter %s is "
					 "not in the jail (link it statically, or stage the "
					 "interpreter and libraries in %s)",
					 ctx->plan->exec_name, interp, ctx->plan->root_dir);
		return 0;
	}
	return 0;
}

static int copy_exec_in(struct jail_ctx *ctx)
{
	struct jail_plan *p = ctx->plan;
	char dst[PATH_MAX];
	int rc, fd;

	if (jail_path_join(dst, sizeof(dst), p->root_dir, p->exec_name))
		return jail_fail(&ctx->err, ENAMETOOLONG, "jail: %s", p->root_dir);
	rc = copy_exec(p->exec_path, dst);
	if (rc) {
		/* EEXIST: not ours (a staged root's file), leave it alone. */
		if (rc != -EEXIST)
			unlink(dst);
		return jail_fail(&ctx->err, -rc, "jail: cannot copy %s to %s", p->exec_path, dst);
	}
	rc = jail_fs_note(ctx, JAIL_UNDO_FILE, p->exec_name);
	if (!rc)
		rc = check_exec_as(ctx->cfg, dst, &ctx->err);
	if (rc)
		return rc;
	fd = open(dst, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return jail_fail(&ctx->err, errno, "jail: cannot open %s", dst);
	rc = check_interp(ctx, fd);
	close(fd);
	return rc;
}

int jail_fs_note(struct jail_ctx *ctx, enum jail_undo_kind kind, const char *in_jail)
{
	char path[PATH_MAX];

	if (ctx->plan->root_fresh)
		return 0;
	if (jail_path_join(path, sizeof(path), ctx->plan->root_dir, in_jail) ||
	    jail_undo_add(ctx->undo, kind, path))
		return jail_fail(&ctx->err, ENOSPC, "jail: undo log");
	return 0;
}

/* mkdir; a new directory goes into the undo log as kind. */
static int make_dir(struct jail_ctx *ctx, const char *path, mode_t mode, enum jail_undo_kind kind,
		    bool *made)
{
	*made = false;
	if (mkdir(path, mode)) {
		if (errno == EEXIST)
			return 0;
		return jail_fail(&ctx->err, errno, "jail: cannot create %s", path);
	}
	*made = true;
	if (jail_undo_add(ctx->undo, kind, path))
		return jail_fail(&ctx->err, ENOSPC, "jail: undo log");
	return 0;
}

int jail_fs_create(struct jail_ctx *ctx)
{
	struct jail_plan *p = ctx->plan;
	bool made;
	int rc;

	rc = make_dir(ctx, p->exec_dir, 0755, JAIL_UNDO_RMDIR, &made);
	if (!rc)
		rc = make_dir(ctx, p->id_dir, 0755, JAIL_UNDO_TREE, &made);
	if (!rc)
		rc = make_dir(ctx, p->root_dir, 0700, made ? JAIL_UNDO_RMDIR : JAIL_UNDO_TREE,
			      &p->root_fresh);
	if (!rc)
		rc = copy_exec_in(ctx);
	return rc;
}

int jail_fs_enter(struct jail_ctx *ctx)
{
	const char *root = ctx->plan->root_dir;

	if (ctx->cfg->daemonize) {
		/* There is no /dev/null inside the jail. */
		ctx->devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (ctx->devnull_fd < 0)
			return jail_fail(&ctx->err, errno, "daemonize: cannot open /dev/null");
	}
	if (unshare(CLONE_NEWNS))
		return jail_fail(&ctx->err, errno, "mount namespace: unshare");
	ctx->in_jail = true;
	/* Private: nothing we do here may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return jail_fail(&ctx->err, errno, "mount namespace: make / private");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(root, root, NULL, MS_BIND, NULL))
		return jail_fail(&ctx->err, errno, "mount namespace: bind %s", root);
	if (chdir(root))
		return jail_fail(&ctx->err, errno, "mount namespace: chdir %s", root);
	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching it leaves the jail as the only tree, no old_root dir. */
	if (syscall(SYS_pivot_root, ".", "."))
		return jail_fail(&ctx->err, errno, "mount namespace: pivot_root %s", root);
	if (umount2(".", MNT_DETACH))
		return jail_fail(&ctx->err, errno, "mount namespace: detach the old root");
	if (chdir("/"))
		return jail_fail(&ctx->err, errno, "mount namespace: chdir /");
	return 0;
}

static int own_dir(struct jail_ctx *ctx, const char *dir)
{
	int rc;

	if (!mkdir(dir, 0700)) {
		rc = jail_fs_note(ctx, JAIL_UNDO_RMDIR, dir);
		if (rc)
			return rc;
	} else if (errno != EEXIST) {
		return jail_fail(&ctx->err, errno, "devices: cannot create %s", dir);
	}
	if (chmod(dir, 0700) || chown(dir, ctx->cfg->uid, ctx->cfg->gid))
		return jail_fail(&ctx->err, errno, "devices: cannot give %s to %u:%u", dir,
				 ctx->cfg->uid, ctx->cfg->gid);
	return 0;
}

static int make_node(struct jail_ctx *ctx, const char *path, unsigned major, unsigned minor)
{
	if (mknod(path, S_IFCHR | S_IRUSR | S_IWUSR, makedev(major, minor)))
		return jail_fail(&ctx->err, errno, "devices: mknod %s (%u:%u)", path, major, minor);
	if (jail_fs_note(ctx, JAIL_UNDO_FILE, path))
		return -ENOSPC;
	if (chown(path, ctx->cfg->uid, ctx->cfg->gid))
		return jail_fail(&ctx->err, errno, "devices: chown %s", path);
	return 0;
}

int jail_fs_make_devices(struct jail_ctx *ctx)
{
	static const char *const dirs[] = {"/", "/dev", "/dev/net", "/run"};
	int rc = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !rc; i++)
		rc = own_dir(ctx, dirs[i]);
	if (!rc)
		rc = make_node(ctx, "/dev/kvm", 10, 232);
	if (!rc)
		rc = make_node(ctx, "/dev/net/tun", 10, 200);
	if (!rc && ctx->plan->uffd_minor >= 0)
		rc = make_node(ctx, "/dev/userfaultfd", 10, (unsigned)ctx->plan->uffd_minor);
	if (rc)
		return rc;
	/* As in Firecracker: without urandom only MMDS v2 tokens are lost. */
	if (make_node(ctx, "/dev/urandom", 1, 9))
		fprintf(stderr, "flint-jailer: warning: %s\n", ctx->err.msg);
	return 0;
}

int jail_fs_write_pid(struct jail_ctx *ctx, const char *root, pid_t pid)
{
	char name[NAME_MAX + 8], path[PATH_MAX];
	int fd, rc = 0;

	snprintf(name, sizeof(name), "%s.pid", ctx->plan->exec_name);
	if (jail_path_join(path, sizeof(path), root, name))
		return jail_fail(&ctx->err, ENAMETOOLONG, "pid file");
	/* O_EXCL | O_NOFOLLOW: the jail root belongs to uid, never follow what
	 * it may have put there. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return jail_fail(&ctx->err, errno, "pid file: cannot create %s", path);
	if (jail_fs_note(ctx, JAIL_UNDO_FILE, name)) {
		close(fd);
		return -ENOSPC;
	}
	if (dprintf(fd, "%d", (int)pid) < 0)
		rc = jail_fail(&ctx->err, errno, "pid file: cannot write %s", path);
	close(fd);
	return rc;
}
