/* The blk test: a virtio-blk driver that checks capacity, the host's
 * sector pattern, GET_ID, writes with read-back (or their refusal on a
 * read-only disk), a read past the end, and FLUSH. With blk_bench= it runs
 * the benchmark (vblk_bench.c) instead. */
#include <linux/errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include "con.h"
#include "lib.h"
#include "vblk.h"
#include "virtio.h"

#define SECTOR		512
#define BLK_MAX_SECTORS 8
#define BLK_STATUS_NONE 0xff /* never written by a device */

struct blk {
	struct vdev d;
	struct vq q;
	uint64_t capacity;
	bool ro;
	struct virtio_blk_outhdr hdr;
	uint8_t status;
	uint8_t data[BLK_MAX_SECTORS * SECTOR] __attribute__((aligned(4096)));
	uint8_t ring[VQ_RING_BYTES] __attribute__((aligned(4096)));
};

static struct blk blk_state;

/* The host-side image pattern (README.md): sector n starts with n as a
 * little-endian u64, then byte i is (n + i) & 0xff. */
static uint8_t blk_host_byte(uint64_t n, unsigned i)
{
	return i < 8 ? (uint8_t)(n >> (8 * i)) : (uint8_t)(n + i);
}

/* What the guest writes: "FLINTGST", then byte i is ((n & 0xff) + i) ^ 0xa5. */
static uint8_t blk_guest_byte(uint64_t n, unsigned i)
{
	return i < 8 ? (uint8_t) "FLINTGST"[i] : (uint8_t)(((n & 0xff) + i) ^ 0xa5);
}

/* One request: header, optional data (nsec sectors), status. Returns the
 * device's status byte, or -errno if the request did not complete. */
static int blk_io(struct blk *b, uint32_t type, uint64_t sector, uint32_t len)
{
	struct vbuf v[3];
	unsigned n = 0;
	uint32_t used;
	int rc;

	b->hdr.type = type;
	b->hdr.ioprio = 0;
	b->hdr.sector = sector;
	b->status = BLK_STATUS_NONE;
	v[n++] = (struct vbuf){&b->hdr, sizeof(b->hdr), false};
	if (len)
		v[n++] = (struct vbuf){b->data, len, type != VIRTIO_BLK_T_OUT};
	v[n++] = (struct vbuf){&b->status, 1, true};
	rc = vq_run(&b->q, v, n, &used);
	if (rc < 0)
		return rc;
	return b->status;
}

static int blk_check_sector(struct test_ctx *t, struct blk *b, uint64_t n, bool guest)
{
	int st = blk_io(b, VIRTIO_BLK_T_IN, n, SECTOR);

	if (st != VIRTIO_BLK_S_OK)
		return test_fail(t, "read sector %llu: status %d", (unsigned long long)n, st);
	for (unsigned i = 0; i < SECTOR; i++) {
		uint8_t want = guest ? blk_guest_byte(n, i) : blk_host_byte(n, i);

		if (b->data[i] != want)
			return test_fail(t, "sector %llu byte %u: 0x%x, want 0x%x (%s pattern)",
					 (unsigned long long)n, i, b->data[i], want,
					 guest ? "guest" : "host");
	}
	return 0;
}

static int blk_host_pattern(struct test_ctx *t, struct blk *b)
{
	uint64_t s[4] = {0, 1, b->capacity / 2, b->capacity - 1};

	for (unsigned i = 0; i < 4; i++) {
		if (blk_check_sector(t, b, s[i], false) < 0)
			return -1;
	}
	/* A multi-sector read, checked sector by sector. */
	if (b->capacity >= BLK_MAX_SECTORS) {
		int st = blk_io(b, VIRTIO_BLK_T_IN, 0, sizeof(b->data));

		if (st != VIRTIO_BLK_S_OK)
			return test_fail(t, "read of %u sectors: status %d", BLK_MAX_SECTORS, st);
		for (unsigned i = 0; i < sizeof(b->data); i++) {
			if (b->data[i] != blk_host_byte(i / SECTOR, i % SECTOR))
				return test_fail(t, "multi-sector read: byte %u differs", i);
		}
	}
	con_printf("blk: host pattern ok sectors 0,1,%llu,%llu and 0-%u in one request\n",
		   (unsigned long long)s[2], (unsigned long long)s[3], BLK_MAX_SECTORS - 1);
	return 0;
}

static int blk_write_sector(struct test_ctx *t, struct blk *b, uint64_t n)
{
	int st;

	for (unsigned i = 0; i < SECTOR; i++)
		b->data[i] = blk_guest_byte(n, i);
	st = blk_io(b, VIRTIO_BLK_T_OUT, n, SECTOR);
	if (b->ro) {
		if (st != VIRTIO_BLK_S_IOERR)
			return test_fail(t, "write to read-only sector %llu: status %d, want %d",
					 (unsigned long long)n, st, VIRTIO_BLK_S_IOERR);
		con_printf("blk: write sector %llu refused with IOERR (read-only)\n",
			   (unsigned long long)n);
		return 0;
	}
	if (st != VIRTIO_BLK_S_OK)
		return test_fail(t, "write sector %llu: status %d", (unsigned long long)n, st);
	if (blk_check_sector(t, b, n, true) < 0)
		return -1;
	con_printf("blk: wrote and read back sector %llu\n", (unsigned long long)n);
	return 0;
}

static int blk_writes(struct test_ctx *t, struct blk *b)
{
	if (blk_write_sector(t, b, 1) < 0 || blk_write_sector(t, b, b->capacity - 1) < 0)
		return -1;
	/* A refused write must not have changed the disk. */
	if (b->ro && t->g->opts.blk_pattern &&
	    (blk_check_sector(t, b, 1, false) < 0 ||
	     blk_check_sector(t, b, b->capacity - 1, false) < 0))
		return -1;
	return 0;
}

static int blk_misc(struct test_ctx *t, struct blk *b)
{
	char id[VIRTIO_BLK_ID_BYTES + 1];
	int st;

	memset(b->data, 0, VIRTIO_BLK_ID_BYTES);
	st = blk_io(b, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
	for (unsigned i = 0; i < VIRTIO_BLK_ID_BYTES; i++)
		id[i] = b->data[i] >= 0x20 && b->data[i] < 0x7f ? (char)b->data[i] : '\0';
	id[VIRTIO_BLK_ID_BYTES] = '\0';
	con_printf("blk: get_id status=%d id=%s\n", st, id);
	if (st != VIRTIO_BLK_S_OK && st != VIRTIO_BLK_S_UNSUPP)
		return test_fail(t, "GET_ID: status %d", st);
	st = blk_io(b, VIRTIO_BLK_T_IN, b->capacity, SECTOR);
	con_printf("blk: read past end status=%d\n", st);
	if (st != VIRTIO_BLK_S_IOERR)
		return test_fail(t, "read at sector %llu (past end): status %d, want %d",
				 (unsigned long long)b->capacity, st, VIRTIO_BLK_S_IOERR);
	if (!(b->d.features & (1ULL << VIRTIO_BLK_F_FLUSH))) {
		con_printf("blk: flush not offered\n");
		return 0;
	}
	st = blk_io(b, VIRTIO_BLK_T_FLUSH, 0, 0);
	con_printf("blk: flush status=%d\n", st);
	if (st != VIRTIO_BLK_S_OK)
		return test_fail(t, "FLUSH: status %d", st);
	return 0;
}

int vblk_attach(struct test_ctx *t, struct vdev *d, struct vq *q, void *ring, uint64_t want,
		uint64_t *capacity)
{
	int rc;

	if (vdev_find(t->g, VIRTIO_ID_BLOCK, t->g->opts.blk_dev, d) < 0)
		return test_fail(t, "no virtio-blk device #%u", t->g->opts.blk_dev);
	if (vdev_init(d, want) < 0)
		return test_fail(t, "device initialisation failed");
	rc = vq_setup(d, q, 0, ring);
	if (rc < 0)
		return test_fail(t, "queue 0 setup: %d", rc);
	vdev_driver_ok(d);
	*capacity = vdev_cfg32(d, 0) | (uint64_t)vdev_cfg32(d, 4) << 32;
	return 0;
}

static int blk_open(struct test_ctx *t, struct blk *b)
{
	uint64_t want = (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_RO);

	if (vblk_attach(t, &b->d, &b->q, b->ring, want, &b->capacity) < 0)
		return -1;
	b->ro = !!(b->d.features & (1ULL << VIRTIO_BLK_F_RO));
	con_printf("blk: capacity=%llu sectors ro=%d queue_size=%u\n",
		   (unsigned long long)b->capacity, b->ro, b->q.size);
	if (b->capacity < 2)
		return test_fail(t, "capacity %llu too small", (unsigned long long)b->capacity);
	if (b->ro != t->g->opts.blk_ro)
		return test_fail(t, "device read-only=%d, expected %d", b->ro, t->g->opts.blk_ro);
	return 0;
}

int test_blk(struct test_ctx *t)
{
	struct blk *b = &blk_state;
	int rc;

	if (blk_bench_wanted(t->g))
		return blk_bench_run(t);
	if (blk_open(t, b) < 0)
		return -1;
	if (t->g->opts.blk_pattern && blk_host_pattern(t, b) < 0)
		rc = -1;
	else
		rc = blk_writes(t, b) < 0 || blk_misc(t, b) < 0 ? -1 : 0;
	vdev_reset(&b->d);
	return rc;
}
