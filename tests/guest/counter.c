/* The counter test, for snapshot tests: never ends. Every counter_ms
 * milliseconds (default 100) it prints one line
 *
 *   counter: n=<tick> tsc=<TSC> [prev=<hex> sum=<hex> sector=<s>]
 *
 * n counts up from 0 and the TSC only grows, so a restored guest shows
 * where it continues and that its clock did not go back. With counter_blk=1
 * each tick also reads one sector (s = n mod 64) of the first virtio-blk
 * disk into a page only the device writes: prev is the FNV-1a sum of that
 * buffer before the read (the previous tick's data) and sum after it, so
 * prev of a tick equals sum of the tick before -- across a snapshot too,
 * unless the restore lost a page the device wrote (a Diff snapshot that
 * missed a device write shows up here).
 *
 * counter_touch=<MiB> first writes one word into each page of that much RAM
 * from 16 MiB up, then reads a word of each page every tick: a working set
 * a restored clone keeps using (for memory benchmarks). */
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"

#define COUNTER_SECTOR	 512
#define COUNTER_SECTORS	 64
#define COUNTER_MS_DEF	 100
#define COUNTER_STATUS_X 0xff
#define COUNTER_TOUCH_PA 0x1000000ULL /* 16 MiB: above the image and boot data */

struct counter_blk {
	struct vdev d;
	struct vq q;
	struct virtio_blk_outhdr hdr;
	uint8_t status;
	/* written by the device only: the vCPU never stores to this page */
	uint8_t data[4096] __attribute__((aligned(4096)));
	uint8_t ring[VQ_RING_BYTES] __attribute__((aligned(4096)));
};

static struct counter_blk counter_blk_state;

/* The value of key=<number> on the command line, or def. */
static uint64_t counter_opt(const struct guest *g, const char *key, uint64_t def)
{
	size_t klen = strlen(key);
	const char *s = g->cmdline;

	while (*s) {
		size_t n = 0;
		uint64_t v;

		while (s[n] && s[n] != ' ')
			n++;
		if (n > klen && s[klen] == '=' && memcmp(s, key, klen) == 0 &&
		    lib_parse_u64(s + klen + 1, n - klen - 1, &v) == n - klen - 1)
			return v;
		s += n;
		while (*s == ' ')
			s++;
	}
	return def;
}

static uint32_t counter_fnv(const uint8_t *p, unsigned n)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int counter_blk_setup(struct test_ctx *t, struct counter_blk *b)
{
	int err = vdev_find(t->g, VIRTIO_ID_BLOCK, 0, &b->d);

	if (err)
		return test_fail(t, "counter_blk=1 but no virtio-blk device");
	err = vdev_init(&b->d, 0);
	if (!err)
		err = vq_setup(&b->d, &b->q, 0, b->ring);
	if (err)
		return test_fail(t, "virtio-blk set-up failed (%d)", err);
	vdev_driver_ok(&b->d);
	return 0;
}

/* Read sector s into b->data; the device's status byte, or -errno. */
static int counter_blk_read(struct counter_blk *b, uint64_t s)
{
	struct vbuf v[3];
	uint32_t used;
	int rc;

	b->hdr.type = VIRTIO_BLK_T_IN;
	b->hdr.ioprio = 0;
	b->hdr.sector = s;
	b->status = COUNTER_STATUS_X;
	v[0] = (struct vbuf){&b->hdr, sizeof(b->hdr), false};
	v[1] = (struct vbuf){b->data, COUNTER_SECTOR, true};
	v[2] = (struct vbuf){&b->status, 1, true};
	rc = vq_run(&b->q, v, 3, &used);
	vdev_ack_irq(&b->d);
	return rc < 0 ? rc : b->status;
}

/* Pages of the touch area that are RAM and mapped (at most want). */
static uint64_t counter_touch_pages(const struct guest *g, uint64_t want_mib)
{
	uint64_t end = COUNTER_TOUCH_PA + (want_mib << 20);

	for (unsigned i = 0; i < g->nregions; i++) {
		const struct guest_region *r = &g->regions[i];

		if (r->type == GUEST_E820_RAM && r->addr <= COUNTER_TOUCH_PA &&
		    r->addr + r->size > COUNTER_TOUCH_PA) {
			if (end > r->addr + r->size)
				end = r->addr + r->size;
			if (end > g->mapped_end)
				end = g->mapped_end;
			return end > COUNTER_TOUCH_PA ? (end - COUNTER_TOUCH_PA) / GUEST_PAGE : 0;
		}
	}
	return 0;
}

/* One read of each page; the sum keeps the reads from being dropped. */
static uint64_t counter_touch(uint64_t pages, bool write)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < pages; i++) {
		volatile uint64_t *p = phys_ptr(COUNTER_TOUCH_PA + i * GUEST_PAGE);

		if (write)
			*p = i + 1;
		sum += *p;
	}
	return sum;
}

int test_counter(struct test_ctx *t)
{
	uint64_t ms = counter_opt(t->g, "counter_ms", COUNTER_MS_DEF);
	bool blk = counter_opt(t->g, "counter_blk", 0) != 0;
	uint64_t touch = counter_touch_pages(t->g, counter_opt(t->g, "counter_touch", 0));
	struct counter_blk *b = &counter_blk_state;

	if (blk && counter_blk_setup(t, b))
		return -1;
	counter_touch(touch, true);
	con_printf("counter: start ms=%llu blk=%d touch=%llu pages\n", (unsigned long long)ms, blk,
		   (unsigned long long)touch);
	for (uint64_t n = 0;; n++) {
		uint64_t tsc = rdtsc();

		counter_touch(touch, false);

		if (blk) {
			uint32_t prev = counter_fnv(b->data, COUNTER_SECTOR);
			uint64_t s = n % COUNTER_SECTORS;
			int st = counter_blk_read(b, s);

			if (st != VIRTIO_BLK_S_OK)
				con_printf("counter: n=%llu blk read failed (%d)\n",
					   (unsigned long long)n, st);
			con_printf("counter: n=%llu tsc=%llu prev=%x sum=%x sector=%llu\n",
				   (unsigned long long)n, (unsigned long long)tsc, prev,
				   counter_fnv(b->data, COUNTER_SECTOR), (unsigned long long)s);
		} else {
			con_printf("counter: n=%llu tsc=%llu\n", (unsigned long long)n,
				   (unsigned long long)tsc);
		}
		lib_delay_tsc(ms * GUEST_TSC_MS);
	}
	return 0;
}
