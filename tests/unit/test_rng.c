/* virtio-rng through the transport (test mode) and a real ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "devices/virtio/rng.h"

#define RAM   MiB(2)
#define BASE  LAYOUT_VIRTIO_START
#define DESC  0x1000ULL
#define AVAIL 0x2000ULL
#define USED  0x3000ULL
#define BUF   0x10000ULL

struct fx {
	struct guest_mem m;
	struct ev_loop loop;
	struct bus bus;
	struct virtio_rng r;
	uint16_t avail_idx;
};

static void w32(struct fx *x, uint64_t off, uint32_t v)
{
	assert_int_equal(bus_write(&x->bus, BASE + off, (uint8_t *)&v, 4), 0);
}

static uint32_t r32(struct fx *x, uint64_t off)
{
	uint32_t v;

	assert_int_equal(bus_read(&x->bus, BASE + off, (uint8_t *)&v, 4), 0);
	return v;
}

static void up(struct fx *x, const struct cfg_entropy *cfg)
{
	struct fault fl;

	memset(x, 0, sizeof(*x));
	assert_int_equal(gm_create(&x->m, RAM, GM_BACKING_ANON), 0);
	assert_int_equal(ev_init(&x->loop), 0);
	assert_int_equal(rng_create(&x->r, cfg, &fl), 0);
	assert_int_equal(rng_register(&x->r, &x->bus, -1, &x->loop, &x->m, BASE, 6, NULL), 0);
	assert_int_equal(r32(x, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	w32(x, VIRTIO_MMIO_STATUS, 1);
	w32(x, VIRTIO_MMIO_STATUS, 3);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	w32(x, VIRTIO_MMIO_STATUS, 11);
	w32(x, VIRTIO_MMIO_QUEUE_NUM, 8);
	w32(x, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	w32(x, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	w32(x, VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	w32(x, VIRTIO_MMIO_QUEUE_READY, 1);
	w32(x, VIRTIO_MMIO_STATUS, 15);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_true(x->r.mmio.active);
}

static void down(struct fx *x)
{
	rng_destroy(&x->r);
	ev_destroy(&x->loop);
	gm_destroy(&x->m);
}

static void submit(struct fx *x, uint16_t d, uint64_t gpa, uint32_t len, uint16_t flags)
{
	struct vring_desc desc = {.addr = gpa, .len = len, .flags = flags};

	assert_int_equal(gm_write(&x->m, DESC + 16ULL * d, &desc, sizeof(desc)), 0);
	assert_int_equal(gm_write(&x->m, AVAIL + 4 + 2 * (x->avail_idx % 8), &d, 2), 0);
	x->avail_idx++;
	assert_int_equal(gm_write(&x->m, AVAIL + 2, &x->avail_idx, 2), 0);
}

static uint32_t used_len(struct fx *x, int i)
{
	uint32_t e[2];

	assert_int_equal(gm_read(&x->m, e, USED + 4 + 8ULL * (unsigned)i, 8), 0);
	return e[1];
}

static uint16_t used_idx(struct fx *x)
{
	uint16_t v;

	assert_int_equal(gm_read(&x->m, &v, USED + 2, 2), 0);
	return v;
}

static bool all_zero(struct fx *x, uint64_t gpa, size_t len)
{
	const uint8_t *p = gm_ptr(&x->m, gpa, len);

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_fill(void **state)
{
	struct fx x;

	(void)state;
	up(&x, NULL);
	submit(&x, 0, BUF, 64, VRING_DESC_F_WRITE);
	submit(&x, 1, BUF + 0x1000, 0x20000, VRING_DESC_F_WRITE); /* > RNG_MAX_FILL */
	submit(&x, 2, BUF + 0x40000, 16, 0);			  /* nothing writable */
	submit(&x, 3, RAM - 8, 16, VRING_DESC_F_WRITE);		  /* outside RAM */
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x), 4);
	assert_int_equal(used_len(&x, 0), 64);
	assert_false(all_zero(&x, BUF, 64));
	assert_int_equal(used_len(&x, 1), RNG_MAX_FILL);
	assert_false(all_zero(&x, BUF + 0x1000 + RNG_MAX_FILL - 64, 64));
	assert_true(all_zero(&x, BUF + 0x1000 + RNG_MAX_FILL, 64)); /* not past what we said */
	assert_int_equal(used_len(&x, 2), 0);
	assert_int_equal(used_len(&x, 3), 0);
	assert_int_equal(x.r.stats.errors, 1);
	assert_int_equal(r32(&x, VIRTIO_MMIO_INTERRUPT_STATUS), 1);
	down(&x);
}

static void test_rate_limited(void **state)
{
	struct fx x;
	struct cfg_entropy cfg = {.set = true};

	(void)state;
	cfg.rate_limiter.bandwidth.set = true;
	cfg.rate_limiter.bandwidth.size = 100;
	cfg.rate_limiter.bandwidth.refill_time_ms = 10;
	up(&x, &cfg);
	submit(&x, 0, BUF, 100, VRING_DESC_F_WRITE);
	submit(&x, 1, BUF + 0x100, 50, VRING_DESC_F_WRITE);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x), 1);
	assert_true(x.r.throttled);
	assert_int_equal(ev_run_once(&x.loop, 1000), 0); /* the retry timer */
	assert_int_equal(used_idx(&x), 2);
	assert_int_equal(used_len(&x, 1), 50);
	assert_int_equal(x.r.stats.rate_limited, 1);
	down(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fill),
	    cmocka_unit_test(test_rate_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
