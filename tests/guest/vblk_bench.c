/* blk_bench: drive the virtio-blk device as fast as this guest can, with
 * several requests in flight, and print machine-readable results.
 *
 * Request slot k is the fixed chain of descriptors 3k (header), 3k+1
 * (data), 3k+2 (status), so submitting is one avail-ring entry and
 * completing is one used-ring entry; the queue is a polled vbq (vbench.h:
 * EVENT_IDX when offered, no interrupts).
 *
 * Options (parsed here): blk_bench=<comma list of seqread,seqwrite,randread>,
 * blk_bench_mib=N (sequential MiB per phase, default 64), blk_bench_ios=N
 * (random 4 KiB reads, default 4096), blk_bench_qd=N (requests in flight,
 * 1..BENCH_QD_MAX, default 8), blk_bench_kib=N (sequential request size in
 * KiB, 4..BENCH_BS_MAX/1024, default 64). Data buffers live in RAM at
 * BENCH_BUF_PA, outside the guest image, so they cost no .bss clearing. */
#include <linux/errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "vbench.h"
#include "vblk.h"
#include "virtio.h"

#define BENCH_QD_MAX  (VQ_SIZE_MAX / 3)
#define BENCH_BS_MAX  (256u << 10)
#define BENCH_BUF_PA  0x2000000ULL /* 32 MiB: above the image, below any hole */
#define BENCH_RAND_BS 4096u
#define BENCH_WAIT_MS 10000
#define BENCH_SECTOR  512

struct bench_opts {
	uint64_t mib, ios, qd, bs;
};

struct bench {
	struct vdev d;
	struct vbq v;
	uint64_t capacity;
	uint16_t free[BENCH_QD_MAX];
	unsigned nfree;
	uint64_t errors;
	uint64_t rng;
	struct virtio_blk_outhdr hdr[BENCH_QD_MAX];
	uint8_t status[BENCH_QD_MAX];
	uint8_t ring[VQ_RING_BYTES] __attribute__((aligned(4096)));
};

static struct bench bench_state;

/* The value of blk_bench= (not NUL-terminated), or NULL. */
static const char *bench_list(const char *cmd, size_t *len)
{
	static const char key[] = "blk_bench=";
	size_t n = strlen(cmd), kl = sizeof(key) - 1;

	for (size_t i = 0; i + kl <= n; i++) {
		if ((i == 0 || cmd[i - 1] == ' ') && memcmp(cmd + i, key, kl) == 0) {
			size_t e = i + kl;

			while (e < n && cmd[e] != ' ')
				e++;
			*len = e - i - kl;
			return cmd + i + kl;
		}
	}
	return NULL;
}

bool blk_bench_wanted(const struct guest *g)
{
	size_t len;

	return bench_list(g->cmdline, &len) != NULL;
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void bench_parse(const struct guest *g, struct bench_opts *o)
{
	o->mib = lib_cmdline_u64(g->cmdline, "blk_bench_mib", 64);
	o->ios = lib_cmdline_u64(g->cmdline, "blk_bench_ios", 4096);
	o->qd = clamp(lib_cmdline_u64(g->cmdline, "blk_bench_qd", 8), 1, BENCH_QD_MAX);
	o->bs = clamp(lib_cmdline_u64(g->cmdline, "blk_bench_kib", 64), 4, BENCH_BS_MAX >> 10)
		<< 10;
}

static uint8_t *bench_buf(unsigned slot)
{
	return phys_ptr(BENCH_BUF_PA + (uint64_t)slot * BENCH_BS_MAX);
}

static int bench_open(struct test_ctx *t, struct bench *b)
{
	uint64_t want = (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_RO) |
			(1ULL << VIRTIO_RING_F_EVENT_IDX);

	if (vblk_attach(t, &b->d, &b->v.q, b->ring, want, &b->capacity) < 0)
		return -1;
	vbq_start(&b->v, !!(b->d.features & (1ULL << VIRTIO_RING_F_EVENT_IDX)));
	b->rng = 0x9e3779b97f4a7c15ULL;
	if (b->v.q.size < 3)
		return test_fail(t, "queue size %u too small", b->v.q.size);
	return 0;
}

/* Fixed chains for this phase: data is device-writable when reading. */
static void bench_chains(struct bench *b, unsigned qd, uint32_t bs, bool write)
{
	b->nfree = 0;
	for (unsigned k = 0; k < qd; k++) {
		struct vring_desc *d = &b->v.q.desc[3 * k];

		d[0] = (struct vring_desc){(uintptr_t)&b->hdr[k], sizeof(b->hdr[k]),
					   VRING_DESC_F_NEXT, (uint16_t)(3 * k + 1)};
		d[1] = (struct vring_desc){
		    (uintptr_t)bench_buf(k), bs,
		    (uint16_t)(VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE)),
		    (uint16_t)(3 * k + 2)};
		d[2] = (struct vring_desc){(uintptr_t)&b->status[k], 1, VRING_DESC_F_WRITE, 0};
		b->free[b->nfree++] = (uint16_t)k;
	}
}

/* Reap every used entry; returns how many, or -ETIMEDOUT / -EIO. */
static int bench_reap(struct bench *b)
{
	struct vring_used_elem e;
	int n = 0;

	if (vbq_wait(&b->v, BENCH_WAIT_MS) < 0)
		return -ETIMEDOUT;
	while (vbq_pop(&b->v, &e)) {
		unsigned k = e.id / 3;

		if (e.id % 3 || k >= BENCH_QD_MAX)
			return -EIO;
		if (b->status[k] != VIRTIO_BLK_S_OK)
			b->errors++;
		b->free[b->nfree++] = (uint16_t)k;
		n++;
	}
	return n;
}

/* Sector of request i: sequential (wrapping at the end of the disk) or
 * random 4 KiB-aligned. */
static uint64_t bench_sector(struct bench *b, uint64_t i, uint32_t bs, bool rnd)
{
	uint64_t per = bs / BENCH_SECTOR, slots = b->capacity / per;

	if (!rnd)
		return (i % slots) * per;
	b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((b->rng >> 24) % slots) * per;
}

static void bench_submit(struct bench *b, uint64_t i, uint32_t type, uint32_t bs, bool rnd)
{
	unsigned k = b->free[--b->nfree];
	uint64_t sector = bench_sector(b, i, bs, rnd);

	b->hdr[k].type = type;
	b->hdr[k].ioprio = 0;
	b->hdr[k].sector = sector;
	b->status[k] = 0xff;
	if (type == VIRTIO_BLK_T_OUT) /* one store: lets the host check placement */
		*(volatile uint64_t *)bench_buf(k) = sector;
	vbq_add(&b->v, (uint16_t)(3 * k));
}

static int bench_phase(struct test_ctx *t, struct bench *b, const char *name, uint32_t type,
		       uint64_t total, uint32_t bs, unsigned qd, bool rnd)
{
	uint64_t issued = 0, done = 0, t0;

	if (b->capacity < bs / BENCH_SECTOR)
		return test_fail(t, "blk_bench: disk smaller than one %u-byte request", bs);
	if (qd > b->v.q.size / 3u)
		qd = b->v.q.size / 3u;
	bench_chains(b, qd, bs, type == VIRTIO_BLK_T_OUT);
	b->v.kicks = b->errors = 0;
	con_printf("blkbench: start %s qd=%u bs=%u requests=%llu event_idx=%d\n", name, qd, bs,
		   (unsigned long long)total, b->v.event_idx);
	t0 = rdtsc();
	while (done < total) {
		int n;

		while (b->nfree && issued < total)
			bench_submit(b, issued++, type, bs, rnd);
		vbq_publish(&b->v);
		n = bench_reap(b);
		if (n < 0)
			return test_fail(t, "blk_bench %s: %s after %llu requests", name,
					 n == -EIO ? "bad used id" : "timeout",
					 (unsigned long long)done);
		done += (uint64_t)n;
	}
	con_printf("blkbench: done %s requests=%llu bytes=%llu cycles=%llu kicks=%llu "
		   "errors=%llu\n",
		   name, (unsigned long long)total, (unsigned long long)(total * bs),
		   (unsigned long long)(rdtsc() - t0), (unsigned long long)b->v.kicks,
		   (unsigned long long)b->errors);
	if (b->errors)
		return test_fail(t, "blk_bench %s: %llu requests failed", name,
				 (unsigned long long)b->errors);
	return 0;
}

static int bench_one(struct test_ctx *t, struct bench *b, const struct bench_opts *o, const char *w,
		     size_t n)
{
	uint64_t seq = (o->mib << 20) / o->bs;

	if (lib_word_eq(w, n, "seqread"))
		return bench_phase(t, b, "seqread", VIRTIO_BLK_T_IN, seq, (uint32_t)o->bs,
				   (unsigned)o->qd, false);
	if (lib_word_eq(w, n, "seqwrite"))
		return bench_phase(t, b, "seqwrite", VIRTIO_BLK_T_OUT, seq, (uint32_t)o->bs,
				   (unsigned)o->qd, false);
	if (lib_word_eq(w, n, "randread"))
		return bench_phase(t, b, "randread", VIRTIO_BLK_T_IN, o->ios, BENCH_RAND_BS,
				   (unsigned)o->qd, true);
	return test_fail(t, "blk_bench: unknown phase '%.*s'", (int)n, w);
}

int blk_bench_run(struct test_ctx *t)
{
	struct bench *b = &bench_state;
	struct bench_opts o;
	size_t len, i = 0;
	const char *list = bench_list(t->g->cmdline, &len);
	int rc = 0;

	bench_parse(t->g, &o);
	if (!vbench_ram_ok(t->g, BENCH_BUF_PA, (uint64_t)BENCH_QD_MAX * BENCH_BS_MAX))
		return test_fail(t, "blk_bench: no RAM at 0x%llx (give the VM 64 MiB or more)",
				 (unsigned long long)BENCH_BUF_PA);
	if (bench_open(t, b) < 0)
		return -1;
	while (rc == 0 && i < len) {
		size_t s = i;

		while (i < len && list[i] != ',')
			i++;
		if (i > s)
			rc = bench_one(t, b, &o, list + s, i - s);
		i++;
	}
	vdev_reset(&b->d);
	return rc;
}
