/* virtio-vsock front-end: virtqueues <-> muxer. */
#include "devices/virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_ids.h>

#define VSOCK_BATCH 256 /* chains per queue per loop turn before yielding */

/* One tx chain: copy the header out, check it, hand it on. */
static void vsock_tx_one(struct virtio_vsock *v, const struct vq_chain *c)
{
	struct virtio_vsock_hdr raw;
	struct vsock_pkt p;
	int niov = 0;

	if (vq_chain_read(c, v->mmio.mem, 0, &raw, sizeof(raw)) != 0) {
		v->stats.tx_invalid_pkts++; /* shorter than a header */
		return;
	}
	vsp_decode(&raw, &p);
	/* len is checked against the chain before it sizes anything. */
	if (p.len > 0 && p.len <= VSOCK_MAX_PAYLOAD && p.len <= c->read_len - VSOCK_HDR_SIZE) {
		niov = vq_chain_iov(c, v->mmio.mem, false, VSOCK_HDR_SIZE, p.len, v->iov,
				    VSOCK_QUEUE_SIZE);
		if (niov < 0) {
			v->stats.tx_invalid_pkts++;
			return;
		}
	}
	vmux_from_guest(&v->mux, &p, c->read_len, v->iov, niov);
}

static void vsock_broken(struct virtio_vsock *v, const char *q, uint64_t *fails)
{
	(*fails)++;
	if (!v->broken_logged)
		LOG_ERROR(v->log, "virtio-vsock: %s queue broken by the guest, stopped", q);
	v->broken_logged = true;
}

void vsock_process_tx(struct virtio_vsock *v)
{
	struct virtq *q = &v->mmio.queues[VSOCK_TXQ];
	struct vq_chain c = {.segs = v->segs, .cap = VSOCK_QUEUE_SIZE};
	bool pushed = false;

	for (int done = 0;; done++) {
		int n;

		if (done == VSOCK_BATCH) {
			virtio_mmio_requeue(&v->mmio, VSOCK_TXQ);
			break;
		}
		n = vq_pop(q, v->mmio.mem, &c);
		if (n == 0) {
			if (vq_enable_notify(q, v->mmio.mem))
				continue;
			break;
		}
		if (n == -EIO) {
			vsock_broken(v, "tx", &v->stats.tx_queue_event_fails);
			break;
		}
		if (n < 0)
			v->stats.tx_invalid_pkts++;
		else
			vsock_tx_one(v, &c);
		vq_push(q, v->mmio.mem, c.head, 0);
		pushed = true;
	}
	if (pushed && vq_needs_interrupt(q, v->mmio.mem))
		virtio_mmio_signal_used(&v->mmio);
	/* Replies (RESPONSE, RST, credit) may be owed now. */
	vsock_process_rx(v);
}

/* Fill one popped rx chain. False: nothing was owed after all (the chain
 * was given back). */
static bool vsock_rx_one(struct virtio_vsock *v, struct virtq *q, const struct vq_chain *c)
{
	const struct guest_mem *m = v->mmio.mem;
	struct virtio_vsock_hdr raw;
	struct vsock_pkt p;
	uint32_t room;
	int niov;

	if (c->write_len < VSOCK_HDR_SIZE) {
		v->stats.rx_invalid_bufs++;
		vq_push(q, m, c->head, 0);
		return true;
	}
	room = c->write_len - VSOCK_HDR_SIZE;
	if (room > VSOCK_MAX_PAYLOAD)
		room = VSOCK_MAX_PAYLOAD;
	niov = vq_chain_iov(c, m, true, VSOCK_HDR_SIZE, room, v->iov, VSOCK_QUEUE_SIZE);
	if (niov < 0) {
		v->stats.rx_invalid_bufs++;
		vq_push(q, m, c->head, 0);
		return true;
	}
	if (vmux_to_guest(&v->mux, &p, v->iov, niov, room) != 0) {
		if (room > 0) {
			vq_undo_pop(q); /* nothing owed after all: keep it */
			return false;
		}
		/* Header-only buffers cannot carry the data that is owed: consume
		 * them rather than stall the ring behind one. */
		v->stats.rx_invalid_bufs++;
		vq_push(q, m, c->head, 0);
		return true;
	}
	vsp_encode(&p, &raw);
	vq_chain_write(c, m, 0, &raw, sizeof(raw)); /* fits: write_len checked */
	vq_push(q, m, c->head, VSOCK_HDR_SIZE + p.len);
	return true;
}

void vsock_process_rx(struct virtio_vsock *v)
{
	struct virtq *q = &v->mmio.queues[VSOCK_RXQ];
	struct vq_chain c = {.segs = v->segs, .cap = VSOCK_QUEUE_SIZE};
	bool pushed = false;

	if (!v->mmio.active)
		return;
	for (int done = 0; vmux_has_rx(&v->mux); done++) {
		int n;

		if (done == VSOCK_BATCH) {
			virtio_mmio_requeue(&v->mmio, VSOCK_RXQ);
			break;
		}
		n = vq_pop(q, v->mmio.mem, &c);
		if (n == 0) {
			if (vq_enable_notify(q, v->mmio.mem))
				continue;
			break; /* wait for the guest to add buffers */
		}
		if (n == -EIO) {
			vsock_broken(v, "rx", &v->stats.rx_queue_event_fails);
			break;
		}
		if (n < 0) {
			v->stats.rx_invalid_bufs++;
			vq_push(q, v->mmio.mem, c.head, 0);
		} else if (!vsock_rx_one(v, q, &c)) {
			break;
		}
		pushed = true;
	}
	if (pushed && vq_needs_interrupt(q, v->mmio.mem))
		virtio_mmio_signal_used(&v->mmio);
}

int vsock_transport_reset(struct virtio_vsock *v)
{
	struct virtio_vsock_event ev = {.id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)};
	struct virtq *q = &v->mmio.queues[VSOCK_EVQ];
	struct vq_chain c = {.segs = v->segs, .cap = VSOCK_QUEUE_SIZE};
	uint32_t written = 0;
	int n;

	if (!v->mmio.active || !q->ready)
		return 0; /* a driver that set up nothing has no connections */
	n = vq_pop(q, v->mmio.mem, &c);
	if (n == 0 || n == -EIO) {
		v->stats.ev_queue_event_fails++;
		return -ENOSPC;
	}
	if (n == 1 && c.write_len >= sizeof(ev) &&
	    vq_chain_write(&c, v->mmio.mem, 0, &ev, sizeof(ev)) == 0)
		written = sizeof(ev);
	else
		v->stats.ev_queue_event_fails++;
	vq_push(q, v->mmio.mem, c.head, written);
	virtio_mmio_signal_used(&v->mmio);
	return 0;
}

/* --- transport glue --- */

static uint64_t vsock_features(const void *dev)
{
	(void)dev;
	return 0; /* stream only: no VIRTIO_VSOCK_F_SEQPACKET */
}

static void vsock_config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	const struct virtio_vsock *v = dev;

	virtio_config_read(&v->config, sizeof(v->config), off, data, len);
}

static int vsock_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_vsock *v = dev;

	if (!t->queues[VSOCK_RXQ].ready || !t->queues[VSOCK_TXQ].ready) {
		v->stats.activate_fails++;
		return -EINVAL;
	}
	v->broken_logged = false;
	return 0;
}

static void vsock_reset(void *dev)
{
	struct virtio_vsock *v = dev;

	/* The guest's sockets are gone: so are the host ends. */
	vmux_reset(&v->mux);
}

static void vsock_notify(void *dev, uint32_t q)
{
	struct virtio_vsock *v = dev;

	if (q == VSOCK_RXQ) {
		v->stats.rx_queue_event_count++;
		vsock_process_rx(v);
	} else if (q == VSOCK_TXQ) {
		v->stats.tx_queue_event_count++;
		vsock_process_tx(v);
	}
	/* The event queue only holds buffers for events we never send. */
}

static const struct virtio_dev_ops vsock_ops = {
    .name = "vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .num_queues = 3,
    .queue_max = VSOCK_QUEUE_SIZE,
    .features = vsock_features,
    .config_read = vsock_config_read,
    .config_write = NULL,
    .activate = vsock_activate,
    .reset = vsock_reset,
    .notify = vsock_notify,
};

static void vsock_rx_ready(void *opaque)
{
	vsock_process_rx(opaque);
}

int vsock_create(struct virtio_vsock *v, const struct cfg_vsock *cfg, struct fault *f)
{
	memset(v, 0, sizeof(*v));
	if (cfg->guest_cid < 3) {
		fault_set(f, "vsock: guest_cid must be at least 3");
		return -EINVAL;
	}
	v->config.guest_cid = htole64(cfg->guest_cid);
	vmux_init(&v->mux, cfg->guest_cid, cfg->uds_path, &v->stats, NULL);
	return 0;
}

int vsock_register(struct virtio_vsock *v, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		   const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log)
{
	int err;

	v->log = log;
	v->mux.log = log;
	err = virtio_mmio_register(&v->mmio, mmio_bus, vm_fd, loop, mem, base, irq, &vsock_ops, v,
				   log);
	if (err)
		return err;
	err = vmux_open(&v->mux, loop, vsock_rx_ready, v);
	if (err)
		virtio_mmio_destroy(&v->mmio);
	return err;
}

void vsock_destroy(struct virtio_vsock *v)
{
	vmux_close(&v->mux);
	virtio_mmio_destroy(&v->mmio);
}
