/* virtio-mmio (version 2, VIRTIO_F_VERSION_1) driver core for the test
 * guest: device discovery from the virtio_mmio.device= command-line
 * entries, initialisation, split virtqueues, polled completion.
 * Boot CPU only. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>
#include "guest.h"

#define VQ_SIZE_MAX    64
#define VQ_RING_BYTES  4096 /* one page holds desc, avail and used rings */
#define VIRTIO_WAIT_MS 2000

/* A split virtqueue whose three rings share one page-aligned page. The
 * free list and chain lengths are ours, never read back from the ring. */
struct vq {
	uint64_t base; /* device's MMIO base */
	uint16_t index, size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_used;
	uint16_t free_head, nfree;
	uint16_t next[VQ_SIZE_MAX];
	uint16_t chain_len[VQ_SIZE_MAX];
};

struct vdev {
	uint64_t base;
	uint32_t irq;
	uint32_t id, version, vendor;
	uint64_t offered, features; /* device features; the accepted subset */
};

/* One element of a descriptor chain. */
struct vbuf {
	const void *addr;
	uint32_t len;
	bool write; /* device writes it */
};

/* Find the nth (0-based) device with this virtio device id among the
 * command line's devices; fills d. 0 or -ENODEV. */
int vdev_find(const struct guest *g, uint32_t device_id, unsigned nth, struct vdev *d);
/* Reset, ACKNOWLEDGE, DRIVER, negotiate want & offered (VERSION_1 is
 * required), FEATURES_OK. 0 or -errno (reason printed). */
int vdev_init(struct vdev *d, uint64_t want);
/* Set up queue index on ring_page (VQ_RING_BYTES, page aligned, ours). */
int vq_setup(const struct vdev *d, struct vq *q, uint16_t index, void *ring_page);
void vdev_driver_ok(const struct vdev *d);
/* Write 0 to the status register and wait for the reset to complete. */
void vdev_reset(const struct vdev *d);
uint32_t vdev_status(const struct vdev *d);
uint32_t vdev_cfg32(const struct vdev *d, uint32_t off);
uint8_t vdev_cfg8(const struct vdev *d, uint32_t off);

/* Queue a chain; returns its head index, or -ENOSPC. Does not notify. */
int vq_add(struct vq *q, const struct vbuf *b, unsigned n);
/* Notify the device, unless it set VRING_USED_F_NO_NOTIFY (the driver
 * SHOULD NOT notify then, virtio 1.1 §2.6.10; Linux does not). */
void vq_kick(const struct vq *q);
/* Notify whatever the device advised (hostile tests: the ring may be one the
 * device stopped reading). */
void vq_notify(const struct vq *q);
/* Wait up to ms for one used element; frees its chain; *len = used len.
 * Returns the head id, -ETIMEDOUT, or -EIO for a used id we never gave. */
int vq_poll(struct vq *q, uint32_t *len, unsigned ms);
/* vq_add + vq_kick + vq_poll for a single request. */
int vq_run(struct vq *q, const struct vbuf *b, unsigned n, uint32_t *len);
/* Acknowledge any pending interrupt (we poll; this keeps the line quiet). */
void vdev_ack_irq(const struct vdev *d);

#endif
