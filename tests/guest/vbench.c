/* The benchmarks' polled virtqueue: see vbench.h. */
#include <linux/errno.h>
#include <linux/virtio_ring.h>
#include "arch.h"
#include "lib.h"
#include "vbench.h"

/* The EVENT_IDX fields after each ring (virtio 1.1 §2.6.7, §2.6.8). */
static volatile uint16_t *vbq_used_event(struct vbq *b)
{
	return (volatile uint16_t *)&b->q.avail->ring[b->q.size];
}

static volatile uint16_t *vbq_avail_event(struct vbq *b)
{
	return (volatile uint16_t *)&b->q.used->ring[b->q.size];
}

/* Ask for no interrupts (we poll): with EVENT_IDX, a used_event just behind
 * what we consumed is crossed only after 65535 more completions. */
static void vbq_no_irq(struct vbq *b)
{
	if (b->event_idx)
		*vbq_used_event(b) = (uint16_t)(b->q.last_used - 1);
	else
		b->q.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
}

void vbq_start(struct vbq *b, bool event_idx)
{
	b->event_idx = event_idx;
	b->avail_idx = b->published = b->q.avail->idx;
	b->kicks = 0;
	vbq_no_irq(b);
}

void vbq_add(struct vbq *b, uint16_t head)
{
	b->q.avail->ring[b->avail_idx % b->q.size] = head;
	b->avail_idx++;
}

void vbq_publish(struct vbq *b)
{
	uint16_t old = b->published;

	if (b->avail_idx == old)
		return;
	mb(); /* descriptors and ring entries before the index */
	b->q.avail->idx = b->published = b->avail_idx;
	mb(); /* the new index is visible before we read what the device wants */
	if (b->event_idx) {
		if (!vring_need_event(*vbq_avail_event(b), b->avail_idx, old))
			return;
	} else if (*(volatile uint16_t *)&b->q.used->flags & VRING_USED_F_NO_NOTIFY) {
		return;
	}
	b->kicks++;
	vq_notify(&b->q);
}

int vbq_wait(struct vbq *b, unsigned ms)
{
	uint64_t start = rdtsc();

	while (*(volatile uint16_t *)&b->q.used->idx == b->q.last_used) {
		if (rdtsc() - start > ms * GUEST_TSC_MS)
			return -ETIMEDOUT;
		cpu_relax();
	}
	return 0;
}

bool vbq_pop(struct vbq *b, struct vring_used_elem *e)
{
	if (*(volatile uint16_t *)&b->q.used->idx == b->q.last_used) {
		vbq_no_irq(b);
		return false;
	}
	mb(); /* read the element only after seeing the index move */
	*e = b->q.used->ring[b->q.last_used % b->q.size];
	b->q.last_used++;
	return true;
}

bool vbench_ram_ok(const struct guest *g, uint64_t pa, uint64_t len)
{
	for (unsigned i = 0; i < g->nregions; i++) {
		const struct guest_region *r = &g->regions[i];

		if (r->type == GUEST_E820_RAM && r->addr <= pa && pa + len <= r->addr + r->size &&
		    pa + len <= g->mapped_end)
			return true;
	}
	return false;
}
