/* A benchmark's virtqueue (vbench.c), shared by blk_bench and net_bench.
 *
 * The benchmark owns its chains outright (fixed descriptors per slot, no
 * free list to walk: guest code runs slowly here, and the device's cost
 * should show, not ours). VIRTIO_RING_F_EVENT_IDX is used when offered, as
 * Linux does: the guest notifies only when the device asked (avail_event)
 * and asks for no interrupts (it polls the used ring), so each VMM's
 * notification suppression is what sets the exits per request. */
#ifndef GUEST_VBENCH_H
#define GUEST_VBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include "guest.h"
#include "virtio.h"

struct vbq {
	struct vq q;
	bool event_idx;
	uint16_t avail_idx; /* ours: entries added, published or not */
	uint16_t published; /* the avail.idx the device has seen from us */
	/* q.last_used counts the used entries consumed. */
	uint64_t kicks;
};

/* Start polling q (set up by vq_setup): event_idx as negotiated, no
 * interrupts. The indices carry on from whatever the ring holds. */
void vbq_start(struct vbq *b, bool event_idx);
/* Queue the chain starting at descriptor head; not visible until published. */
void vbq_add(struct vbq *b, uint16_t head);
/* Make the added entries visible and notify if the device asked for it. */
void vbq_publish(struct vbq *b);
/* Wait up to ms for a used entry: 0, or -ETIMEDOUT. */
int vbq_wait(struct vbq *b, unsigned ms);
/* The next used entry, if there is one; when the ring is drained, asks
 * again for no interrupts and returns false. */
bool vbq_pop(struct vbq *b, struct vring_used_elem *e);

/* Whether [pa, pa + len) is RAM the guest maps (benchmark buffers live in
 * RAM outside the guest image, so they cost no .bss clearing). */
bool vbench_ram_ok(const struct guest *g, uint64_t pa, uint64_t len);

#endif
