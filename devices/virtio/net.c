/* virtio-net front-end: tx and rx queue service over a tap back-end. */
#include "devices/virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#define NET_BATCH 256 /* frames per direction per loop turn before yielding */

#define NET_F(x) (1ULL << VIRTIO_NET_F_##x)
#define NET_FEATURES                                                                               \
	(NET_F(CSUM) | NET_F(GUEST_CSUM) | NET_F(GUEST_TSO4) | NET_F(GUEST_TSO6) |                 \
	 NET_F(HOST_TSO4) | NET_F(HOST_TSO6) | NET_F(MRG_RXBUF) | NET_F(STATUS))

/* Offset of num_buffers in struct virtio_net_hdr_v1. */
#define NET_HDR_NUM_BUFFERS 10

enum net_rx_res {
	NET_RX_DONE,	  /* frame delivered or dropped: read the next one */
	NET_RX_NO_BUF,	  /* frame kept: wait for rx buffers */
	NET_RX_THROTTLED, /* frame kept: wait for the rate limiter */
	NET_RX_BROKEN,	  /* the rx ring is broken */
};

/* --- tx --- */

static bool net_tx_malformed(const struct vq_chain *c)
{
	return c->write_len != 0 || c->read_len < NET_HDR_LEN || c->read_len > NET_MAX_FRAME;
}

/* Rate-limit one frame. False: given back to the queue, the timer armed. */
static bool net_tx_admit(struct virtio_net *n, struct virtq *q, uint32_t bytes)
{
	uint64_t wait;

	if (rl_unlimited(&n->tx_rl) || rl_consume(&n->tx_rl, bytes, 1, n->now_ns(), &wait))
		return true;
	vq_undo_pop(q);
	n->stats.tx_rate_limiter_throttled++;
	n->tx_throttled = rl_timer_arm(n->tx_timer_fd, wait) == 0;
	return false;
}

/* Write a well-formed chain's header + frame to the tap, zero-copy. */
static void net_tx_send(struct virtio_net *n, const struct vq_chain *c)
{
	int cnt = vq_chain_iov(c, n->mmio.mem, false, 0, c->read_len, n->iov, NET_QUEUE_SIZE);

	if (cnt < 0) {
		n->stats.tx_malformed_frames++;
		return;
	}
	if (tap_writev(&n->tap, n->iov, cnt) < 0) {
		n->stats.tap_write_fails++;
		n->stats.tx_fails++;
		return;
	}
	n->stats.tx_packets_count++;
	n->stats.tx_bytes_count += c->read_len - NET_HDR_LEN;
}

/* Send one popped chain. False: deferred by the rate limiter. */
static bool net_tx_one(struct virtio_net *n, struct virtq *q, const struct vq_chain *c)
{
	if (net_tx_malformed(c))
		n->stats.tx_malformed_frames++;
	else if (net_tx_admit(n, q, c->read_len))
		net_tx_send(n, c);
	else
		return false;
	vq_push(q, n->mmio.mem, c->head, 0);
	return true;
}

void net_tx_process(struct virtio_net *n)
{
	struct virtq *q = &n->mmio.queues[NET_TXQ];
	struct vq_chain c = {.segs = n->segs, .cap = NET_QUEUE_SIZE};
	bool pushed = false;

	for (int done = 0; !n->tx_throttled;) {
		int r = vq_pop(q, n->mmio.mem, &c);

		if (r == 0) {
			if (vq_enable_notify(q, n->mmio.mem))
				continue;
			break;
		}
		if (r == -EIO) {
			if (!n->tx_broken_logged)
				LOG_ERROR(n->log,
					  "virtio-net %s: tx queue broken by the guest, stopped",
					  n->id);
			n->tx_broken_logged = true;
			break;
		}
		if (r < 0) {
			n->stats.tx_malformed_frames++;
			vq_push(q, n->mmio.mem, c.head, 0);
			pushed = true;
		} else if (net_tx_one(n, q, &c)) {
			pushed = true;
		} else if (!n->tx_throttled) {
			break; /* no timer: wait for the next notification */
		}
		if (++done == NET_BATCH) {
			virtio_mmio_requeue(&n->mmio, NET_TXQ);
			break;
		}
	}
	if (pushed && vq_needs_interrupt(q, n->mmio.mem))
		virtio_mmio_signal_used(&n->mmio);
}

/* --- rx --- */

static void net_tap_event(void *opaque, uint32_t events);

/* Poll the tap only while a frame could go somewhere: active, not rate
 * limited, not waiting for buffers, rx ring usable. */
static void net_rx_update_poll(struct virtio_net *n)
{
	const struct virtq *q = &n->mmio.queues[NET_RXQ];
	bool want = n->running && n->mmio.ops && q->ready && !q->broken && !n->rx_throttled &&
		    !n->rx_wait_buffers && n->tap.fd >= 0 && n->tap_in_loop;

	if (want == n->tap_polled)
		return;
	/* EPOLL_CTL_MOD to no events would still report HUP/ERR: take the fd
	 * off the loop instead, so a dead back-end cannot spin it. */
	if (want)
		n->tap_polled = ev_add(n->mmio.loop, n->tap.fd, EPOLLIN, net_tap_event, n) == 0;
	else
		n->tap_polled = ev_del(n->mmio.loop, n->tap.fd) != 0;
}

/* Read the next frame into rx_buf. 1: a frame; 2: a bad frame was
 * dropped; 0: the tap is empty; -errno: the tap failed. */
static int net_rx_read(struct virtio_net *n)
{
	struct iovec iov = {.iov_base = n->rx_buf, .iov_len = sizeof(n->rx_buf)};
	ssize_t r = tap_readv(&n->tap, &iov, 1);

	if (r == -EAGAIN)
		return 0;
	if (r <= 0) {
		n->stats.tap_read_fails++;
		return r < 0 ? (int)r : -EPIPE; /* 0: the back-end is gone */
	}
	if (r < NET_HDR_LEN || r > NET_MAX_FRAME) {
		n->stats.rx_fails++;
		return 2;
	}
	n->rx_len = (uint32_t)r;
	n->rx_charged = false;
	return 1;
}

static void net_rx_count(struct virtio_net *n)
{
	n->stats.rx_packets_count++;
	n->stats.rx_bytes_count += n->rx_len - NET_HDR_LEN;
	n->rx_len = 0;
}

static void net_rx_drop(struct virtio_net *n)
{
	n->stats.rx_fails++;
	n->rx_len = 0;
}

/* Without MRG_RXBUF: the whole frame into the chain at the head. */
static enum net_rx_res net_rx_single(struct virtio_net *n, struct virtq *q, bool *pushed)
{
	const struct guest_mem *m = n->mmio.mem;
	struct vq_chain c = {.segs = n->segs, .cap = NET_QUEUE_SIZE};
	uint16_t one = htole16(1);

	for (;;) {
		int r = vq_pop(q, m, &c);

		if (r == 0 && vq_enable_notify(q, m))
			continue;
		if (r == 0)
			return NET_RX_NO_BUF;
		if (r == -EIO)
			return NET_RX_BROKEN;
		if (r > 0 && c.write_len >= n->rx_len) {
			memcpy(n->rx_buf + NET_HDR_NUM_BUFFERS, &one, sizeof(one));
			r = vq_chain_write(&c, m, 0, n->rx_buf, n->rx_len);
			vq_push(q, m, c.head, r == 0 ? n->rx_len : 0);
			*pushed = true;
			if (r == 0)
				net_rx_count(n);
			else
				net_rx_drop(n);
			return NET_RX_DONE;
		}
		if (r > 0) { /* too small for this frame; may suit the next one */
			vq_undo_pop(q);
			net_rx_drop(n);
			return NET_RX_DONE;
		}
		n->stats.rx_fails++; /* malformed chain: give it back empty */
		vq_push(q, m, c.head, 0);
		*pushed = true;
	}
}

/* Give back the cnt chains held for a merged frame: unused (undo) or
 * completed empty. */
static void net_rx_release(struct virtio_net *n, struct virtq *q, uint32_t cnt, bool undo,
			   bool *pushed)
{
	for (uint32_t i = 0; i < cnt; i++) {
		if (undo) {
			vq_undo_pop(q);
		} else {
			vq_push(q, n->mmio.mem, n->heads[i], 0);
			*pushed = true;
		}
	}
}

/* Pop the next chain for a merged frame into c. 1: got one; 0: none
 * available now; -EIO: broken ring; -EINVAL: a malformed chain in the
 * middle of a frame (completed empty; the frame is lost). Malformed chains
 * before the first one are completed empty and skipped. */
static int net_rx_pop_merged(struct virtio_net *n, struct virtq *q, struct vq_chain *c,
			     uint32_t cnt, bool *pushed)
{
	for (;;) {
		int r = vq_pop(q, n->mmio.mem, c);

		if (r == 0 && vq_enable_notify(q, n->mmio.mem))
			continue;
		if (r == 0 || r == -EIO)
			return r;
		/* The first buffer must hold the whole header (num_buffers). */
		if (r > 0 && (cnt > 0 || c->write_len >= NET_HDR_LEN))
			return 1;
		vq_push(q, n->mmio.mem, c->head, 0);
		*pushed = true;
		n->stats.rx_fails++;
		if (cnt > 0)
			return -EINVAL;
	}
}

/* With MRG_RXBUF: spread the frame over as many chains as it needs. */
static enum net_rx_res net_rx_merged(struct virtio_net *n, struct virtq *q, bool *pushed)
{
	const struct guest_mem *m = n->mmio.mem;
	struct vq_chain first = {.segs = n->first_segs, .cap = NET_QUEUE_SIZE};
	struct vq_chain c = {.segs = n->segs, .cap = NET_QUEUE_SIZE};
	uint32_t off = 0, cnt = 0;
	uint16_t nbuf;

	while (off < n->rx_len) {
		struct vq_chain *cur = cnt == 0 ? &first : &c;
		uint32_t k;
		int r;

		if (cnt >= q->size || cnt >= NET_QUEUE_SIZE) {
			/* The whole ring is in our hands and cannot hold it. */
			net_rx_release(n, q, cnt, true, pushed);
			net_rx_drop(n);
			return NET_RX_DONE;
		}
		r = net_rx_pop_merged(n, q, cur, cnt, pushed);
		if (r == 0) {
			/* avail_event now asks for the next buffer: wait for it. */
			net_rx_release(n, q, cnt, true, pushed);
			return NET_RX_NO_BUF;
		}
		if (r == -EIO)
			return NET_RX_BROKEN;
		if (r < 0) {
			net_rx_release(n, q, cnt, false, pushed);
			net_rx_drop(n);
			return NET_RX_DONE;
		}
		k = n->rx_len - off < cur->write_len ? n->rx_len - off : cur->write_len;
		if (vq_chain_write(cur, m, 0, n->rx_buf + off, k))
			k = 0; /* cannot happen: the chain was checked to be RAM */
		n->heads[cnt] = cur->head;
		n->lens[cnt++] = k;
		off += k;
	}
	nbuf = htole16((uint16_t)cnt);
	if (vq_chain_write(&first, m, NET_HDR_NUM_BUFFERS, &nbuf, sizeof(nbuf)))
		n->lens[0] = 0;
	for (uint32_t i = 0; i < cnt; i++)
		vq_push(q, m, n->heads[i], n->lens[i]);
	*pushed = true;
	net_rx_count(n);
	return NET_RX_DONE;
}

/* Deliver the pending frame, charging the rate limiter once per frame. */
static enum net_rx_res net_rx_deliver(struct virtio_net *n, struct virtq *q, bool *pushed)
{
	uint64_t wait;

	if (!n->rx_charged && !rl_unlimited(&n->rx_rl)) {
		if (!rl_consume(&n->rx_rl, n->rx_len, 1, n->now_ns(), &wait)) {
			n->stats.rx_rate_limiter_throttled++;
			n->rx_throttled = rl_timer_arm(n->rx_timer_fd, wait) == 0;
			if (!n->rx_throttled)
				n->rx_wait_buffers = true; /* no timer: retry on a notify */
			return NET_RX_THROTTLED;
		}
	}
	n->rx_charged = true;
	return n->mergeable ? net_rx_merged(n, q, pushed) : net_rx_single(n, q, pushed);
}

/* One step: read a frame if none is pending, then deliver it. False: stop. */
static bool net_rx_step(struct virtio_net *n, struct virtq *q, bool *pushed)
{
	int r;

	if (!n->rx_len) {
		r = net_rx_read(n);
		if (r == 0)
			return false;
		if (r == 2)
			return true;
		if (r < 0) {
			/* Stop polling a failing tap; the next rx notify retries. */
			n->rx_wait_buffers = true;
			return false;
		}
	}
	switch (net_rx_deliver(n, q, pushed)) {
	case NET_RX_DONE:
		return true;
	case NET_RX_NO_BUF:
		n->stats.no_rx_avail_buffer++;
		n->rx_wait_buffers = true;
		return false;
	case NET_RX_BROKEN:
		if (!n->rx_broken_logged)
			LOG_ERROR(n->log, "virtio-net %s: rx queue broken by the guest, stopped",
				  n->id);
		n->rx_broken_logged = true;
		return false;
	default:
		return false;
	}
}

void net_rx_process(struct virtio_net *n)
{
	struct virtq *q = &n->mmio.queues[NET_RXQ];
	bool pushed = false;

	for (int done = 0; n->running && !n->rx_throttled && !n->rx_wait_buffers && !q->broken &&
			   done < NET_BATCH;
	     done++)
		if (!net_rx_step(n, q, &pushed))
			break;
	net_rx_update_poll(n);
	if (pushed && vq_needs_interrupt(q, n->mmio.mem))
		virtio_mmio_signal_used(&n->mmio);
}

static void net_tap_event(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	n->stats.rx_tap_event_count++;
	net_rx_process(n);
}

/* --- transport glue --- */

static uint64_t net_features(const void *dev)
{
	const struct virtio_net *n = dev;

	return n->features;
}

static void net_config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	const struct virtio_net *n = dev;

	virtio_config_read(&n->config, sizeof(n->config), off, data, len);
}

static int net_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_net *n = dev;
	int err;

	if (!t->queues[NET_RXQ].ready || !t->queues[NET_TXQ].ready)
		return -EINVAL;
	err = tap_set_offload(&n->tap, t->features);
	if (err) {
		LOG_ERROR(n->log, "virtio-net %s: cannot set tap offloads: %s", n->id,
			  strerror(-err));
		return err;
	}
	n->mergeable = t->features & NET_F(MRG_RXBUF);
	n->rx_len = 0;
	n->rx_throttled = n->tx_throttled = n->rx_wait_buffers = false;
	n->rx_broken_logged = n->tx_broken_logged = false;
	n->running = true;
	/* t->active is set once we return; poll the tap from now on. */
	net_rx_update_poll(n);
	return 0;
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	/* Pending retry timers may still fire: they find nothing throttled. */
	n->running = false;
	n->rx_len = 0;
	n->rx_throttled = n->tx_throttled = false;
	n->rx_wait_buffers = true; /* stops tap polling until the next activation */
	net_rx_update_poll(n);
}

static void net_notify(void *dev, uint32_t q)
{
	struct virtio_net *n = dev;

	if (q == NET_TXQ) {
		n->stats.tx_queue_event_count++;
		net_tx_process(n);
		return;
	}
	n->stats.rx_queue_event_count++;
	n->rx_wait_buffers = false;
	net_rx_process(n);
}

static const struct virtio_dev_ops net_ops = {
    .name = "net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 2,
    .queue_max = NET_QUEUE_SIZE,
    .features = net_features,
    .config_read = net_config_read,
    .config_write = NULL,
    .activate = net_activate,
    .reset = net_reset,
    .notify = net_notify,
};

static bool net_timer_fired(int fd)
{
	uint64_t ticks;

	return read(fd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks);
}

static void net_rx_timer_event(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	if (!net_timer_fired(n->rx_timer_fd) || !n->rx_throttled || !n->running)
		return;
	n->rx_throttled = false;
	net_rx_process(n);
}

static void net_tx_timer_event(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	if (!net_timer_fired(n->tx_timer_fd) || !n->tx_throttled || !n->running)
		return;
	n->tx_throttled = false;
	net_tx_process(n);
}

static void net_set_config(struct virtio_net *n, const struct cfg_net *cfg)
{
	n->features = NET_FEATURES;
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	if (cfg->has_guest_mac) {
		memcpy(n->config.mac, cfg->guest_mac, sizeof(n->config.mac));
		n->features |= NET_F(MAC);
	}
	if (cfg->mtu) { /* 68..65535: checked by the config setter */
		n->config.mtu = htole16((uint16_t)cfg->mtu);
		n->features |= NET_F(MTU);
	}
}

int net_create_with_tap(struct virtio_net *n, const struct cfg_net *cfg, const struct tap *tap,
			struct fault *f)
{
	int err;

	memset(n, 0, sizeof(*n));
	n->tap = *tap;
	n->rx_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	n->tx_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (n->rx_timer_fd < 0 || n->tx_timer_fd < 0) {
		err = -errno;
		fault_set(f, "network interface %s: timerfd: %s", cfg->iface_id, strerror(-err));
		net_destroy(n);
		return err;
	}
	snprintf(n->id, sizeof(n->id), "%s", cfg->iface_id);
	net_set_config(n, cfg);
	n->now_ns = rl_now_ns;
	rl_init(&n->rx_rl, &cfg->rx_rate_limiter, n->now_ns());
	rl_init(&n->tx_rl, &cfg->tx_rate_limiter, n->now_ns());
	n->rx_wait_buffers = true; /* nothing to poll for before activation */
	return 0;
}

int net_create(struct virtio_net *n, const struct cfg_net *cfg, struct fault *f)
{
	struct tap tap;
	int err = tap_open(&tap, cfg->host_dev_name);

	if (err) {
		memset(n, 0, sizeof(*n));
		n->tap.fd = n->rx_timer_fd = n->tx_timer_fd = -1;
		if (err == -ENODEV)
			fault_set(
			    f,
			    "network interface %s: no tap device named '%s' (create it first, "
			    "e.g. ip tuntap add dev %s mode tap)",
			    cfg->iface_id, cfg->host_dev_name, cfg->host_dev_name);
		else
			fault_set(f, "network interface %s: cannot open tap device '%s': %s",
				  cfg->iface_id, cfg->host_dev_name, strerror(-err));
		return err;
	}
	return net_create_with_tap(n, cfg, &tap, f);
}

static int net_hook_up(struct virtio_net *n, struct ev_loop *loop)
{
	int err = ev_add(loop, n->rx_timer_fd, EPOLLIN, net_rx_timer_event, n);

	if (!err) {
		err = ev_add(loop, n->tx_timer_fd, EPOLLIN, net_tx_timer_event, n);
		if (err)
			ev_del(loop, n->rx_timer_fd);
	}
	return err;
}

int net_register(struct virtio_net *n, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log)
{
	int err;

	n->log = log;
	err =
	    virtio_mmio_register(&n->mmio, mmio_bus, vm_fd, loop, mem, base, irq, &net_ops, n, log);
	if (err)
		return err;
	err = net_hook_up(n, loop);
	if (err) {
		virtio_mmio_destroy(&n->mmio);
		return err;
	}
	n->tap_in_loop = true;
	return 0;
}

void net_destroy(struct virtio_net *n)
{
	if (n->mmio.ops && n->mmio.loop && n->tap_in_loop) {
		if (n->tap_polled)
			ev_del(n->mmio.loop, n->tap.fd);
		ev_del(n->mmio.loop, n->rx_timer_fd);
		ev_del(n->mmio.loop, n->tx_timer_fd);
	}
	n->tap_polled = n->tap_in_loop = false;
	virtio_mmio_destroy(&n->mmio);
	if (n->rx_timer_fd >= 0)
		close(n->rx_timer_fd);
	if (n->tx_timer_fd >= 0)
		close(n->tx_timer_fd);
	n->rx_timer_fd = n->tx_timer_fd = -1;
	tap_close(&n->tap);
}
