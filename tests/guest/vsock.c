/* The vsock test: a virtio-vsock stream driver with several connections,
 * credit-based flow control both ways, and zero-copy data paths (the guest
 * runs through an instruction emulator on some hosts: no per-byte work).
 *
 * vsock_port=P: open vsock_conns connections (local ports 1025..) to the
 * host (CID 2) port P. Without vsock_bulk each sends a ping and checks the
 * echo; with vsock_bulk=B each sends B bytes of the stream pattern (byte o
 * is pat(o % 65536), pat(i) = (i * 7 + (i >> 8) * 13) & 0xff) and does not
 * wait for an echo. Then SHUTDOWN and wait for the RST.
 * vsock_listen=P: accept vsock_conns connections on port P and echo every
 * byte (vsock_sink=1: consume instead, and answer "ACK\n" once vsock_bulk
 * bytes arrived) until the host ends each one. REQUESTs for other ports are
 * refused with RST, as Linux does.
 * vsock_reset=1 (for snapshot tests): the listen side also waits for a
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (what a restored VM's device sends:
 * every connection open at the snapshot is gone, as in Linux's driver) and
 * only then ends, and the connect side (vsock_port) runs after it instead
 * of before, so both directions are tried in the restored VM.
 * Packets use two descriptors (header, then payload). Host credit is
 * respected; ours is buf_alloc 64 KiB with fwd_cnt = bytes consumed. */
#include <linux/errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"

#define VS_RXQ 0
#define VS_TXQ 1
#define VS_EVQ 2
/* Echo holds rx buffers until the host has credit for the bytes; a host
 * program that stops reading can make the guest hold every buffer (credit
 * counts bytes, not buffers), so echo tests must read while they write. */
#define VS_RX_BUFS    20
#define VS_RX_DATA    16384
#define VS_BUF_ALLOC  65536
#define VS_MAX_CONNS  8
#define VS_HOST_CID   2
#define VS_LOCAL_PORT 1025
#define VS_PAT	      65536
#define VS_PING	      "FLINT-VSOCK-PING 0123456789abcdef"
#define VS_HDR	      sizeof(struct virtio_vsock_hdr)
#define VS_SHUT_BOTH  (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

struct vs_rxbuf {
	struct virtio_vsock_hdr hdr;
	uint8_t data[VS_RX_DATA] __attribute__((aligned(64)));
};

enum vs_state { VS_FREE, VS_CONNECTING, VS_OPEN, VS_SHUTTING, VS_CLOSED };

struct vs_conn {
	enum vs_state state;
	uint64_t peer_cid;
	uint32_t local, peer;
	uint32_t fwd_cnt, fwd_sent;	     /* bytes we consumed; as last told */
	uint32_t peer_buf, peer_fwd, tx_cnt; /* the host's credit */
	uint64_t sent, rcvd, want;	     /* payload totals; bulk target */
	bool reset, acked, pinged;
	int16_t held[VS_RX_BUFS]; /* rx buffers waiting to be echoed */
	uint32_t held_off;	  /* bytes of held[0] already echoed */
	unsigned nheld;
};

struct vs_opts {
	uint32_t port, listen, conns, wait_ms;
	uint64_t bulk;
	bool sink;
	bool reset; /* vsock_reset=1: listen until a transport reset, then connect */
};

struct vs {
	struct vdev d;
	struct vq rxq, txq, evq;
	uint64_t cid;
	struct vs_opts o;
	int16_t rx_of_head[VQ_SIZE_MAX];
	int16_t ev_of_head[VQ_SIZE_MAX];
	uint32_t rx_len[VS_RX_BUFS];
	struct vs_conn conns[VS_MAX_CONNS];
	unsigned nconns, accepted, refused;
	unsigned resets; /* TRANSPORT_RESET events seen */
	struct virtio_vsock_hdr txhdr;
	uint32_t events[4];
	uint8_t pat[VS_PAT];
	struct vs_rxbuf rx[VS_RX_BUFS];
	uint8_t ring[3][VQ_RING_BYTES] __attribute__((aligned(4096)));
};

static struct vs vs_state;

static const char vs_ping[] = VS_PING;

/* --- options (parsed here: the shared parser knows only port/listen/wait) --- */

static void vs_parse(struct vs *v, const struct guest *g)
{
	v->o.port = g->opts.vsock_port;
	v->o.listen = g->opts.vsock_listen;
	v->o.wait_ms = g->opts.vsock_wait_ms;
	v->o.conns = (uint32_t)lib_cmdline_u64(g->cmdline, "vsock_conns", 1);
	v->o.bulk = lib_cmdline_u64(g->cmdline, "vsock_bulk", 0);
	v->o.sink = lib_cmdline_u64(g->cmdline, "vsock_sink", 0) != 0;
	v->o.reset = lib_cmdline_u64(g->cmdline, "vsock_reset", 0) != 0;
	if (v->o.conns < 1)
		v->o.conns = 1;
	if (v->o.conns > VS_MAX_CONNS)
		v->o.conns = VS_MAX_CONNS;
}

/* --- packets --- */

static void vs_post_rx(struct vs *v, unsigned i)
{
	struct vbuf b[2] = {{&v->rx[i].hdr, VS_HDR, true}, {v->rx[i].data, VS_RX_DATA, true}};
	int head = vq_add(&v->rxq, b, 2);

	if (head >= 0)
		v->rx_of_head[head] = (int16_t)i;
}

static uint32_t vs_credit(const struct vs_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd;

	return in_flight >= c->peer_buf ? 0 : c->peer_buf - in_flight;
}

/* Send one packet on c (payload at data, zero-copy); waits for the device
 * to take it. */
static int vs_send(struct vs *v, struct vs_conn *c, uint16_t op, uint32_t flags, const void *data,
		   uint32_t len)
{
	struct vbuf b[2] = {{&v->txhdr, VS_HDR, false}, {data, len, false}};
	uint32_t used;
	int rc;

	v->txhdr = (struct virtio_vsock_hdr){
	    .src_cid = v->cid,
	    .dst_cid = c->peer_cid,
	    .src_port = c->local,
	    .dst_port = c->peer,
	    .len = len,
	    .type = VIRTIO_VSOCK_TYPE_STREAM,
	    .op = op,
	    .flags = flags,
	    .buf_alloc = VS_BUF_ALLOC,
	    .fwd_cnt = c->fwd_cnt,
	};
	rc = vq_run(&v->txq, b, len ? 2 : 1, &used);
	if (rc >= 0) {
		c->fwd_sent = c->fwd_cnt;
		c->tx_cnt += len;
		c->sent += len;
	}
	return rc < 0 ? rc : 0;
}

/* An RST for a packet that belongs to no connection. */
static void vs_refuse(struct vs *v, const struct virtio_vsock_hdr *h)
{
	struct vs_conn tmp = {.peer_cid = h->src_cid, .local = h->dst_port, .peer = h->src_port};

	vs_send(v, &tmp, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
}

static struct vs_conn *vs_find(struct vs *v, const struct virtio_vsock_hdr *h)
{
	for (unsigned i = 0; i < v->nconns; i++) {
		struct vs_conn *c = &v->conns[i];

		/* a closed connection's ports may come again (a restored
		 * VMM numbers its host ports afresh) */
		if (c->state != VS_FREE && c->state != VS_CLOSED && c->local == h->dst_port &&
		    c->peer == h->src_port)
			return c;
	}
	return NULL;
}

static struct vs_conn *vs_new(struct vs *v, uint64_t cid, uint32_t local, uint32_t peer)
{
	struct vs_conn *c;

	if (v->nconns >= VS_MAX_CONNS)
		return NULL;
	c = &v->conns[v->nconns++];
	*c = (struct vs_conn){.peer_cid = cid, .local = local, .peer = peer, .want = v->o.bulk};
	return c;
}

/* --- receive --- */

/* Re-post the held rx buffers that have been consumed. */
static void vs_release(struct vs *v, struct vs_conn *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		vs_post_rx(v, (unsigned)c->held[i]);
	for (unsigned i = n; i < c->nheld; i++)
		c->held[i - n] = c->held[i];
	c->nheld -= n;
	if (n)
		vq_kick(&v->rxq);
}

static void vs_close(struct vs *v, struct vs_conn *c, bool reset)
{
	vs_release(v, c, c->nheld);
	c->state = VS_CLOSED;
	c->reset = reset;
}

/* A data packet in rx buffer bi: echo later, consume, or check the ping. */
static bool vs_data(struct vs *v, struct vs_conn *c, unsigned bi, uint32_t len)
{
	c->rcvd += len;
	if (v->o.listen && c->local == v->o.listen && !v->o.sink) {
		c->held[c->nheld++] = (int16_t)bi; /* echoed by vs_pump, then re-posted */
		v->rx_len[bi] = len;
		return true;
	}
	if (!c->pinged && v->o.port && c->local != v->o.listen && !v->o.bulk) {
		uint32_t off = (uint32_t)(c->rcvd - len);

		if (c->rcvd > sizeof(vs_ping) - 1 ||
		    memcmp(v->rx[bi].data, vs_ping + off, len) != 0) {
			con_printf("vsock: echo: wrong data at byte %u\n", off);
			vs_close(v, c, true);
		}
	}
	c->fwd_cnt += len;
	return false;
}

/* Handle one received packet; returns true if its buffer is kept. */
static bool vs_packet(struct vs *v, unsigned bi, uint32_t used)
{
	const struct virtio_vsock_hdr *h = &v->rx[bi].hdr;
	uint32_t len = h->len;
	struct vs_conn *c;

	if (used < VS_HDR || len > VS_RX_DATA || len > used - VS_HDR) {
		con_printf("vsock: bad rx packet: used len %u, header len %u\n", used, len);
		return false;
	}
	c = vs_find(v, h);
	if (!c && h->op == VIRTIO_VSOCK_OP_REQUEST && h->dst_port == v->o.listen &&
	    v->accepted < v->o.conns && (c = vs_new(v, h->src_cid, h->dst_port, h->src_port))) {
		v->accepted++;
		c->state = VS_OPEN;
		c->peer_buf = h->buf_alloc;
		c->peer_fwd = h->fwd_cnt;
		vs_send(v, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
		con_printf("vsock: accepted cid %llu port %u on port %u\n",
			   (unsigned long long)c->peer_cid, c->peer, c->local);
		return false;
	}
	if (!c || c->state == VS_CLOSED) {
		if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
			con_printf("vsock: refused port %u\n", h->dst_port);
			v->refused++;
		} else {
			con_printf("vsock: ignoring op %u for port %u from port %u\n", h->op,
				   h->dst_port, h->src_port);
		}
		if (h->op != VIRTIO_VSOCK_OP_RST)
			vs_refuse(v, h);
		return false;
	}
	c->peer_buf = h->buf_alloc;
	c->peer_fwd = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == VS_CONNECTING)
			c->state = VS_OPEN;
		return false;
	case VIRTIO_VSOCK_OP_RW:
		return vs_data(v, c, bi, len);
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		vs_send(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		return false;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		/* The host is done: end it as Linux does (RST once drained). */
		vs_send(v, c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
		vs_close(v, c, false);
		return false;
	case VIRTIO_VSOCK_OP_RST:
		vs_close(v, c, true);
		return false;
	default:
		return false; /* CREDIT_UPDATE: credit taken above */
	}
}

static void vs_post_event(struct vs *v, unsigned i)
{
	struct vbuf b = {&v->events[i], sizeof(v->events[i]), true};
	int head = vq_add(&v->evq, &b, 1);

	if (head >= 0)
		v->ev_of_head[head] = (int16_t)i;
}

/* The event queue: TRANSPORT_RESET ends every connection (their host
 * ends are gone, as after a snapshot restore); the buffer goes back. */
static bool vs_poll_events(struct vs *v)
{
	uint32_t len;
	int head;
	bool any = false;

	while ((head = vq_poll(&v->evq, &len, 0)) >= 0) {
		unsigned i = (unsigned)v->ev_of_head[head], dropped = 0;

		any = true;
		if (len >= sizeof(v->events[i]) &&
		    v->events[i] == VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) {
			for (unsigned c = 0; c < v->nconns; c++) {
				if (v->conns[c].state == VS_CLOSED)
					continue;
				vs_close(v, &v->conns[c], true);
				dropped++;
			}
			v->resets++;
			con_printf("vsock: transport reset, %u connections dropped\n", dropped);
		} else {
			con_printf("vsock: event id %u len %u\n", v->events[i], len);
		}
		vs_post_event(v, i);
		vq_kick(&v->evq);
	}
	return any;
}

/* Take every received packet and event. True if any arrived. */
static bool vs_poll(struct vs *v)
{
	bool any = vs_poll_events(v);
	uint32_t len;
	int head;

	while ((head = vq_poll(&v->rxq, &len, 0)) >= 0) {
		unsigned bi = (unsigned)v->rx_of_head[head];

		any = true;
		if (!vs_packet(v, bi, len)) {
			vs_post_rx(v, bi);
			vq_kick(&v->rxq);
		}
	}
	return any;
}

/* --- send side --- */

/* Echo held buffers as far as the host's credit allows. */
static bool vs_pump_echo(struct vs *v, struct vs_conn *c)
{
	bool any = false;

	while (c->nheld && c->state == VS_OPEN) {
		unsigned bi = (unsigned)c->held[0];
		uint32_t n = v->rx_len[bi] - c->held_off, cr = vs_credit(c);

		if (!cr)
			break;
		n = n < cr ? n : cr;
		c->fwd_cnt += n; /* consumed once it is on its way back */
		if (vs_send(v, c, VIRTIO_VSOCK_OP_RW, 0, v->rx[bi].data + c->held_off, n) < 0)
			break;
		any = true;
		c->held_off += n;
		if (c->held_off == v->rx_len[bi]) {
			c->held_off = 0;
			vs_release(v, c, 1);
		}
	}
	return any;
}

/* Send the next piece of the bulk stream (or the ping). */
static bool vs_pump_send(struct vs *v, struct vs_conn *c)
{
	uint32_t cr = vs_credit(c), off, n;

	if (c->state != VS_OPEN || !cr)
		return false;
	if (!v->o.bulk) {
		if (c->sent)
			return false;
		return vs_send(v, c, VIRTIO_VSOCK_OP_RW, 0, vs_ping, sizeof(vs_ping) - 1) == 0;
	}
	if (c->sent >= c->want)
		return false;
	off = (uint32_t)(c->sent % VS_PAT);
	n = VS_PAT - off;
	if (n > cr)
		n = cr;
	if (n > c->want - c->sent)
		n = (uint32_t)(c->want - c->sent);
	return vs_send(v, c, VIRTIO_VSOCK_OP_RW, 0, v->pat + off, n) == 0;
}

/* Sink bookkeeping: tell the host about consumed bytes, and ACK the bulk. */
static bool vs_pump_sink(struct vs *v, struct vs_conn *c)
{
	if (c->state != VS_OPEN)
		return false;
	if (v->o.bulk && c->rcvd >= v->o.bulk && !c->acked) {
		c->acked = true;
		return vs_send(v, c, VIRTIO_VSOCK_OP_RW, 0, "ACK\n", 4) == 0;
	}
	if (c->fwd_cnt - c->fwd_sent >= VS_BUF_ALLOC / 2)
		return vs_send(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0) == 0;
	return false;
}

static bool vs_pump(struct vs *v)
{
	bool any = false;

	for (unsigned i = 0; i < v->nconns; i++) {
		struct vs_conn *c = &v->conns[i];

		if (c->local == v->o.listen)
			any |= v->o.sink ? vs_pump_sink(v, c) : vs_pump_echo(v, c);
		else
			any |= vs_pump_send(v, c) | vs_pump_sink(v, c);
	}
	return any;
}

/* Run until done() or no progress for wait_ms. */
static int vs_run(struct vs *v, bool (*done)(const struct vs *))
{
	uint64_t last = rdtsc();

	while (!done(v)) {
		if (vs_poll(v) | vs_pump(v))
			last = rdtsc();
		else if (rdtsc() - last > v->o.wait_ms * GUEST_TSC_MS)
			return -ETIMEDOUT;
		else
			cpu_relax();
	}
	return 0;
}

/* --- the two tests --- */

static bool vs_connected(const struct vs *v)
{
	for (unsigned i = 0; i < v->nconns; i++)
		if (v->conns[i].state == VS_CONNECTING)
			return false;
	return true;
}

static bool vs_sent_all(const struct vs *v)
{
	for (unsigned i = 0; i < v->nconns; i++) {
		const struct vs_conn *c = &v->conns[i];
		uint64_t need = v->o.bulk ? c->want : sizeof(vs_ping) - 1;

		if (c->state == VS_OPEN &&
		    (c->sent < need || (!v->o.bulk && c->rcvd < sizeof(vs_ping) - 1)))
			return false;
	}
	return true;
}

static bool vs_all_closed(const struct vs *v)
{
	for (unsigned i = 0; i < v->nconns; i++)
		if (v->conns[i].state != VS_CLOSED)
			return false;
	return true;
}

static int vs_connect(struct test_ctx *t, struct vs *v)
{
	unsigned first = v->nconns;

	for (unsigned i = 0; i < v->o.conns; i++) {
		struct vs_conn *c = vs_new(v, VS_HOST_CID, VS_LOCAL_PORT + i, v->o.port);

		c->state = VS_CONNECTING;
		if (vs_send(v, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0) < 0)
			return test_fail(t, "connect: REQUEST not sent");
	}
	if (vs_run(v, vs_connected) < 0)
		return test_fail(t, "connect to port %u: no answer", v->o.port);
	for (unsigned i = first; i < v->nconns; i++) {
		struct vs_conn *c = &v->conns[i];

		if (c->state != VS_OPEN)
			return test_fail(t, "connect to port %u: op 3 (3 = RST: refused)",
					 v->o.port);
		con_printf("vsock: connected to cid 2 port %u (local port %u)\n", c->peer,
			   c->local);
	}
	if (vs_run(v, vs_sent_all) < 0)
		return test_fail(t, "send: timeout");
	for (unsigned i = first; i < v->nconns; i++) {
		struct vs_conn *c = &v->conns[i];

		if (c->reset || c->state != VS_OPEN)
			return test_fail(t, "conn %u reset by the host after %llu bytes sent", i,
					 (unsigned long long)c->sent);
		if (v->o.bulk)
			con_printf("vsock: conn %u sent %llu bytes\n", i,
				   (unsigned long long)c->sent);
		else
			con_printf("vsock: echo ok %llu bytes\n", (unsigned long long)c->rcvd);
		vs_send(v, c, VIRTIO_VSOCK_OP_SHUTDOWN, VS_SHUT_BOTH, NULL, 0);
		c->state = VS_SHUTTING;
	}
	vs_run(v, vs_all_closed);
	for (unsigned i = first; i < v->nconns; i++)
		con_printf("vsock: after shutdown: op %u\n",
			   v->conns[i].reset ? VIRTIO_VSOCK_OP_RST : 0);
	return 0;
}

static bool vs_listen_done(const struct vs *v)
{
	return v->accepted == v->o.conns && vs_all_closed(v) && (!v->o.reset || v->resets);
}

static int vs_listen(struct test_ctx *t, struct vs *v)
{
	unsigned first = v->nconns;

	con_printf("vsock: listening on port %u\n", v->o.listen);
	if (vs_run(v, vs_listen_done) < 0)
		return test_fail(t, "listen: %u of %u connections, not all closed (timeout)",
				 v->accepted, v->o.conns);
	for (unsigned i = first; i < v->nconns; i++) {
		struct vs_conn *c = &v->conns[i];

		if (v->o.sink)
			con_printf("vsock: received %llu bytes\n", (unsigned long long)c->rcvd);
		else
			con_printf("vsock: echoed %llu bytes\n", (unsigned long long)c->sent);
		if (!c->rcvd)
			return test_fail(t, "listen: connection closed with no data");
	}
	return 0;
}

static int vs_open(struct test_ctx *t, struct vs *v)
{
	if (vdev_find(t->g, VIRTIO_ID_VSOCK, 0, &v->d) < 0)
		return test_fail(t, "no virtio-vsock device");
	if (vdev_init(&v->d, 0) < 0)
		return test_fail(t, "device initialisation failed");
	if (vq_setup(&v->d, &v->rxq, VS_RXQ, v->ring[0]) < 0 ||
	    vq_setup(&v->d, &v->txq, VS_TXQ, v->ring[1]) < 0 ||
	    vq_setup(&v->d, &v->evq, VS_EVQ, v->ring[2]) < 0)
		return test_fail(t, "queue setup failed");
	for (unsigned i = 0; i < VS_RX_BUFS; i++)
		vs_post_rx(v, i);
	for (unsigned i = 0; i < 4; i++)
		vs_post_event(v, i);
	vdev_driver_ok(&v->d);
	vq_kick(&v->rxq);
	vq_kick(&v->evq);
	v->cid = vdev_cfg32(&v->d, 0) | (uint64_t)vdev_cfg32(&v->d, 4) << 32;
	con_printf("vsock: guest_cid=%llu\n", (unsigned long long)v->cid);
	return 0;
}

int test_vsock(struct test_ctx *t)
{
	struct vs *v = &vs_state;
	int rc = 0;

	vs_parse(v, t->g);
	if (!v->o.port && !v->o.listen)
		return test_fail(t, "set vsock_port= and/or vsock_listen=");
	for (uint32_t i = 0; i < VS_PAT; i++)
		v->pat[i] = (uint8_t)(i * 7 + (i >> 8) * 13);
	if (vs_open(t, v) < 0)
		return -1;
	if (v->o.port && !v->o.reset)
		rc = vs_connect(t, v);
	if (rc == 0 && v->o.listen)
		rc = vs_listen(t, v);
	if (rc == 0 && v->o.port && v->o.reset)
		rc = vs_connect(t, v);
	vdev_reset(&v->d);
	return rc;
}
