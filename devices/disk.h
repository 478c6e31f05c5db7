/* Block-device back-end: a raw image file (or host block device) accessed
 * with preadv/pwritev at byte offsets. The virtio-blk front-end never sees
 * the fd; tests hand in a memfd through disk_from_fd.
 *
 * Used from the VMM thread only; no locking. */
#ifndef FLINT_DEVICES_DISK_H
#define FLINT_DEVICES_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/config.h"

struct disk {
	int fd;
	uint64_t size; /* bytes, at open time */
	bool read_only;
	enum cfg_cache_type cache;
};

/* Open path O_RDWR (O_RDONLY if read_only) and size it. 0 or -errno. */
int disk_open(struct disk *d, const char *path, bool read_only, enum cfg_cache_type cache);
/* Adopt an open fd (closed by disk_close, also on failure). 0 or -errno. */
int disk_from_fd(struct disk *d, int fd, bool read_only, enum cfg_cache_type cache);
void disk_close(struct disk *d);

/* Transfer the whole iov at byte offset off, retrying short transfers.
 * iov is used as scratch (entries are advanced). 0, -EIO at end of file,
 * -EROFS for a write to a read-only disk, -EINVAL if [off, off+len) is not
 * within the disk, or -errno. */
int disk_read(const struct disk *d, uint64_t off, struct iovec *iov, int iovcnt);
int disk_write(const struct disk *d, uint64_t off, struct iovec *iov, int iovcnt);
/* Whether a transfer of len bytes at off may proceed: 0, -EINVAL if
 * [off, off+len) is not within the disk, -EROFS for a write to a read-only
 * disk. disk_read/disk_write check this themselves; the io_uring back-end
 * (disk_uring.h) calls it before queueing. */
int disk_check(const struct disk *d, uint64_t off, uint64_t len, bool write);
/* Whether a flush has anything to do (Writeback on a writable disk). */
bool disk_flush_needed(const struct disk *d);
/* Make written data durable: fdatasync for Writeback; a no-op for Unsafe
 * (Firecracker's semantics). 0 or -errno. */
int disk_flush(const struct disk *d);

#endif
