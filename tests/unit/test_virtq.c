/* Hostile-ring tests for devices/virtio/queue.c on a real guest_mem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "devices/virtio/queue.h"
#include "vmm/guest_mem.h"

#define RAM	MiB(16)
#define DESC	0x1000ULL
#define AVAIL	0x2000ULL
#define USED	0x3000ULL
#define TABLE	0x8000ULL /* indirect tables */
#define BUF	0x10000ULL
#define QSIZE	8
#define ALLFEAT ((1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

struct fx {
	struct guest_mem m;
	struct virtq q;
	struct vq_seg segs[16];
	struct vq_chain c;
};

static int fx_setup(void **state)
{
	static struct fx f; /* cmocka state: one at a time */

	memset(&f, 0, sizeof(f));
	if (gm_create(&f.m, RAM, GM_BACKING_ANON))
		return -1;
	f.q.max_size = 256;
	f.q.size = QSIZE;
	f.q.desc_gpa = DESC;
	f.q.avail_gpa = AVAIL;
	f.q.used_gpa = USED;
	f.c.segs = f.segs;
	f.c.cap = 16;
	*state = &f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	gm_destroy(&f->m);
	return 0;
}

static void put_desc_at(struct fx *f, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

	assert_int_equal(gm_write(&f->m, table + 16ULL * i, &d, sizeof(d)), 0);
}

static void put_desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	put_desc_at(f, DESC, i, addr, len, flags, next);
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	assert_int_equal(gm_write(&f->m, gpa, &v, 2), 0);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	assert_int_equal(gm_read(&f->m, &v, gpa, 2), 0);
	return v;
}

/* Publish head in avail slot idx and set avail.idx = idx + 1. */
static void offer(struct fx *f, uint16_t idx, uint16_t head)
{
	put16(f, AVAIL + 4 + 2 * (idx % f->q.size), head);
	put16(f, AVAIL + 2, idx + 1);
}

static void ready(struct fx *f, uint64_t features)
{
	assert_int_equal(vq_validate(&f->q, &f->m, features), 0);
}

static void test_simple_chain(void **state)
{
	struct fx *f = *state;
	uint32_t used[2];

	ready(f, 0);
	put_desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, 3);
	put_desc(f, 3, BUF + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	put_desc(f, 5, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(f->c.head, 0);
	assert_int_equal(f->c.nsegs, 3);
	assert_int_equal(f->c.nread, 1);
	assert_int_equal(f->c.read_len, 16);
	assert_int_equal(f->c.write_len, 513);
	assert_int_equal(f->c.segs[1].gpa, BUF + 0x100);
	assert_true(f->c.segs[2].writable);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 0);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 513), 0);
	assert_int_equal(get16(f, USED + 2), 1);
	assert_int_equal(gm_read(&f->m, used, USED + 4, 8), 0);
	assert_int_equal(used[0], 0);
	assert_int_equal(used[1], 513);
	assert_int_equal(vq_push(&f->q, &f->m, QSIZE, 0), -EINVAL);
}

static void test_bad_sizes(void **state)
{
	struct fx *f = *state;
	const uint16_t bad[] = {0, 3, 6, 100, 512};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->q.size = bad[i];
		assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
		assert_false(f->q.ready);
	}
	f->q.size = 256;
	assert_int_equal(vq_validate(&f->q, &f->m, 0), 0);
	f->q.max_size = 2048; /* beyond what any device may offer */
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	/* a not-ready queue yields nothing */
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 0);
}

static void test_bad_alignment(void **state)
{
	struct fx *f = *state;

	f->q.desc_gpa = DESC + 8;
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL + 1;
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED + 2;
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
}

static void test_rings_outside_ram(void **state)
{
	struct fx *f = *state;

	f->q.desc_gpa = RAM; /* just past the end */
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	f->q.desc_gpa = RAM - 16 * QSIZE + 16; /* straddles the end */
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	f->q.desc_gpa = RAM - 16 * QSIZE; /* fits exactly */
	assert_int_equal(vq_validate(&f->q, &f->m, 0), 0);
	f->q.avail_gpa = RAM - (6 + 2 * QSIZE) + 2;
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = RAM - (6 + 8 * QSIZE) + 4;
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	f->q.used_gpa = 0xfffffffffffffff0ULL; /* wraps */
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
	f->q.used_gpa = LAYOUT_MMIO32_START;
	assert_int_equal(vq_validate(&f->q, &f->m, 0), -EINVAL);
}

static void test_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	put_desc(f, 0, BUF, 16, 0, 0);
	put16(f, AVAIL + 2, QSIZE + 1);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EIO);
	assert_true(f->q.broken);
	put16(f, AVAIL + 2, 1); /* repairing the ring does not unbreak the queue */
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EIO);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), -EIO);
	assert_false(vq_needs_interrupt(&f->q, &f->m));
}

static void test_avail_idx_wraps(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	f->q.last_avail_idx = 0xffff;
	put_desc(f, 0, BUF, 16, 0, 0);
	put16(f, AVAIL + 4 + 2 * (0xffff % QSIZE), 0);
	put16(f, AVAIL + 2, 0); /* one entry across the 16-bit wrap */
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(f->q.last_avail_idx, 0);
	/* exactly size pending is legal */
	for (int i = 0; i < QSIZE; i++)
		offer(f, (uint16_t)i, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	offer(f, 0, QSIZE);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EIO);
	assert_true(f->q.broken);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	put_desc(f, 2, BUF, 16, VRING_DESC_F_NEXT, QSIZE);
	offer(f, 0, 2);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
	assert_int_equal(f->c.head, 2); /* consumed: the device returns it */
	assert_false(f->q.broken);
	assert_int_equal(vq_push(&f->q, &f->m, f->c.head, 0), 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 0);
}

static void test_descriptor_loop(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	put_desc(f, 0, BUF, 1, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF, 1, VRING_DESC_F_NEXT, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -ELOOP);
	/* self loop */
	put_desc(f, 4, BUF, 1, VRING_DESC_F_NEXT, 4);
	offer(f, 1, 4);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -ELOOP);
}

static void test_chain_exactly_size(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	for (int i = 0; i < QSIZE; i++)
		put_desc(f, (uint16_t)i, BUF, 1, i < QSIZE - 1 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(f->c.nsegs, QSIZE);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;

	ready(f, ALLFEAT);
	put_desc_at(f, TABLE, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	put_desc_at(f, TABLE, 1, BUF + 0x200, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	put_desc_at(f, TABLE, 2, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	put_desc(f, 1, TABLE, 48, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0, 1);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(f->c.head, 1);
	assert_int_equal(f->c.nsegs, 3);
	assert_int_equal(f->c.nread, 1);
	assert_int_equal(f->c.write_len, 513);
}

/* Linux's kmalloc (SLOB) may place an indirect table on an 8-byte boundary;
 * the spec asks no alignment of it, so it must be accepted. */
static void test_indirect_table_8_aligned(void **state)
{
	struct fx *f = *state;

	ready(f, ALLFEAT);
	put_desc_at(f, TABLE + 8, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	put_desc_at(f, TABLE + 8, 1, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	put_desc(f, 0, TABLE + 8, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(f->c.nsegs, 2);
	assert_int_equal(f->c.write_len, 1);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;

	ready(f, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	put_desc_at(f, TABLE, 0, BUF, 16, 0, 0);
	put_desc(f, 0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
}

static void test_indirect_hostile(void **state)
{
	struct fx *f = *state;
	uint16_t idx = 0;

	ready(f, ALLFEAT);
	put_desc_at(f, TABLE, 0, BUF, 16, 0, 0);
	/* nested */
	put_desc_at(f, TABLE + 0x100, 0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(f, 0, TABLE + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
	/* length not a multiple of 16, and zero */
	put_desc(f, 0, TABLE, 24, VRING_DESC_F_INDIRECT, 0);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
	put_desc(f, 0, TABLE, 0, VRING_DESC_F_INDIRECT, 0);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
	/* outside RAM, straddling the end */
	put_desc(f, 0, RAM - 16, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EFAULT);
	put_desc(f, 0, LAYOUT_MMIO32_START, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EFAULT);
	/* INDIRECT together with NEXT */
	put_desc(f, 0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
	/* indirect table referenced mid-chain */
	put_desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
	/* next beyond the table */
	put_desc_at(f, TABLE, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	put_desc(f, 0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, idx++, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
	assert_false(f->q.broken);
}

static void test_indirect_too_long(void **state)
{
	struct fx *f = *state;

	ready(f, ALLFEAT);
	/* a loop-free table longer than the queue size */
	for (int i = 0; i < QSIZE + 1; i++)
		put_desc_at(f, TABLE, (uint16_t)i, BUF, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	put_desc_at(f, TABLE, QSIZE + 1, BUF, 1, 0, 0);
	put_desc(f, 0, TABLE, 16 * (QSIZE + 2), VRING_DESC_F_INDIRECT, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -ELOOP);
	/* and a loop inside a table */
	put_desc_at(f, TABLE, 1, BUF, 1, VRING_DESC_F_NEXT, 0);
	put_desc(f, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 1, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -ELOOP);
}

static void test_buffer_outside_ram(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	put_desc(f, 0, RAM - 8, 16, 0, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EFAULT);
	put_desc(f, 0, 0xffffffffffffff00ULL, 0x1000, 0, 0);
	offer(f, 1, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EFAULT);
	put_desc(f, 0, LAYOUT_MMIO32_START - 4, 8, VRING_DESC_F_WRITE, 0);
	offer(f, 2, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EFAULT);
}

static void test_length_overflow(void **state)
{
	struct fx *f = *state;
	struct vq_seg many[256];

	/* 256 overlapping 16 MiB buffers sum to 4 GiB: one past u32. */
	f->q.size = 256;
	ready(f, ALLFEAT);
	f->c.segs = many;
	f->c.cap = 256;
	for (int i = 0; i < 256; i++)
		put_desc_at(f, TABLE, (uint16_t)i, 0, (uint32_t)RAM,
			    i < 255 ? VRING_DESC_F_NEXT | VRING_DESC_F_WRITE : VRING_DESC_F_WRITE,
			    (uint16_t)(i + 1));
	put_desc(f, 0, TABLE, 16 * 256, VRING_DESC_F_INDIRECT, 0);
	put16(f, AVAIL + 4, 0);
	put16(f, AVAIL + 2, 1);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EOVERFLOW);
	/* readable + writable totals together overflow too */
	for (int i = 0; i < 128; i++)
		put_desc_at(f, TABLE, (uint16_t)i, 0, (uint32_t)RAM, VRING_DESC_F_NEXT,
			    (uint16_t)(i + 1));
	put16(f, AVAIL + 6, 0);
	put16(f, AVAIL + 2, 2);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EOVERFLOW);
}

static void test_too_many_segments(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	f->c.cap = 2;
	put_desc(f, 0, BUF, 1, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF, 1, VRING_DESC_F_NEXT, 2);
	put_desc(f, 2, BUF, 1, 0, 0);
	f->segs[2].gpa = 0x5a5a; /* canary just past the caller's array */
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -E2BIG);
	assert_int_equal(f->segs[2].gpa, 0x5a5a);
	f->c.cap = 0;
	offer(f, 1, 2);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -E2BIG);
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	put_desc(f, 0, BUF, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(f, 1, BUF, 1, 0, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), -EINVAL);
}

static void test_undo_pop(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	put_desc(f, 0, BUF, 4, 0, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	vq_undo_pop(&f->q);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 0);
}

static void test_no_interrupt_flag(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	put16(f, AVAIL, 0);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0);
	assert_true(vq_needs_interrupt(&f->q, &f->m));
	put16(f, AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0);
	assert_false(vq_needs_interrupt(&f->q, &f->m));
}

static void test_event_idx_interrupts(void **state)
{
	struct fx *f = *state;
	const uint64_t used_event = AVAIL + 4 + 2 * QSIZE;

	ready(f, ALLFEAT);
	put16(f, AVAIL, VRING_AVAIL_F_NO_INTERRUPT); /* ignored with EVENT_IDX */
	put16(f, used_event, 0);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0); /* used idx 1 */
	assert_true(vq_needs_interrupt(&f->q, &f->m));	  /* first decision */
	/* driver wants an interrupt when used idx passes 2 (event = 2) */
	put16(f, used_event, 2);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0); /* idx 2: event 2 not in [1,2) */
	assert_false(vq_needs_interrupt(&f->q, &f->m));
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0); /* idx 3: 2 in [2,3) */
	assert_true(vq_needs_interrupt(&f->q, &f->m));
	/* nothing new pushed: no interrupt */
	assert_false(vq_needs_interrupt(&f->q, &f->m));
	/* a batch that jumps over the event index still interrupts */
	put16(f, used_event, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0); /* idx 6 */
	assert_true(vq_needs_interrupt(&f->q, &f->m));
	/* event index far behind (stale): no interrupt */
	put16(f, used_event, 1);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0);
	assert_false(vq_needs_interrupt(&f->q, &f->m));
	/* wrap-around of the 16-bit indices */
	f->q.next_used_idx = 0xffff;
	f->q.signalled_used = 0xffff;
	put16(f, used_event, 0xffff);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0); /* idx 0 */
	assert_true(vq_needs_interrupt(&f->q, &f->m));
}

static void test_enable_notify(void **state)
{
	struct fx *f = *state;
	const uint64_t avail_event = USED + 4 + 8 * QSIZE;

	ready(f, ALLFEAT);
	put_desc(f, 0, BUF, 4, 0, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_false(vq_enable_notify(&f->q, &f->m));
	assert_int_equal(get16(f, avail_event), 1);
	offer(f, 1, 0);
	assert_true(vq_enable_notify(&f->q, &f->m));
	assert_int_equal(get16(f, USED), 0); /* the flag is for drivers without EVENT_IDX */
}

/* Without EVENT_IDX: VRING_USED_F_NO_NOTIFY from the first pop until the
 * device asks for notifications again (queue dry), re-checked after. */
static void test_no_notify_flag(void **state)
{
	struct fx *f = *state;

	ready(f, 0);
	assert_int_equal(get16(f, USED), 0);
	put_desc(f, 0, BUF, 4, 0, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(get16(f, USED), VRING_USED_F_NO_NOTIFY);
	assert_int_equal(vq_push(&f->q, &f->m, 0, 0), 0);
	assert_int_equal(get16(f, USED), VRING_USED_F_NO_NOTIFY); /* push leaves it */
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 0);
	assert_false(vq_enable_notify(&f->q, &f->m));
	assert_int_equal(get16(f, USED), 0);
	/* a buffer added just before the flag cleared is not lost */
	offer(f, 1, 0);
	assert_true(vq_enable_notify(&f->q, &f->m));
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	assert_int_equal(get16(f, USED), VRING_USED_F_NO_NOTIFY);
}

static void test_chain_copy_helpers(void **state)
{
	struct fx *f = *state;
	uint8_t in[40], out[40], pat[40];
	struct iovec iov[4];

	for (int i = 0; i < 40; i++)
		pat[i] = (uint8_t)(i + 1);
	ready(f, 0);
	assert_int_equal(gm_write(&f->m, BUF, pat, 10), 0);
	assert_int_equal(gm_write(&f->m, BUF + 0x100, pat + 10, 30), 0);
	put_desc(f, 0, BUF, 10, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF + 0x100, 30, VRING_DESC_F_NEXT, 2);
	put_desc(f, 2, BUF + 0x200, 5, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	put_desc(f, 3, BUF + 0x300, 20, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	assert_int_equal(vq_pop(&f->q, &f->m, &f->c), 1);
	/* gather across the segment boundary */
	assert_int_equal(vq_chain_read(&f->c, &f->m, 5, in, 20), 0);
	assert_memory_equal(in, pat + 5, 20);
	assert_int_equal(vq_chain_read(&f->c, &f->m, 30, in, 11), -EFAULT);
	assert_int_equal(vq_chain_read(&f->c, &f->m, 40, in, 0), 0);
	/* scatter */
	assert_int_equal(vq_chain_write(&f->c, &f->m, 3, pat, 10), 0);
	assert_int_equal(gm_read(&f->m, out, BUF + 0x203, 2), 0);
	assert_memory_equal(out, pat, 2);
	assert_int_equal(gm_read(&f->m, out, BUF + 0x300, 8), 0);
	assert_memory_equal(out, pat + 2, 8);
	assert_int_equal(vq_chain_write(&f->c, &f->m, 24, pat, 2), -EFAULT);
	/* iovecs */
	assert_int_equal(vq_chain_iov(&f->c, &f->m, true, 0, 25, iov, 4), 2);
	assert_int_equal(iov[0].iov_len, 5);
	assert_int_equal(iov[1].iov_len, 20);
	assert_int_equal(vq_chain_iov(&f->c, &f->m, false, 0, 40, iov, 1), -E2BIG);
	assert_int_equal(vq_chain_iov(&f->c, &f->m, false, 0, 41, iov, 4), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	    T(test_simple_chain),
	    T(test_bad_sizes),
	    T(test_bad_alignment),
	    T(test_indirect_table_8_aligned),
	    T(test_rings_outside_ram),
	    T(test_avail_idx_jump),
	    T(test_avail_idx_wraps),
	    T(test_head_out_of_range),
	    T(test_next_out_of_range),
	    T(test_descriptor_loop),
	    T(test_chain_exactly_size),
	    T(test_indirect),
	    T(test_indirect_not_negotiated),
	    T(test_indirect_hostile),
	    T(test_indirect_too_long),
	    T(test_buffer_outside_ram),
	    T(test_length_overflow),
	    T(test_too_many_segments),
	    T(test_readable_after_writable),
	    T(test_undo_pop),
	    T(test_no_interrupt_flag),
	    T(test_event_idx_interrupts),
	    T(test_no_notify_flag),
	    T(test_enable_notify),
	    T(test_chain_copy_helpers),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
