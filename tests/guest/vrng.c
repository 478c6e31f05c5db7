/* The rng test: read 64 bytes from virtio-rng, check they are not all
 * zero. */
#include <linux/virtio_ids.h>
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

int test_rng(struct test_ctx *t)
{
	struct rng *r = &rng_state;
	char hex[2 * 16 + 1];
	unsigned nonzero = 0;
	int rc;

	if (vdev_find(t->g, VIRTIO_ID_RNG, 0, &r->d) < 0)
		return test_fail(t, "no virtio-rng device");
	if (vdev_init(&r->d, 0) < 0)
		return test_fail(t, "device initialisation failed");
	rc = vq_setup(&r->d, &r->q, 0, r->ring);
	if (rc < 0)
		return test_fail(t, "queue 0 setup: %d", rc);
	vdev_driver_ok(&r->d);
	memset(r->buf, 0, sizeof(r->buf));
	rc = rng_fill(t, r);
	vdev_reset(&r->d);
	if (rc < 0)
		return -1;
	for (unsigned i = 0; i < RNG_BYTES; i++)
		nonzero += r->buf[i] != 0;
	for (unsigned i = 0; i < 16; i++)
		con_snprintf(hex + 2 * i, 3, "%02x", r->buf[i]);
	con_printf("rng: %u bytes, first 16: %s\n", RNG_BYTES, hex);
	if (!nonzero)
		return test_fail(t, "all %u bytes are zero", RNG_BYTES);
	return 0;
}
