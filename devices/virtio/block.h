/* virtio-blk (device id 2), as Firecracker's: one request queue; IN, OUT,
 * FLUSH and GET_ID; VIRTIO_BLK_F_RO for a read-only drive,
 * VIRTIO_BLK_F_FLUSH for the Writeback cache type, VIRTIO_BLK_F_SEG_MAX.
 *
 * Requests are byte streams (VIRTIO_F_VERSION_1 implies any layout): the
 * 16-byte header is the start of the readable part, the status byte is the
 * last writable byte, and the data is what lies between.
 *
 * blk_parse() is pure (guest memory in, validated request out); blk_exec()
 * does the I/O. A malformed request is completed with an error status when
 * it has a status byte, and with length 0 otherwise; the device moves on.
 *
 * io_engine (block.c serves the queue, block_async.c the Async engine):
 *  - "Sync": each request is carried out with preadv/pwritev/fdatasync on
 *    the VMM thread (devices/disk.h) and completed before the next is taken.
 *  - "Async": IN, OUT and (Writeback) FLUSH go to an io_uring
 *    (devices/disk_uring.h), up to BLK_ASYNC_SLOTS at once; a request holds
 *    its chain until the ring reports it done, and only then is its status
 *    written and its head pushed to the used ring (from the ring's eventfd
 *    callback on the VMM thread). Everything else (GET_ID, Unsafe flush,
 *    empty transfers, a request with more than BLK_ASYNC_IOV data segments)
 *    is served synchronously in place. When every slot is busy the device
 *    stops taking requests and resumes on the next completion. If the ring
 *    cannot be set up the drive fails to attach (as Firecracker does).
 *    Requests in flight are completed (waited for) before a snapshot
 *    (blk_quiesce) and an image swap, and waited for and dropped on a
 *    device reset and at destroy, so guest memory and the old fd outlive
 *    every operation that uses them. */
#ifndef FLINT_DEVICES_VIRTIO_BLOCK_H
#define FLINT_DEVICES_VIRTIO_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "devices/disk.h"
#include "devices/disk_uring.h"
#include "devices/rate_limiter.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "vmm/config.h"

#define BLK_QUEUE_SIZE	256
#define BLK_SECTOR_SIZE 512
#define BLK_HDR_SIZE	16 /* struct virtio_blk_outhdr */
#define BLK_ASYNC_SLOTS 64 /* Async: requests in flight per drive */
#define BLK_ASYNC_IOV	64 /* Async: data segments a request may have */

/* A request, validated against the chain and the disk geometry. */
struct blk_req {
	uint32_t type;	     /* VIRTIO_BLK_T_* */
	uint64_t sector;     /* first sector (IN/OUT) */
	uint32_t data_len;   /* bytes of data: IN/GET_ID writable, OUT readable */
	uint8_t status;	     /* VIRTIO_BLK_S_* to report if parsing failed */
	bool has_status;     /* a writable status byte exists */
	uint32_t status_off; /* its offset in the writable part */
};

/* Per-device counters (Firecracker's block metrics, in part). */
struct blk_stats {
	uint64_t read_count, write_count, flush_count, get_id_count;
	uint64_t read_bytes, write_bytes;
	uint64_t invalid_reqs, io_errors, rate_limited;
};

/* Async: one request in flight. Its chain is held (not yet pushed) until
 * the ring completes it. */
struct blk_slot {
	struct iovec iov[BLK_ASYNC_IOV]; /* read by the kernel until completion */
	uint8_t *status;		 /* host address of the status byte (RAM never moves) */
	uint32_t type, data_len;
	uint16_t head;
	bool busy;
	bool discard; /* the device was reset: complete without touching the ring */
};

struct blk_async {
	struct disk_uring du;
	bool on_loop;	    /* du.efd is on the event loop */
	bool stalled;	    /* blk_process stopped for want of a free slot */
	bool submit_logged; /* a failed submission was logged */
	uint32_t nfree;	    /* free[0..nfree) are free slot indices */
	uint16_t free[BLK_ASYNC_SLOTS];
	struct blk_slot slots[BLK_ASYNC_SLOTS];
};

struct virtio_blk {
	struct virtio_mmio mmio;
	struct disk disk;
	struct virtio_blk_config config; /* little-endian, as the guest reads it */
	char id[VIRTIO_BLK_ID_BYTES];	 /* drive_id, NUL-padded, not terminated */
	uint64_t features;
	struct rate_limiter rl;
	int timer_fd;	/* rate-limiter retry */
	bool throttled; /* waiting for timer_fd */
	bool broken_logged;
	struct logger *log;
	struct blk_stats stats;
	struct vq_seg segs[BLK_QUEUE_SIZE];
	struct iovec iov[BLK_QUEUE_SIZE];
	struct blk_async *async; /* NULL: io_engine Sync */
};

/* Pure: validate chain c as a block request for a disk of capacity sectors.
 * Returns 0 if r is ready for blk_exec; otherwise -errno with r->status the
 * error to report (if r->has_status). */
int blk_parse(const struct vq_chain *c, const struct guest_mem *m, uint64_t capacity,
	      bool read_only, struct blk_req *r);

/* Carry out a parsed request. iov (max_iov entries) is scratch for the
 * zero-copy transfer. Returns the VIRTIO_BLK_S_* status; *written is the
 * number of data bytes written to the guest. */
uint8_t blk_exec(const struct disk *d, const struct vq_chain *c, const struct guest_mem *m,
		 const struct blk_req *r, const char id[VIRTIO_BLK_ID_BYTES], struct iovec *iov,
		 int max_iov, uint32_t *written);

/* Open the drive's image and set up the device (not yet on any bus).
 * 0 or -errno with f saying why. Start-up or API thread, before boot. */
int blk_create(struct virtio_blk *b, const struct cfg_drive *cfg, struct fault *f);
/* Put it on the bus and the event loop (see virtio_mmio_register). */
int blk_register(struct virtio_blk *b, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log);
void blk_destroy(struct virtio_blk *b);

/* PATCH /drives/{id} after boot, on the VMM thread: switch to another image
 * (same read-only and cache settings), publish its capacity and raise a
 * config interrupt. 0, or -errno with f set and the old image kept. */
int blk_update_path(struct virtio_blk *b, const char *path, struct fault *f);
/* PATCH the rate limiter (see rl_update). VMM thread. */
void blk_update_rate_limiter(struct virtio_blk *b, const struct cfg_rate_limiter *cfg);

/* VMM thread: serve every available request (also the notify handler). */
void blk_process(struct virtio_blk *b);
/* VMM thread: complete every request in flight now, waiting for the disk,
 * and push them to the used ring (Async; Sync drives have none). Called
 * before a snapshot is saved and before an image swap. */
void blk_quiesce(struct virtio_blk *b);

/* --- between block.c and block_async.c --- */

/* Count a completed request in s. */
void blk_count(struct blk_stats *s, const struct blk_req *r, uint8_t status);
/* Set up / tear down the Async engine (b->async). 0 or -errno with f set. */
int blk_async_create(struct virtio_blk *b, const char *drive_id, struct fault *f);
int blk_async_register(struct virtio_blk *b);
void blk_async_destroy(struct virtio_blk *b);
/* Start a parsed, admitted request on the ring. 0: in flight, completed
 * later; -errno: not started (serve it synchronously, which reports any
 * error the same way). */
int blk_async_start(struct virtio_blk *b, const struct vq_chain *c, const struct blk_req *r);
/* Hand what blk_async_start queued to the kernel, then complete whatever
 * is already done (often all of it: cached reads finish inside the submit
 * call); *pushed is set if anything went to the used ring (the caller
 * signals). Returns whether a slot is free. */
bool blk_async_flush(struct virtio_blk *b, bool *pushed);
/* Wait for every request in flight; push them (push) or drop them (reset). */
void blk_async_drain(struct virtio_blk *b, bool push);

#endif
