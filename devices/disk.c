/* Raw image back-end. */
#include "devices/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int disk_size_of(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

int disk_from_fd(struct disk *d, int fd, bool read_only, enum cfg_cache_type cache)
{
	int err;

	d->fd = fd;
	d->read_only = read_only;
	d->cache = cache;
	d->size = 0;
	err = disk_size_of(fd, &d->size);
	if (err)
		disk_close(d);
	return err;
}

int disk_open(struct disk *d, const char *path, bool read_only, enum cfg_cache_type cache)
{
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	if (fd < 0) {
		d->fd = -1;
		return -errno;
	}
	return disk_from_fd(d, fd, read_only, cache);
}

void disk_close(struct disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static uint64_t disk_iov_len(const struct iovec *iov, int n)
{
	uint64_t len = 0;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len; /* each <= 4 GiB, n bounded: no overflow */
	return len;
}

/* Drop done bytes from the front of *iov / *n. */
static void disk_iov_advance(struct iovec **iov, int *n, uint64_t done)
{
	while (*n > 0 && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n > 0) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}

int disk_check(const struct disk *d, uint64_t off, uint64_t len, bool write)
{
	if (off > d->size || len > d->size - off)
		return -EINVAL;
	if (write && d->read_only)
		return -EROFS;
	return 0;
}

static int disk_xfer(const struct disk *d, uint64_t off, struct iovec *iov, int n, bool write)
{
	int err = disk_check(d, off, disk_iov_len(iov, n), write);

	if (err)
		return err;
	while (n > 0) {
		int cnt = n > IOV_MAX ? IOV_MAX : n;
		ssize_t r = write ? pwritev(d->fd, iov, cnt, (off_t)off)
				  : preadv(d->fd, iov, cnt, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 && disk_iov_len(iov, cnt) > 0)
			return -EIO; /* the image shrank under us */
		off += (uint64_t)r;
		disk_iov_advance(&iov, &n, (uint64_t)r);
	}
	return 0;
}

int disk_read(const struct disk *d, uint64_t off, struct iovec *iov, int iovcnt)
{
	return disk_xfer(d, off, iov, iovcnt, false);
}

int disk_write(const struct disk *d, uint64_t off, struct iovec *iov, int iovcnt)
{
	return disk_xfer(d, off, iov, iovcnt, true);
}

bool disk_flush_needed(const struct disk *d)
{
	return d->cache == CFG_CACHE_WRITEBACK && !d->read_only;
}

int disk_flush(const struct disk *d)
{
	if (!disk_flush_needed(d))
		return 0;
	return fdatasync(d->fd) ? -errno : 0;
}
