/* virtio-rng: random bytes straight into guest buffers. */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#define RNG_BATCH 256 /* requests per loop turn before yielding */

static int rng_fill(const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left > 0) {
			ssize_t got = getrandom(p, left, 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return -errno;
			p += got;
			left -= (size_t)got;
		}
	}
	return 0;
}

/* Serve one chain. False: deferred by the rate limiter. */
static bool rng_serve(struct virtio_rng *r, struct virtq *q, const struct vq_chain *c)
{
	uint32_t len = c->write_len < RNG_MAX_FILL ? c->write_len : RNG_MAX_FILL;
	uint64_t wait;
	int n;

	if (len && !rl_unlimited(&r->rl) && !rl_consume(&r->rl, len, 1, rl_now_ns(), &wait)) {
		vq_undo_pop(q);
		r->stats.rate_limited++;
		r->throttled = rl_timer_arm(r->timer_fd, wait) == 0;
		return false;
	}
	n = vq_chain_iov(c, r->mmio.mem, true, 0, len, r->iov, RNG_QUEUE_SIZE);
	if (n < 0 || rng_fill(r->iov, n) != 0) {
		r->stats.errors++;
		len = 0;
	}
	r->stats.requests++;
	r->stats.bytes += len;
	vq_push(q, r->mmio.mem, c->head, len);
	return true;
}

void rng_process(struct virtio_rng *r)
{
	struct virtq *q = &r->mmio.queues[0];
	struct vq_chain c = {.segs = r->segs, .cap = RNG_QUEUE_SIZE};
	bool pushed = false;

	for (int done = 0; !r->throttled;) {
		int n = vq_pop(q, r->mmio.mem, &c);

		if (n == 0) {
			if (vq_enable_notify(q, r->mmio.mem))
				continue;
			break;
		}
		if (n == -EIO) {
			if (!r->broken_logged)
				LOG_ERROR(r->log, "virtio-rng: queue broken by the guest, stopped");
			r->broken_logged = true;
			break;
		}
		if (n < 0) {
			r->stats.errors++;
			vq_push(q, r->mmio.mem, c.head, 0);
			pushed = true;
		} else if (rng_serve(r, q, &c)) {
			pushed = true;
		} else if (!r->throttled) {
			break; /* no timer: wait for the next notification */
		}
		if (++done == RNG_BATCH) {
			virtio_mmio_requeue(&r->mmio, 0);
			break;
		}
	}
	if (pushed && vq_needs_interrupt(q, r->mmio.mem))
		virtio_mmio_signal_used(&r->mmio);
}

static uint64_t rng_features(const void *dev)
{
	(void)dev;
	return 0;
}

static void rng_config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	virtio_config_read(NULL, 0, off, data, len); /* no config space */
}

static int rng_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_rng *r = dev;

	if (!t->queues[0].ready)
		return -EINVAL;
	r->throttled = false;
	r->broken_logged = false;
	return 0;
}

static void rng_reset(void *dev)
{
	/* A pending retry timer may still fire: it finds nothing throttled. */
	((struct virtio_rng *)dev)->throttled = false;
}

static void rng_notify(void *dev, uint32_t q)
{
	(void)q;
	rng_process(dev);
}

static const struct virtio_dev_ops rng_ops = {
    .name = "rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max = RNG_QUEUE_SIZE,
    .features = rng_features,
    .config_read = rng_config_read,
    .config_write = NULL,
    .activate = rng_activate,
    .reset = rng_reset,
    .notify = rng_notify,
};

static void rng_timer_event(void *opaque, uint32_t events)
{
	struct virtio_rng *r = opaque;
	uint64_t ticks;

	(void)events;
	if (read(r->timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	if (!r->throttled || !r->mmio.active)
		return;
	r->throttled = false;
	rng_process(r);
}

int rng_create(struct virtio_rng *r, const struct cfg_entropy *cfg, struct fault *f)
{
	memset(r, 0, sizeof(*r));
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r->timer_fd < 0) {
		int err = -errno;
		fault_set(f, "entropy device: timerfd: %s", strerror(-err));
		return err;
	}
	rl_init(&r->rl, cfg ? &cfg->rate_limiter : NULL, rl_now_ns());
	return 0;
}

int rng_register(struct virtio_rng *r, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log)
{
	int err;

	r->log = log;
	err =
	    virtio_mmio_register(&r->mmio, mmio_bus, vm_fd, loop, mem, base, irq, &rng_ops, r, log);
	if (err)
		return err;
	err = ev_add(loop, r->timer_fd, EPOLLIN, rng_timer_event, r);
	if (err)
		virtio_mmio_destroy(&r->mmio);
	return err;
}

void rng_destroy(struct virtio_rng *r)
{
	if (r->mmio.ops && r->mmio.loop && r->timer_fd >= 0)
		ev_del(r->mmio.loop, r->timer_fd);
	virtio_mmio_destroy(&r->mmio);
	if (r->timer_fd >= 0)
		close(r->timer_fd);
	r->timer_fd = -1;
}
