/* One device-independent split virtqueue (virtio 1.1 §2.6), validating every
 * guest-controlled value before it becomes an index, a size or a pointer.
 *
 * Threading: a struct virtq is owned by the VMM (event-loop) thread once its
 * device is activated; nothing here locks. Guest memory is read through
 * gm_ptr()/gm_read() only, and every guest field is read exactly once into a
 * local copy before it is checked and used (another vCPU may be rewriting it).
 *
 * Error policy (documented choice):
 *  - a broken RING (avail.idx more than `size` ahead of what the device has
 *    consumed, a head index >= size, rings that moved out of RAM) marks the
 *    queue broken: vq_pop() returns -EIO from then on, until the transport
 *    resets the queue. The device logs it once and stops processing the queue;
 *    the rest of the VM keeps running.
 *  - a malformed CHAIN (bad next, loop, bad indirect table, buffer outside RAM,
 *    too many segments, length overflow, readable after writable) is consumed
 *    and reported with a negative errno other than -EIO; c->head is valid and
 *    the device completes it with vq_push(q, m, c->head, 0) and moves on. */
#ifndef FLINT_DEVICES_VIRTIO_QUEUE_H
#define FLINT_DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

/* The largest queue any flint device offers (virtio allows 32768). */
#define VQ_SIZE_LIMIT 1024

/* Queue state: plain fixed-width fields so a snapshot can save it as is.
 * A restored state is untrusted: vq_validate() it before use. */
struct virtq {
	uint16_t max_size;	 /* offered QueueNumMax; set by the transport */
	uint16_t size;		 /* QueueNum written by the driver */
	uint8_t ready;		 /* vq_validate() passed and the driver set QueueReady */
	uint8_t broken;		 /* see the error policy above */
	uint8_t event_idx;	 /* VIRTIO_RING_F_EVENT_IDX negotiated */
	uint8_t indirect;	 /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa;	 /* descriptor table: 16 * size bytes, 16-aligned */
	uint64_t avail_gpa;	 /* driver area: 6 + 2 * size bytes, 2-aligned */
	uint64_t used_gpa;	 /* device area: 6 + 8 * size bytes, 4-aligned */
	uint16_t last_avail_idx; /* next avail ring slot the device will consume */
	uint16_t next_used_idx;	 /* used.idx the device publishes next */
	uint16_t signalled_used; /* next_used_idx when we last decided about an interrupt */
	uint8_t signalled_valid; /* signalled_used is meaningful (EVENT_IDX) */
	uint8_t pad[3];
};

/* One guest buffer of a chain. gpa/len were checked to be RAM at pop time
 * (guest RAM never moves, so they stay valid). */
struct vq_seg {
	uint64_t gpa;
	uint32_t len;
	uint8_t writable;
};

/* A popped descriptor chain: nread device-readable segments, then the
 * device-writable ones. The caller owns segs and says how many fit (cap);
 * vq_pop never writes more than cap entries. */
struct vq_chain {
	struct vq_seg *segs;
	uint32_t cap;
	uint32_t nsegs;
	uint32_t nread;	    /* segs[0..nread) are readable, the rest writable */
	uint32_t read_len;  /* total readable bytes (fits in 32 bits: checked) */
	uint32_t write_len; /* total writable bytes (fits in 32 bits: checked) */
	uint16_t head;	    /* descriptor index to hand back with vq_push */
};

/* Forget all ring state (device reset); keeps max_size. */
void vq_reset(struct virtq *q);

/* Check the driver's configuration against the guest's RAM: size a power of
 * two in 1..max_size (max_size <= VQ_SIZE_LIMIT), ring alignment, and each
 * ring entirely inside RAM. features are the negotiated ones (EVENT_IDX and
 * INDIRECT_DESC are taken from them). Sets ready on success. 0 or -EINVAL.
 * Also used to re-check a restored snapshot state. */
int vq_validate(struct virtq *q, const struct guest_mem *m, uint64_t features);

/* Take the next available chain into c (c->segs, c->cap set by the caller).
 * Returns 1 with a chain, 0 if none is available (or the queue is not
 * ready), -EIO if the queue is broken, another -errno for a malformed chain
 * that was consumed (c->head valid; complete it with length 0). */
int vq_pop(struct virtq *q, const struct guest_mem *m, struct vq_chain *c);

/* Give the last popped chain back (the device could not process it now, e.g.
 * rate limited); the next vq_pop re-reads and re-validates it. */
void vq_undo_pop(struct virtq *q);

/* Return chain head to the driver with written_len bytes written into its
 * writable part. 0, or -EINVAL if head >= size, -EIO if broken/not ready. */
int vq_push(struct virtq *q, const struct guest_mem *m, uint16_t head, uint32_t written_len);

/* Whether the driver wants an interrupt for what was pushed since the last
 * call (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX, virtio 1.1
 * §2.6.7). Call once after a batch of vq_push, then signal if true. */
bool vq_needs_interrupt(struct virtq *q, const struct guest_mem *m);

/* Ask the driver to notify on the next new buffer: with EVENT_IDX publish
 * avail_event = last_avail_idx, without it clear VRING_USED_F_NO_NOTIFY
 * (which vq_pop sets: from a pop until this call the driver is told not to
 * notify, the device being busy with the queue anyway). Devices call this
 * when their queue runs dry. Returns true if more buffers arrived
 * meanwhile (the device should keep popping). */
bool vq_enable_notify(struct virtq *q, const struct guest_mem *m);

/* Copy len bytes starting at byte off of the chain's readable part into dst.
 * 0, or -EFAULT if the readable part is shorter than off + len. */
int vq_chain_read(const struct vq_chain *c, const struct guest_mem *m, uint64_t off, void *dst,
		  uint64_t len);
/* Copy len bytes from src to byte off of the chain's writable part. 0 or -EFAULT. */
int vq_chain_write(const struct vq_chain *c, const struct guest_mem *m, uint64_t off,
		   const void *src, uint64_t len);
/* Fill iov with host pointers for [off, off+len) of the readable (writable =
 * false) or writable part, for zero-copy I/O. Returns the number of iovecs
 * used, or -EFAULT (range beyond the part) / -E2BIG (more than max_iov). */
int vq_chain_iov(const struct vq_chain *c, const struct guest_mem *m, bool writable, uint64_t off,
		 uint64_t len, struct iovec *iov, int max_iov);

#endif
