/* The undo log: what the jailer created, removed again on failure. And the
 * two small file helpers every step uses. */
#include "jailer/run.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

ssize_t jail_read_file(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return (ssize_t)got;
}

int jail_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, rc = 0;

	/* No O_CREAT: a cgroup file that does not exist is an error. */
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* cgroup files take one value per write(); a short write is an error. */
	n = write(fd, text, len);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

int jail_undo_add(struct jail_undo *undo, enum jail_undo_kind kind, const char *path)
{
	struct jail_undo_entry *e;

	if (undo->n >= JAIL_UNDO_MAX || strlen(path) >= sizeof(e->path))
		return -ENOSPC;
	e = &undo->e[undo->n];
	e->kind = kind;
	memcpy(e->path, path, strlen(path) + 1);
	undo->n++;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (remove(path) && errno != ENOENT)
		fprintf(stderr, "flint-jailer: cleanup: cannot remove %s: %s\n", path,
			strerror(errno));
	(void)flag;
	return 0;
}

/* A cgroup cannot be removed while a task is in it: a failed child may still
 * be exiting. */
static void undo_cgroup(const char *path)
{
	struct timespec ts = {0, 10000000L};

	for (int i = 0; i < 300; i++) {
		if (!rmdir(path) || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "flint-jailer: cleanup: cannot remove cgroup %s: %s\n", path,
		strerror(errno));
}

static void undo_leave(const char *home)
{
	char path[PATH_MAX], pid[24];
	int rc;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (jail_path_join(path, sizeof(path), home, "cgroup.procs"))
		return;
	rc = jail_write_file(path, pid);
	if (rc)
		fprintf(stderr, "flint-jailer: cleanup: cannot move back to cgroup %s: %s\n", home,
			strerror(-rc));
}

void jail_undo_run(struct jail_undo *undo)
{
	while (undo->n > 0) {
		const struct jail_undo_entry *e = &undo->e[--undo->n];

		switch (e->kind) {
		case JAIL_UNDO_TREE:
			/* FTW_PHYS: never follow a symlink out of the tree. */
			nftw(e->path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
			break;
		case JAIL_UNDO_FILE:
			unlink(e->path);
			break;
		case JAIL_UNDO_RMDIR:
			/* Not empty: another jail appeared there meanwhile. */
			rmdir(e->path);
			break;
		case JAIL_UNDO_CGROUP:
			undo_cgroup(e->path);
			break;
		case JAIL_UNDO_CGLEAVE:
			undo_leave(e->path);
			break;
		}
	}
}
