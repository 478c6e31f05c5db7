/* Split virtqueue, device side. Section numbers cite virtio 1.1 (§2.6). */
#include "devices/virtio/queue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define VQ_DESC_BYTES 16u /* sizeof(struct vring_desc) */
#define VQ_USED_ELEM  8u  /* sizeof(struct vring_used_elem) */

/* Ring field addresses. Fit in 64 bits: the rings were checked to be RAM. */
static uint64_t vq_avail_idx_gpa(const struct virtq *q)
{
	return q->avail_gpa + 2;
}

static uint64_t vq_avail_ring_gpa(const struct virtq *q, uint16_t i)
{
	return q->avail_gpa + 4 + 2 * (uint64_t)(i & (q->size - 1));
}

static uint64_t vq_used_event_gpa(const struct virtq *q)
{
	return q->avail_gpa + 4 + 2 * (uint64_t)q->size;
}

static uint64_t vq_avail_event_gpa(const struct virtq *q)
{
	return q->used_gpa + 4 + VQ_USED_ELEM * (uint64_t)q->size;
}

/* Read one little-endian u16 guest field exactly once. */
static int vq_load16(const struct guest_mem *m, uint64_t gpa, uint16_t *out)
{
	const uint16_t *p = gm_ptr(m, gpa, sizeof(*p));

	if (!p || ((uintptr_t)p & 1))
		return -EFAULT;
	*out = le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
	return 0;
}

static int vq_store16(const struct guest_mem *m, uint64_t gpa, uint16_t v)
{
	uint16_t *p = gm_ptr(m, gpa, sizeof(*p));

	if (!p || ((uintptr_t)p & 1))
		return -EFAULT;
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
	return 0;
}

static int vq_break(struct virtq *q)
{
	q->broken = 1;
	return -EIO;
}

void vq_reset(struct virtq *q)
{
	uint16_t max = q->max_size;

	memset(q, 0, sizeof(*q));
	q->max_size = max;
}

int vq_validate(struct virtq *q, const struct guest_mem *m, uint64_t features)
{
	uint64_t n = q->size;

	q->ready = 0;
	if (q->max_size == 0 || q->max_size > VQ_SIZE_LIMIT)
		return -EINVAL;
	if (n == 0 || n > q->max_size || (n & (n - 1)) != 0)
		return -EINVAL;
	/* §2.6: descriptor table 16-aligned, driver area 2, device area 4. */
	if (q->desc_gpa % VRING_DESC_ALIGN_SIZE || q->avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
	    q->used_gpa % VRING_USED_ALIGN_SIZE)
		return -EINVAL;
	/* Sizes from the table in §2.6 (the event fields always included). */
	if (!gm_ptr(m, q->desc_gpa, VQ_DESC_BYTES * n) || !gm_ptr(m, q->avail_gpa, 6 + 2 * n) ||
	    !gm_ptr(m, q->used_gpa, 6 + VQ_USED_ELEM * n))
		return -EINVAL;
	q->event_idx = !!(features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	q->indirect = !!(features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	q->ready = 1;
	return 0;
}

/* Append one buffer to the chain after checking it against RAM, ordering,
 * the caller's array and 32-bit length totals. */
static int vq_add_seg(struct vq_chain *c, const struct guest_mem *m, uint64_t gpa, uint32_t len,
		      bool writable)
{
	uint32_t *part = writable ? &c->write_len : &c->read_len;
	uint32_t total;

	if (!gm_ptr(m, gpa, len))
		return -EFAULT;
	/* §2.6.4.2: device-writable buffers come after all readable ones. */
	if (!writable && c->nsegs > c->nread)
		return -EINVAL;
	if (c->nsegs >= c->cap)
		return -E2BIG;
	if (__builtin_add_overflow(*part, len, part) ||
	    __builtin_add_overflow(c->read_len, c->write_len, &total))
		return -EOVERFLOW;
	c->segs[c->nsegs].gpa = gpa;
	c->segs[c->nsegs].len = len;
	c->segs[c->nsegs].writable = writable;
	c->nsegs++;
	if (!writable)
		c->nread++;
	return 0;
}

/* Where the walk currently reads descriptors from. */
struct vq_table {
	uint64_t gpa;
	uint32_t n;
	bool indirect;
};

/* §2.6.5.3: switch the walk to an indirect table described by d (a copy). */
static int vq_enter_indirect(const struct virtq *q, const struct guest_mem *m,
			     const struct vring_desc *d, uint16_t flags, struct vq_table *t)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);

	if (!q->indirect || t->indirect)
		return -EINVAL; /* not negotiated, or nested */
	if (flags & VRING_DESC_F_NEXT)
		return -EINVAL; /* §2.6.5.3.1: INDIRECT and NEXT are exclusive */
	/* No alignment is required of an indirect table (only the ring's own
	 * table is 16-aligned, §2.7): Linux's kmalloc may give 8-aligned ones,
	 * and descriptors are copied out with gm_read anyway. */
	if (len == 0 || len % VQ_DESC_BYTES != 0)
		return -EINVAL;
	if (!gm_ptr(m, addr, len))
		return -EFAULT;
	t->gpa = addr;
	t->n = len / VQ_DESC_BYTES;
	t->indirect = true;
	return 0;
}

/* Walk the chain starting at head. At most q->size descriptors are followed
 * in the ring and at most q->size in an indirect table (§2.6.5.3.1: a chain is
 * never longer than the queue size), which also ends any loop. */
static int vq_walk(const struct virtq *q, const struct guest_mem *m, struct vq_chain *c,
		   uint16_t head)
{
	struct vq_table t = {.gpa = q->desc_gpa, .n = q->size, .indirect = false};
	uint32_t budget = q->size, idx = head;
	bool first = true;

	for (;;) {
		struct vring_desc d; /* private copy: the guest may change its own */
		uint16_t flags;
		int err;

		if (budget-- == 0)
			return -ELOOP;
		if (gm_read(m, &d, t.gpa + (uint64_t)idx * VQ_DESC_BYTES, sizeof(d)))
			return -EFAULT;
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			/* Only the head may point to a table, as every driver does. */
			if (!first)
				return -EINVAL;
			err = vq_enter_indirect(q, m, &d, flags, &t);
			if (err)
				return err;
			budget = q->size;
			idx = 0;
			first = false;
			continue;
		}
		first = false;
		err = vq_add_seg(c, m, le64toh(d.addr), le32toh(d.len), flags & VRING_DESC_F_WRITE);
		if (err)
			return err;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		idx = le16toh(d.next);
		if (idx >= t.n)
			return -EINVAL;
	}
}

int vq_pop(struct virtq *q, const struct guest_mem *m, struct vq_chain *c)
{
	uint16_t avail_idx, pending, head;
	int err;

	c->nsegs = c->nread = c->read_len = c->write_len = 0;
	c->head = 0;
	if (q->broken)
		return -EIO;
	if (!q->ready)
		return 0;
	if (vq_load16(m, vq_avail_idx_gpa(q), &avail_idx))
		return vq_break(q);
	pending = (uint16_t)(avail_idx - q->last_avail_idx);
	if (pending == 0)
		return 0;
	/* More than a full ring of new buffers is impossible for a sane driver:
	 * treat the ring as broken instead of guessing which entries are real. */
	if (pending > q->size)
		return vq_break(q);
	/* §2.6.13.3: read avail.idx before the ring entries it publishes. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (vq_load16(m, vq_avail_ring_gpa(q, q->last_avail_idx), &head))
		return vq_break(q);
	/* A head we cannot index cannot be returned either: the ring is broken. */
	if (head >= q->size)
		return vq_break(q);
	q->last_avail_idx++;
	/* Busy on this queue: without EVENT_IDX, advise the driver that it
	 * need not notify (§2.7.10) until vq_enable_notify says otherwise; with
	 * it, the avail_event left where it was does the same. */
	if (!q->event_idx && vq_store16(m, q->used_gpa, VRING_USED_F_NO_NOTIFY))
		return vq_break(q);
	c->head = head;
	err = vq_walk(q, m, c, head);
	return err ? err : 1;
}

void vq_undo_pop(struct virtq *q)
{
	q->last_avail_idx--;
}

int vq_push(struct virtq *q, const struct guest_mem *m, uint16_t head, uint32_t written_len)
{
	uint64_t slot;
	struct vring_used_elem e;

	if (q->broken || !q->ready)
		return -EIO;
	if (head >= q->size)
		return -EINVAL;
	slot = q->used_gpa + 4 + VQ_USED_ELEM * (uint64_t)(q->next_used_idx & (q->size - 1));
	e.id = htole32(head);
	e.len = htole32(written_len);
	if (gm_write(m, slot, &e, sizeof(e)))
		return vq_break(q);
	/* §2.6.8.2: the element must be visible before the idx that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->next_used_idx++;
	if (vq_store16(m, q->used_gpa + 2, q->next_used_idx))
		return vq_break(q);
	return 0;
}

bool vq_needs_interrupt(struct virtq *q, const struct guest_mem *m)
{
	uint16_t v, old = q->signalled_used, now = q->next_used_idx;
	bool valid = q->signalled_valid;

	if (!q->ready || q->broken)
		return false;
	/* §2.6.7.2: used.idx must be visible before we read the driver's
	 * suppression field, or we race with a driver re-enabling interrupts. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx) {
		if (vq_load16(m, q->avail_gpa, &v))
			return true;
		return !(v & VRING_AVAIL_F_NO_INTERRUPT);
	}
	q->signalled_used = now;
	q->signalled_valid = 1;
	if (!valid)
		return true;
	if (vq_load16(m, vq_used_event_gpa(q), &v))
		return true;
	/* Interrupt iff used_event lies in [old, now): vring_need_event(). */
	return (uint16_t)(now - v - 1) < (uint16_t)(now - old);
}

bool vq_enable_notify(struct virtq *q, const struct guest_mem *m)
{
	uint16_t avail_idx;

	if (!q->ready || q->broken)
		return false;
	if (q->event_idx ? vq_store16(m, vq_avail_event_gpa(q), q->last_avail_idx)
			 : vq_store16(m, q->used_gpa, 0))
		return false;
	/* §2.6.10: publish avail_event before re-reading avail.idx, so a buffer
	 * added meanwhile is either seen here or notified by the driver. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq_load16(m, vq_avail_idx_gpa(q), &avail_idx))
		return false;
	return avail_idx != q->last_avail_idx;
}

/* Call fn on each host piece of bytes [off, off+len) of one part of c. */
static int vq_chain_each(const struct vq_chain *c, const struct guest_mem *m, bool writable,
			 uint64_t off, uint64_t len, int (*fn)(void *ctx, uint8_t *p, uint64_t n),
			 void *ctx)
{
	uint32_t i = writable ? c->nread : 0;
	uint32_t end = writable ? c->nsegs : c->nread;

	for (; i < end && len > 0; i++) {
		const struct vq_seg *s = &c->segs[i];
		uint64_t n;
		uint8_t *p;
		int err;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off < len ? s->len - off : len;
		p = gm_ptr(m, s->gpa + off, n);
		if (!p)
			return -EFAULT;
		err = fn(ctx, p, n);
		if (err)
			return err;
		off = 0;
		len -= n;
	}
	return len ? -EFAULT : 0;
}

static int vq_copy_out(void *ctx, uint8_t *p, uint64_t n)
{
	uint8_t **dst = ctx;

	memcpy(*dst, p, n);
	*dst += n;
	return 0;
}

static int vq_copy_in(void *ctx, uint8_t *p, uint64_t n)
{
	const uint8_t **src = ctx;

	memcpy(p, *src, n);
	*src += n;
	return 0;
}

int vq_chain_read(const struct vq_chain *c, const struct guest_mem *m, uint64_t off, void *dst,
		  uint64_t len)
{
	uint8_t *cur = dst;

	return vq_chain_each(c, m, false, off, len, vq_copy_out, &cur);
}

int vq_chain_write(const struct vq_chain *c, const struct guest_mem *m, uint64_t off,
		   const void *src, uint64_t len)
{
	const uint8_t *cur = src;

	return vq_chain_each(c, m, true, off, len, vq_copy_in, &cur);
}

struct vq_iov_ctx {
	struct iovec *iov;
	int n;
	int max;
};

static int vq_add_iov(void *ctx, uint8_t *p, uint64_t n)
{
	struct vq_iov_ctx *x = ctx;

	if (x->n >= x->max)
		return -E2BIG;
	x->iov[x->n].iov_base = p;
	x->iov[x->n].iov_len = n;
	x->n++;
	return 0;
}

int vq_chain_iov(const struct vq_chain *c, const struct guest_mem *m, bool writable, uint64_t off,
		 uint64_t len, struct iovec *iov, int max_iov)
{
	struct vq_iov_ctx x = {.iov = iov, .n = 0, .max = max_iov};
	int err = vq_chain_each(c, m, writable, off, len, vq_add_iov, &x);

	return err ? err : x.n;
}
