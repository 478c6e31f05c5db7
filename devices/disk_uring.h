/* io_uring back-end for a struct disk (io_engine "Async"): readv, writev
 * and fdatasync are queued with a caller's tag, submitted in batches with
 * one io_uring_enter, and their completions come back with that tag. The
 * ring signals an eventfd (du->efd) whenever it posts a completion, so the
 * VMM's epoll loop learns of them without polling.
 *
 * Contract:
 *  - at most du->depth operations are in flight (queued or submitted and not
 *    yet reaped); du_queue_* refuse more with -EBUSY, so the completion
 *    queue (twice the depth) can never overflow;
 *  - the iovec array and the buffers it names must stay valid until the
 *    operation's completion is reaped (the kernel may read the array when
 *    it starts the operation, which can be after du_submit returns);
 *  - the disk's fd must stay open until every operation on it is reaped
 *    (drain with du_wait before closing or swapping it);
 *  - one thread at a time (the VMM thread); no locking.
 *
 * The ring is created at device set-up (before the VMM thread's seccomp
 * filter exists); afterwards only io_uring_enter is needed (tools/seccomp_gen.c). */
#ifndef FLINT_DEVICES_DISK_URING_H
#define FLINT_DEVICES_DISK_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

#include "devices/disk.h"

struct disk_uring {
	struct io_uring ring;
	int efd;	   /* eventfd: signalled on each completion; -1 when closed */
	uint32_t depth;	   /* the most operations in flight */
	uint32_t queued;   /* prepared, not yet handed to the kernel */
	uint32_t inflight; /* queued or submitted, not yet reaped */
	bool ring_ok;	   /* ring set up (du_destroy must tear it down) */
};

/* Set up a ring of depth entries (1..4096) and its eventfd, signalled for
 * every completion. (Not io_uring_register_eventfd_async: that signals
 * only completions made by io-wq workers, and a buffered read of an
 * uncached file completes from task work in the submitting thread, so
 * the loop would never hear of it.) 0 or -errno (-ENOSYS/-EPERM where the
 * kernel or a seccomp filter forbids io_uring). On failure u is left
 * destroyed. */
int du_init(struct disk_uring *u, uint32_t depth);
/* Close the ring and the eventfd. Operations still in flight are cancelled
 * by the kernel asynchronously: drain first if their buffers go away. */
void du_destroy(struct disk_uring *u);

/* True if a completion is waiting to be reaped. */
bool du_ready(struct disk_uring *u);

/* Queue one operation (not submitted until du_submit). The range and
 * read-only checks of disk_check apply. 0, -EBUSY (depth reached), or the
 * disk_check error. */
int du_queue_read(struct disk_uring *u, const struct disk *d, uint64_t off, const struct iovec *iov,
		  int iovcnt, uint64_t tag);
int du_queue_write(struct disk_uring *u, const struct disk *d, uint64_t off,
		   const struct iovec *iov, int iovcnt, uint64_t tag);
/* fdatasync as an operation (callers check disk_flush_needed first). */
int du_queue_flush(struct disk_uring *u, const struct disk *d, uint64_t tag);

/* Hand every queued operation to the kernel. 0, or -errno (-EAGAIN: the
 * kernel is short of memory; the operations stay queued, call again). */
int du_submit(struct disk_uring *u);
/* Take one completion without waiting: 1 with *tag and *res (bytes done or
 * -errno, as the syscall would return), 0 if none is ready. */
int du_reap(struct disk_uring *u, uint64_t *tag, int32_t *res);
/* As du_reap, but wait for one if any is in flight (submitting what is
 * queued first). 1, 0 if nothing is in flight, or -errno. */
int du_wait(struct disk_uring *u, uint64_t *tag, int32_t *res);
/* Reset the eventfd's counter (before reaping, so no completion is missed). */
void du_ack(struct disk_uring *u);

#endif
