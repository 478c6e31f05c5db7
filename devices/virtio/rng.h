/* virtio-rng / entropy device (device id 4): one queue whose writable
 * buffers are filled from getrandom(). Rate limited by bytes (and requests)
 * as Firecracker's entropy device. State owned by the VMM thread. */
#ifndef FLINT_DEVICES_VIRTIO_RNG_H
#define FLINT_DEVICES_VIRTIO_RNG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/rate_limiter.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "vmm/config.h"

#define RNG_QUEUE_SIZE 256
#define RNG_MAX_FILL   65536 /* bytes per request; the device may give less */

struct rng_stats {
	uint64_t requests, bytes, errors, rate_limited;
};

struct virtio_rng {
	struct virtio_mmio mmio;
	struct rate_limiter rl;
	int timer_fd;
	bool throttled;
	bool broken_logged;
	struct logger *log;
	struct rng_stats stats;
	struct vq_seg segs[RNG_QUEUE_SIZE];
	struct iovec iov[RNG_QUEUE_SIZE];
};

/* Set up from the entropy configuration (not yet on any bus). 0 or -errno. */
int rng_create(struct virtio_rng *r, const struct cfg_entropy *cfg, struct fault *f);
/* Put it on the bus and the event loop (see virtio_mmio_register). */
int rng_register(struct virtio_rng *r, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log);
void rng_destroy(struct virtio_rng *r);
/* VMM thread: fill every available buffer (also the notify handler). */
void rng_process(struct virtio_rng *r);

#endif
