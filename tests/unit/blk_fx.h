/* A virtio-blk device driven through its transport (test mode, no KVM) and
 * a real split ring in fake guest RAM: the fixture test_block.c and
 * test_block_uring.c share. Include after cmocka.h.
 *
 * Request n (its "slot") uses descriptors 3n..3n+2: header at HDR + 0x100n,
 * data at DATA + 0x1000n, status byte at STATUS + n. */
#ifndef FLINT_TESTS_UNIT_BLK_FX_H
#define FLINT_TESTS_UNIT_BLK_FX_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "devices/virtio/block.h"

#define RAM    MiB(2)
#define HDR    0x10000ULL  /* 0x100 per slot: up to 0x1f000 */
#define STATUS 0x1f000ULL  /* 1 per slot */
#define DATA   0x100000ULL /* 0x1000 per slot: up to 0x200000 */
#define CAP    64	   /* sectors in the test disk */
#define BASE   LAYOUT_VIRTIO_START
#define DESC   0x1000ULL /* 16 * 256 bytes */
#define AVAIL  0x2000ULL
#define USED   0x3000ULL

struct dev_fx {
	struct guest_mem m;
	struct ev_loop loop;
	struct bus bus;
	struct virtio_blk b;
	char path[64];
	uint16_t avail_idx;
	uint16_t qsize;
};

static inline void w32(struct dev_fx *x, uint64_t off, uint32_t v)
{
	assert_int_equal(bus_write(&x->bus, BASE + off, (uint8_t *)&v, 4), 0);
}

static inline uint32_t r32(struct dev_fx *x, uint64_t off)
{
	uint32_t v;

	assert_int_equal(bus_read(&x->bus, BASE + off, (uint8_t *)&v, 4), 0);
	return v;
}

/* The driver's side of initialisation, with a queue of qsize entries. */
static inline void dev_driver_up(struct dev_fx *x)
{
	w32(x, VIRTIO_MMIO_STATUS, 1);
	w32(x, VIRTIO_MMIO_STATUS, 3);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(x, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES, r32(x, VIRTIO_MMIO_DEVICE_FEATURES));
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	w32(x, VIRTIO_MMIO_STATUS, 11);
	w32(x, VIRTIO_MMIO_QUEUE_SEL, 0);
	w32(x, VIRTIO_MMIO_QUEUE_NUM, x->qsize);
	w32(x, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	w32(x, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	w32(x, VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	w32(x, VIRTIO_MMIO_QUEUE_READY, 1);
	w32(x, VIRTIO_MMIO_STATUS, 15);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_true(x->b.mmio.active);
}

/* A device on a fresh image file of CAP zero sectors, queue size qsize. */
static inline void dev_up_q(struct dev_fx *x, const struct cfg_drive *cfg, uint16_t qsize)
{
	struct fault fl;
	struct cfg_drive c = *cfg;
	int fd;

	memset(x, 0, sizeof(*x));
	x->qsize = qsize;
	strcpy(x->path, "/tmp/flint-blk-XXXXXX");
	fd = mkstemp(x->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CAP * BLK_SECTOR_SIZE), 0);
	close(fd);
	strcpy(c.path_on_host, x->path);
	assert_int_equal(gm_create(&x->m, RAM, GM_BACKING_ANON), 0);
	assert_int_equal(ev_init(&x->loop), 0);
	assert_int_equal(blk_create(&x->b, &c, &fl), 0);
	assert_int_equal(blk_register(&x->b, &x->bus, -1, &x->loop, &x->m, BASE, 5, NULL), 0);
	dev_driver_up(x);
}

static inline void dev_up(struct dev_fx *x, const struct cfg_drive *cfg)
{
	dev_up_q(x, cfg, 16);
}

static inline void dev_down(struct dev_fx *x)
{
	blk_destroy(&x->b);
	ev_destroy(&x->loop);
	gm_destroy(&x->m);
	unlink(x->path);
}

/* Requests the Async engine holds (0 for Sync). */
static inline uint32_t dev_in_flight(const struct dev_fx *x)
{
	return x->b.async ? BLK_ASYNC_SLOTS - x->b.async->nfree : 0;
}

/* Run the loop until nothing is in flight (bounded: 5 s). */
static inline void dev_settle(struct dev_fx *x)
{
	for (int i = 0; i < 500 && dev_in_flight(x) > 0; i++)
		assert_int_equal(ev_run_once(&x->loop, 10), 0);
	assert_int_equal(dev_in_flight(x), 0);
}

/* Queue a 3-descriptor request (header, data, status) in slot. */
static inline void dev_submit(struct dev_fx *x, int slot, uint32_t type, uint64_t sector,
			      uint32_t len)
{
	struct virtio_blk_outhdr h = {.type = type, .sector = sector};
	uint16_t d0 = (uint16_t)(3 * slot);
	uint64_t hdr = HDR + 0x100 * (uint64_t)slot, st = STATUS + (uint64_t)slot;
	struct vring_desc d[3] = {
	    {.addr = hdr, .len = BLK_HDR_SIZE, .flags = VRING_DESC_F_NEXT, .next = d0 + 1},
	    {.addr = DATA + 0x1000 * (uint64_t)slot,
	     .len = len,
	     .flags =
		 VRING_DESC_F_NEXT |
		 (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ? VRING_DESC_F_WRITE : 0),
	     .next = d0 + 2},
	    {.addr = st, .len = 1, .flags = VRING_DESC_F_WRITE},
	};
	uint8_t poison = 0xff;

	assert_true(3 * slot + 2 < x->qsize);
	assert_int_equal(gm_write(&x->m, hdr, &h, sizeof(h)), 0);
	assert_int_equal(gm_write(&x->m, st, &poison, 1), 0);
	assert_int_equal(gm_write(&x->m, DESC + 16ULL * d0, d, sizeof(d)), 0);
	assert_int_equal(gm_write(&x->m, AVAIL + 4 + 2 * (x->avail_idx % x->qsize), &d0, 2), 0);
	x->avail_idx++;
	assert_int_equal(gm_write(&x->m, AVAIL + 2, &x->avail_idx, 2), 0);
}

static inline uint16_t used_idx(struct dev_fx *x)
{
	uint16_t v;

	assert_int_equal(gm_read(&x->m, &v, USED + 2, 2), 0);
	return v;
}

static inline uint8_t status_of(struct dev_fx *x, int slot)
{
	uint8_t v;

	assert_int_equal(gm_read(&x->m, &v, STATUS + (uint64_t)slot, 1), 0);
	return v;
}

#endif
