/* virtio-mmio v2 transport and split virtqueues, polled. */
#include <linux/errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */

static uint32_t vd_read(const struct vdev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void vd_write(const struct vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

uint32_t vdev_status(const struct vdev *d)
{
	return vd_read(d, VIRTIO_MMIO_STATUS);
}

uint32_t vdev_cfg32(const struct vdev *d, uint32_t off)
{
	return vd_read(d, VIRTIO_MMIO_CONFIG + off);
}

uint8_t vdev_cfg8(const struct vdev *d, uint32_t off)
{
	return mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off);
}

int vdev_find(const struct guest *g, uint32_t device_id, unsigned nth, struct vdev *d)
{
	for (unsigned i = 0; i < g->opts.nvirtio; i++) {
		const struct guest_mmio_dev *m = &g->opts.virtio[i];
		struct vdev c = {.base = m->base, .irq = m->irq};

		if (vd_read(&c, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
			continue;
		c.id = vd_read(&c, VIRTIO_MMIO_DEVICE_ID);
		c.version = vd_read(&c, VIRTIO_MMIO_VERSION);
		c.vendor = vd_read(&c, VIRTIO_MMIO_VENDOR_ID);
		if (c.id != device_id || nth--)
			continue;
		*d = c;
		con_printf("virtio: device id=%u at 0x%llx irq=%u version=%u vendor=0x%x\n", c.id,
			   (unsigned long long)c.base, c.irq, c.version, c.vendor);
		return 0;
	}
	return -ENODEV;
}

void vdev_reset(const struct vdev *d)
{
	vd_write(d, VIRTIO_MMIO_STATUS, 0);
	for (int i = 0; i < 100000 && vdev_status(d) != 0; i++)
		cpu_relax();
}

static uint64_t vdev_read_features(const struct vdev *d)
{
	uint64_t f;

	vd_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)vd_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vd_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | vd_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

int vdev_init(struct vdev *d, uint64_t want)
{
	if (d->version != 2) {
		con_printf("virtio: version %u transport not supported (need 2)\n", d->version);
		return -EOPNOTSUPP;
	}
	vdev_reset(d);
	vd_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vd_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	d->offered = vdev_read_features(d);
	want |= 1ULL << VIRTIO_F_VERSION_1;
	d->features = d->offered & want;
	if (!(d->features & (1ULL << VIRTIO_F_VERSION_1))) {
		con_printf("virtio: device does not offer VERSION_1\n");
		return -EOPNOTSUPP;
	}
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vd_write(d, VIRTIO_MMIO_STATUS,
		 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		     VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vdev_status(d) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		con_printf("virtio: FEATURES_OK not accepted (status 0x%x)\n", vdev_status(d));
		return -EIO;
	}
	con_printf("virtio: features offered=0x%llx accepted=0x%llx\n",
		   (unsigned long long)d->offered, (unsigned long long)d->features);
	return 0;
}

static void vd_write64(const struct vdev *d, uint32_t lo_off, const void *p)
{
	uint64_t a = (uintptr_t)p;

	vd_write(d, lo_off, (uint32_t)a);
	vd_write(d, lo_off + 4, (uint32_t)(a >> 32));
}

int vq_setup(const struct vdev *d, struct vq *q, uint16_t index, void *ring_page)
{
	uint32_t max;
	uint16_t size = VQ_SIZE_MAX;
	uint8_t *p = ring_page;

	vd_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (vd_read(d, VIRTIO_MMIO_QUEUE_READY))
		return -EBUSY;
	max = vd_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max)
		return -ENOENT;
	while (size > max)
		size /= 2;
	memset(p, 0, VQ_RING_BYTES);
	*q = (struct vq){.base = d->base, .index = index, .size = size};
	q->desc = (struct vring_desc *)p;
	q->avail = (struct vring_avail *)(p + 1024);
	q->used = (struct vring_used *)(p + 2048);
	for (uint16_t i = 0; i < size; i++)
		q->next[i] = (uint16_t)(i + 1);
	q->nfree = size;
	vd_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	vd_write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc);
	vd_write64(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q->avail);
	vd_write64(d, VIRTIO_MMIO_QUEUE_USED_LOW, q->used);
	vd_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

void vdev_driver_ok(const struct vdev *d)
{
	vd_write(d, VIRTIO_MMIO_STATUS,
		 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		     VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

void vdev_ack_irq(const struct vdev *d)
{
	uint32_t s = vd_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);

	if (s)
		vd_write(d, VIRTIO_MMIO_INTERRUPT_ACK, s);
}

int vq_add(struct vq *q, const struct vbuf *b, unsigned n)
{
	uint16_t head = q->free_head, i = head, slot;

	if (!n || n > q->nfree)
		return -ENOSPC;
	for (unsigned k = 0; k < n; k++) {
		q->desc[i].addr = (uintptr_t)b[k].addr;
		q->desc[i].len = b[k].len;
		q->desc[i].flags = (uint16_t)((b[k].write ? VRING_DESC_F_WRITE : 0) |
					      (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		q->desc[i].next = q->next[i];
		if (k + 1 < n)
			i = q->next[i];
	}
	q->free_head = q->next[i];
	q->nfree = (uint16_t)(q->nfree - n);
	q->chain_len[head] = (uint16_t)n;
	slot = q->avail->idx % q->size;
	q->avail->ring[slot] = head;
	/* The descriptors and ring slot must be visible before the index. */
	mb();
	q->avail->idx = (uint16_t)(q->avail->idx + 1);
	mb();
	return head;
}

void vq_notify(const struct vq *q)
{
	mmio_write32(q->base + VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

void vq_kick(const struct vq *q)
{
	/* vq_add's barrier orders avail.idx before this read (§2.7.10). */
	if (!(*(volatile uint16_t *)&q->used->flags & VRING_USED_F_NO_NOTIFY))
		vq_notify(q);
}

static void vq_free_chain(struct vq *q, uint16_t head)
{
	uint16_t i = head, n = q->chain_len[head];

	for (uint16_t k = 1; k < n; k++)
		i = q->next[i];
	q->next[i] = q->free_head;
	q->free_head = head;
	q->nfree = (uint16_t)(q->nfree + n);
	q->chain_len[head] = 0;
}

int vq_poll(struct vq *q, uint32_t *len, unsigned ms)
{
	uint64_t start = rdtsc();
	struct vring_used_elem e;
	uint32_t s;

	while (*(volatile uint16_t *)&q->used->idx == q->last_used) {
		if (rdtsc() - start > ms * GUEST_TSC_MS)
			return -ETIMEDOUT;
		cpu_relax();
	}
	/* Read the element only after seeing the index move. */
	mb();
	e = q->used->ring[q->last_used % q->size];
	q->last_used++;
	if (e.id >= q->size || !q->chain_len[e.id]) {
		con_printf("virtio: used id %u is not a chain we queued\n", e.id);
		return -EIO;
	}
	vq_free_chain(q, (uint16_t)e.id);
	*len = e.len;
	/* We poll; acknowledge so a level-triggered line does not stay up. */
	s = mmio_read32(q->base + VIRTIO_MMIO_INTERRUPT_STATUS);
	if (s)
		mmio_write32(q->base + VIRTIO_MMIO_INTERRUPT_ACK, s);
	return (int)e.id;
}

int vq_run(struct vq *q, const struct vbuf *b, unsigned n, uint32_t *len)
{
	int rc = vq_add(q, b, n);

	if (rc < 0)
		return rc;
	vq_kick(q);
	return vq_poll(q, len, VIRTIO_WAIT_MS);
}
