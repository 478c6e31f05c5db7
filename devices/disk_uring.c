/* io_uring back-end (see disk_uring.h). */
#include "devices/disk_uring.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DU_DEPTH_MAX 4096

int du_init(struct disk_uring *u, uint32_t depth)
{
	int err;

	memset(u, 0, sizeof(*u));
	u->efd = -1;
	if (depth == 0 || depth > DU_DEPTH_MAX)
		return -EINVAL;
	u->depth = depth;
	err = io_uring_queue_init(depth, &u->ring, 0);
	if (err)
		return err;
	u->ring_ok = true;
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0) {
		err = -errno;
		goto fail;
	}
	err = io_uring_register_eventfd(&u->ring, u->efd);
	if (err)
		goto fail;
	return 0;
fail:
	du_destroy(u);
	return err;
}

void du_destroy(struct disk_uring *u)
{
	if (u->ring_ok)
		io_uring_queue_exit(&u->ring);
	u->ring_ok = false;
	if (u->efd >= 0)
		close(u->efd);
	u->efd = -1;
	u->queued = u->inflight = 0;
}

static uint64_t du_iov_len(const struct iovec *iov, int n)
{
	uint64_t len = 0;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len; /* each <= 4 GiB, n bounded: no overflow */
	return len;
}

/* An SQE for one more operation, or NULL when depth are in flight. The SQ
 * has depth entries and at most depth operations exist, so a free SQE is
 * always there when the count allows one. */
static struct io_uring_sqe *du_sqe(struct disk_uring *u)
{
	struct io_uring_sqe *sqe;

	if (!u->ring_ok || u->inflight >= u->depth)
		return NULL;
	sqe = io_uring_get_sqe(&u->ring);
	if (sqe) {
		u->queued++;
		u->inflight++;
	}
	return sqe;
}

static int du_queue_rw(struct disk_uring *u, const struct disk *d, uint64_t off,
		       const struct iovec *iov, int iovcnt, uint64_t tag, bool write)
{
	int err = disk_check(d, off, du_iov_len(iov, iovcnt), write);
	struct io_uring_sqe *sqe;

	if (err)
		return err;
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	sqe = du_sqe(u);
	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_writev(sqe, d->fd, iov, (unsigned)iovcnt, off);
	else
		io_uring_prep_readv(sqe, d->fd, iov, (unsigned)iovcnt, off);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

int du_queue_read(struct disk_uring *u, const struct disk *d, uint64_t off, const struct iovec *iov,
		  int iovcnt, uint64_t tag)
{
	return du_queue_rw(u, d, off, iov, iovcnt, tag, false);
}

int du_queue_write(struct disk_uring *u, const struct disk *d, uint64_t off,
		   const struct iovec *iov, int iovcnt, uint64_t tag)
{
	return du_queue_rw(u, d, off, iov, iovcnt, tag, true);
}

int du_queue_flush(struct disk_uring *u, const struct disk *d, uint64_t tag)
{
	struct io_uring_sqe *sqe = du_sqe(u);

	if (!sqe)
		return -EBUSY;
	/* No IOSQE_IO_DRAIN: a flush covers the writes the guest saw complete
	 * (virtio 1.1 §5.2.6.1), and those finished before it was queued. */
	io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

int du_submit(struct disk_uring *u)
{
	while (u->queued > 0) {
		int n = io_uring_submit(&u->ring);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			return -EAGAIN;
		u->queued = (uint32_t)n >= u->queued ? 0 : u->queued - (uint32_t)n;
	}
	return 0;
}

static void du_take(struct disk_uring *u, struct io_uring_cqe *cqe, uint64_t *tag, int32_t *res)
{
	*tag = io_uring_cqe_get_data64(cqe);
	*res = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	u->inflight--;
}

bool du_ready(struct disk_uring *u)
{
	return u->ring_ok && u->inflight > 0 && io_uring_cq_ready(&u->ring) > 0;
}

int du_reap(struct disk_uring *u, uint64_t *tag, int32_t *res)
{
	struct io_uring_cqe *cqe = NULL;

	if (!u->ring_ok || u->inflight == 0 || io_uring_peek_cqe(&u->ring, &cqe) != 0 || !cqe)
		return 0;
	du_take(u, cqe, tag, res);
	return 1;
}

int du_wait(struct disk_uring *u, uint64_t *tag, int32_t *res)
{
	struct io_uring_cqe *cqe = NULL;
	int err;

	if (!u->ring_ok || u->inflight == 0)
		return 0;
	err = du_submit(u);
	if (err)
		return err;
	do
		err = io_uring_wait_cqe(&u->ring, &cqe);
	while (err == -EINTR);
	if (err)
		return err;
	du_take(u, cqe, tag, res);
	return 1;
}

void du_ack(struct disk_uring *u)
{
	uint64_t n;

	if (u->efd >= 0 && read(u->efd, &n, sizeof(n)) < 0)
		return; /* EAGAIN: nothing signalled since the last ack */
}
