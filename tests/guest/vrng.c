/* The rng test: read 64 bytes from virtio-rng, check they are not all
 * zero. rng_rounds=N (default 1) reads the 64 bytes N times (for rate
 * limiter tests: "rng: reading <bytes> bytes" comes before the first
 * request, "rng: <bytes> bytes, ..." after the last). */
#include <linux/virtio_ids.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"

#define RNG_BYTES 64

struct rng {
	struct vdev d;
	struct vq q;
	uint8_t buf[RNG_BYTES];
	uint8_t ring[VQ_RING_BYTES] __attribute__((aligned(4096)));
};

static struct rng rng_state;

static int rng_fill(struct test_ctx *t, struct rng *r)
{
	unsigned got = 0;

	/* A device may return fewer bytes than asked; bound the rounds. */
	for (int round = 0; got < RNG_BYTES && round < 64; round++) {
		struct vbuf v = {r->buf + got, RNG_BYTES - got, true};
		uint32_t len;
		int rc = vq_run(&r->q, &v, 1, &len);

		if (rc < 0)
			return test_fail(t, "request %d: %d", round, rc);
		if (len > RNG_BYTES - got)
			return test_fail(t, "device claims %u bytes written into %u", len,
					 RNG_BYTES - got);
		got += len;
	}
	if (got < RNG_BYTES)
		return test_fail(t, "only %u bytes after 64 requests", got);
	return 0;
}

/* Initialise the device found in r->d, set up its queue, DRIVER_OK. */
static int rng_open(struct test_ctx *t, struct rng *r)
{
	int rc;

	if (vdev_init(&r->d, 0) < 0)
		return test_fail(t, "device initialisation failed");
	rc = vq_setup(&r->d, &r->q, 0, r->ring);
	if (rc < 0)
		return test_fail(t, "queue 0 setup: %d", rc);
	vdev_driver_ok(&r->d);
	return 0;
}

/* Bring the device to DRIVER_OK and reset it, again and again, for ms
 * (rng_resets_ms=): every reset is of a device that reached DRIVER_OK, the
 * kind the VMM must finish before the status write returns. */
static int rng_reset_storm(struct test_ctx *t, struct rng *r, uint64_t ms)
{
	uint64_t start = rdtsc(), n = 0;

	while (rdtsc() - start < ms * GUEST_TSC_MS) {
		if (rng_open(t, r) < 0)
			return -1;
		vdev_reset(&r->d);
		n++;
	}
	con_printf("rng: %llu resets\n", (unsigned long long)n);
	return 0;
}

int test_rng(struct test_ctx *t)
{
	struct rng *r = &rng_state;
	char hex[2 * 16 + 1];
	uint64_t rounds = lib_cmdline_u64(t->g->cmdline, "rng_rounds", 1);
	uint64_t storm_ms = lib_cmdline_u64(t->g->cmdline, "rng_resets_ms", 0);
	unsigned nonzero = 0;
	int rc = 0;

	if (vdev_find(t->g, VIRTIO_ID_RNG, 0, &r->d) < 0)
		return test_fail(t, "no virtio-rng device");
	if (storm_ms && rng_reset_storm(t, r, storm_ms) < 0)
		return -1;
	if (rng_open(t, r) < 0)
		return -1;
	if (rounds > 1)
		con_printf("rng: reading %llu bytes\n", (unsigned long long)(rounds * RNG_BYTES));
	for (uint64_t i = 0; i < rounds && rc == 0; i++) {
		memset(r->buf, 0, sizeof(r->buf));
		rc = rng_fill(t, r);
		for (unsigned k = 0; k < RNG_BYTES && rc == 0; k++)
			nonzero += r->buf[k] != 0;
	}
	vdev_reset(&r->d);
	if (rc < 0)
		return -1;
	for (unsigned i = 0; i < 16; i++)
		con_snprintf(hex + 2 * i, 3, "%02x", r->buf[i]);
	con_printf("rng: %llu bytes, first 16: %s\n", (unsigned long long)(rounds * RNG_BYTES),
		   hex);
	if (!nonzero)
		return test_fail(t, "all the bytes are zero");
	return 0;
}
