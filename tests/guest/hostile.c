/* The hostile test: hand a virtio-blk device deliberately malformed rings
 * (loops, out-of-range indices, index jumps, buffers outside RAM, bad
 * indirect tables) one case at a time, and report what the device did and
 * whether it still works after a reset. If the VMM stops the VM instead,
 * the last line on the console is the case's "inject" line. */
#include <linux/errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"

#define HOS_WAIT_MS   200
#define HOS_FAR_AWAY  0x10000000000ULL /* 1 TiB: beyond any test VM's RAM */
#define HOS_IN_HOLE   0xd0000000ULL    /* the 32-bit MMIO hole, not RAM */
#define HOS_INDIRECT  (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define HOS_NO_STATUS 0xee

struct hos {
	struct vdev d;
	struct vq q;
	struct virtio_blk_outhdr hdr;
	uint8_t status;
	uint8_t data[512] __attribute__((aligned(512)));
	struct vring_desc table[4] __attribute__((aligned(16)));
	uint8_t ring[VQ_RING_BYTES] __attribute__((aligned(4096)));
};

struct hos_case {
	const char *name;
	bool indirect; /* needs VIRTIO_RING_F_INDIRECT_DESC negotiated */
	void (*inject)(struct hos *h);
};

static struct hos hos_state;

static void hos_desc(struct vring_desc *d, const void *addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	d->addr = (uintptr_t)addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* A valid read of sector 0 in descriptors 0-2, not yet published. */
static void hos_valid_chain(struct hos *h)
{
	h->hdr.type = VIRTIO_BLK_T_IN;
	h->hdr.ioprio = 0;
	h->hdr.sector = 0;
	h->status = HOS_NO_STATUS;
	hos_desc(&h->q.desc[0], &h->hdr, sizeof(h->hdr), VRING_DESC_F_NEXT, 1);
	hos_desc(&h->q.desc[1], h->data, sizeof(h->data), VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
		 2);
	hos_desc(&h->q.desc[2], &h->status, 1, VRING_DESC_F_WRITE, 0);
}

/* Put head in the next avail slot and move avail.idx on by step. */
static void hos_publish(struct hos *h, uint16_t head, uint16_t step)
{
	h->q.avail->ring[h->q.avail->idx % h->q.size] = head;
	mb();
	h->q.avail->idx = (uint16_t)(h->q.avail->idx + step);
	mb();
}

static void inj_loop(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[2].flags |= VRING_DESC_F_NEXT;
	h->q.desc[2].next = 0;
	hos_publish(h, 0, 1);
}

static void inj_head_oob(struct hos *h)
{
	hos_valid_chain(h);
	hos_publish(h, (uint16_t)(h->q.size + 5), 1);
}

static void inj_next_oob(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[0].next = 0x1234;
	hos_publish(h, 0, 1);
}

static void inj_avail_jump(struct hos *h)
{
	hos_valid_chain(h);
	hos_publish(h, 0, 1000);
}

static void inj_addr_far(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[0].addr = HOS_FAR_AWAY;
	hos_publish(h, 0, 1);
}

static void inj_addr_hole(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[1].addr = HOS_IN_HOLE;
	hos_publish(h, 0, 1);
}

static void inj_addr_wrap(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[1].addr = 0xfffffffffffff000ULL;
	h->q.desc[1].len = 0x2000;
	hos_publish(h, 0, 1);
}

static void inj_len_huge(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[1].len = 0xffffffffu;
	hos_publish(h, 0, 1);
}

static void inj_status_readonly(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[2].flags = 0;
	hos_publish(h, 0, 1);
}

static void inj_no_status(struct hos *h)
{
	hos_valid_chain(h);
	h->q.desc[0].flags = 0;
	hos_publish(h, 0, 1);
}

/* Descriptor 0 points at an indirect table holding the valid chain. */
static void hos_indirect(struct hos *h, uint32_t len)
{
	hos_valid_chain(h);
	memcpy(h->table, h->q.desc, 3 * sizeof(struct vring_desc));
	hos_desc(&h->q.desc[0], h->table, len, VRING_DESC_F_INDIRECT, 0);
}

static void inj_indirect_unneg(struct hos *h)
{
	hos_indirect(h, 3 * sizeof(struct vring_desc));
	hos_publish(h, 0, 1);
}

static void inj_indirect_len(struct hos *h)
{
	hos_indirect(h, 3 * sizeof(struct vring_desc) + 5);
	hos_publish(h, 0, 1);
}

static void inj_indirect_nested(struct hos *h)
{
	hos_indirect(h, 3 * sizeof(struct vring_desc));
	h->table[1].flags |= VRING_DESC_F_INDIRECT;
	hos_publish(h, 0, 1);
}

static void inj_indirect_far(struct hos *h)
{
	hos_indirect(h, 3 * sizeof(struct vring_desc));
	h->q.desc[0].addr = HOS_FAR_AWAY;
	hos_publish(h, 0, 1);
}

static void inj_indirect_loop(struct hos *h)
{
	hos_indirect(h, 3 * sizeof(struct vring_desc));
	h->table[2].flags |= VRING_DESC_F_NEXT;
	h->table[2].next = 0;
	hos_publish(h, 0, 1);
}

static const struct hos_case hos_cases[] = {
    {"desc_loop", false, inj_loop},
    {"head_oob", false, inj_head_oob},
    {"next_oob", false, inj_next_oob},
    {"avail_jump", false, inj_avail_jump},
    {"addr_far", false, inj_addr_far},
    {"addr_hole", false, inj_addr_hole},
    {"addr_wrap", false, inj_addr_wrap},
    {"len_huge", false, inj_len_huge},
    {"status_readonly", false, inj_status_readonly},
    {"no_status", false, inj_no_status},
    {"indirect_unneg", false, inj_indirect_unneg},
    {"indirect_len", true, inj_indirect_len},
    {"indirect_nested", true, inj_indirect_nested},
    {"indirect_far", true, inj_indirect_far},
    {"indirect_loop", true, inj_indirect_loop},
};

/* Reset and bring the device up again with a fresh, empty queue. */
static int hos_fresh(struct test_ctx *t, struct hos *h, bool indirect)
{
	if (vdev_init(&h->d, indirect ? HOS_INDIRECT : 0) < 0)
		return -1;
	if (vq_setup(&h->d, &h->q, 0, h->ring) < 0)
		return -1;
	vdev_driver_ok(&h->d);
	(void)t;
	return 0;
}

/* Does the device serve a valid read of sector 0 after a reset? */
static bool hos_alive(struct test_ctx *t, struct hos *h)
{
	struct vbuf v[3] = {{&h->hdr, sizeof(h->hdr), false},
			    {h->data, sizeof(h->data), true},
			    {&h->status, 1, true}};
	uint32_t len;

	if (hos_fresh(t, h, false) < 0)
		return false;
	h->hdr.type = VIRTIO_BLK_T_IN;
	h->hdr.sector = 0;
	h->status = HOS_NO_STATUS;
	return vq_run(&h->q, v, 3, &len) >= 0 && h->status == VIRTIO_BLK_S_OK;
}

static void hos_observe(struct hos *h, char *out, size_t cap)
{
	uint64_t start = rdtsc();
	volatile uint16_t *used_idx = &h->q.used->idx;

	while (*used_idx == 0 && rdtsc() - start < HOS_WAIT_MS * GUEST_TSC_MS)
		cpu_relax();
	mb();
	if (*used_idx == 0) {
		con_snprintf(out, cap, "used=none");
		return;
	}
	con_snprintf(out, cap, "used=%u id=%u len=%u blk_status=0x%x", *used_idx,
		     h->q.used->ring[0].id, h->q.used->ring[0].len, h->status);
}

static bool hos_selected(const struct guest_opts *o, const char *name)
{
	size_t i = 0;

	if (!o->hostile)
		return true;
	while (i < o->hostile_len) {
		size_t s = i;

		while (i < o->hostile_len && o->hostile[i] != ',')
			i++;
		if (lib_word_eq(o->hostile + s, i - s, name))
			return true;
		i++;
	}
	return false;
}

/* 0: device usable after the case; -1: it is not. */
static int hos_run_case(struct test_ctx *t, struct hos *h, const struct hos_case *c)
{
	char seen[96];
	bool alive;

	if (c->indirect && !(h->d.offered & HOS_INDIRECT)) {
		con_printf("hostile: case=%s skipped (indirect descriptors not offered)\n",
			   c->name);
		return 0;
	}
	if (hos_fresh(t, h, c->indirect) < 0)
		return test_fail(t, "%s: device initialisation failed", c->name);
	c->inject(h);
	con_printf("hostile: case=%s inject\n", c->name);
	vq_notify(&h->q);
	hos_observe(h, seen, sizeof(seen));
	con_printf("hostile: case=%s %s dev_status=0x%x\n", c->name, seen, vdev_status(&h->d));
	alive = hos_alive(t, h);
	con_printf("hostile: case=%s after_reset=%s\n", c->name, alive ? "alive" : "dead");
	if (!alive)
		return test_fail(t, "%s: device dead after reset", c->name);
	return 0;
}

int test_hostile(struct test_ctx *t)
{
	struct hos *h = &hos_state;
	int rc = 0;
	unsigned ran = 0;

	if (vdev_find(t->g, VIRTIO_ID_BLOCK, t->g->opts.blk_dev, &h->d) < 0)
		return test_fail(t, "no virtio-blk device #%u", t->g->opts.blk_dev);
	for (size_t i = 0; i < sizeof(hos_cases) / sizeof(hos_cases[0]); i++) {
		if (!hos_selected(&t->g->opts, hos_cases[i].name))
			continue;
		ran++;
		if (hos_run_case(t, h, &hos_cases[i]) < 0)
			rc = -1; /* keep going: report every case */
	}
	vdev_reset(&h->d);
	if (!ran)
		return test_fail(t, "no hostile case selected");
	return rc;
}
