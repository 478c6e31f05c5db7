/* The blk test's benchmark mode (vblk_bench.c): blk_bench=<phases> on the
 * command line makes the blk test run the benchmark instead of its checks. */
#ifndef GUEST_VBLK_H
#define GUEST_VBLK_H

#include <stdbool.h>
#include "guest.h"

struct vdev;
struct vq;

/* Find virtio-blk device blk_dev, negotiate want, set up queue 0 on ring
 * (VQ_RING_BYTES), set DRIVER_OK and read the capacity in sectors. 0, or
 * -1 with t->why set. Shared by the checks and the benchmark. */
int vblk_attach(struct test_ctx *t, struct vdev *d, struct vq *q, void *ring, uint64_t want,
		uint64_t *capacity);

/* Whether the command line asks for the benchmark. */
bool blk_bench_wanted(const struct guest *g);
/* Run the phases blk_bench= names on blk_dev; 0, or -1 with t->why set. */
int blk_bench_run(struct test_ctx *t);

#endif
