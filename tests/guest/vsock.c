/* The vsock test: a virtio-vsock stream driver. vsock_port=P connects to
 * the host (CID 2) port P, sends a ping and checks the echo; vsock_listen=P
 * accepts one host connection on port P and echoes what arrives until the
 * host shuts it down. Packets use two descriptors (header, then payload),
 * which every device implementation accepts. */
#include <linux/errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"

#define VS_RXQ	      0
#define VS_TXQ	      1
#define VS_EVQ	      2
#define VS_RX_BUFS    8
#define VS_BUF	      4096
#define VS_BUF_ALLOC  65536
#define VS_HOST_CID   2
#define VS_LOCAL_PORT 1025
#define VS_PING	      "FLINT-VSOCK-PING 0123456789abcdef"
#define VS_HDR	      sizeof(struct virtio_vsock_hdr)

struct vs_rxbuf {
	struct virtio_vsock_hdr hdr;
	uint8_t data[VS_BUF] __attribute__((aligned(64)));
};

/* One connection's addressing and credit counters. */
struct vs_conn {
	uint64_t peer_cid;
	uint32_t local, peer;
	uint32_t fwd_cnt; /* payload bytes we consumed */
};

struct vs {
	struct vdev d;
	struct vq rxq, txq, evq;
	uint64_t cid;
	int16_t rx_of_head[VQ_SIZE_MAX];
	struct virtio_vsock_hdr pkt; /* last received packet header */
	uint8_t pkt_data[VS_BUF];
	struct virtio_vsock_hdr txhdr;
	uint8_t txdata[VS_BUF];
	struct vs_rxbuf rx[VS_RX_BUFS];
	uint32_t events[4];
	uint8_t ring[3][VQ_RING_BYTES] __attribute__((aligned(4096)));
};

static struct vs vs_state;

static const char vs_ping[] = "FLINT-VSOCK-PING 0123456789abcdef";

static void vs_post_rx(struct vs *v, unsigned i)
{
	struct vbuf b[2] = {{&v->rx[i].hdr, VS_HDR, true}, {v->rx[i].data, VS_BUF, true}};
	int head = vq_add(&v->rxq, b, 2);

	if (head >= 0)
		v->rx_of_head[head] = (int16_t)i;
}

static int vs_send(struct vs *v, const struct vs_conn *c, uint16_t op, uint32_t flags,
		   const void *data, uint32_t len)
{
	struct vbuf b[2] = {{&v->txhdr, VS_HDR, false}, {v->txdata, len, false}};
	uint32_t used;

	if (len > VS_BUF)
		return -EINVAL;
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
	if (len)
		memcpy(v->txdata, data, len);
	return vq_run(&v->txq, b, len ? 2 : 1, &used);
}

/* Next packet into v->pkt / v->pkt_data; re-posts the buffer. */
static int vs_recv_raw(struct vs *v, unsigned ms)
{
	uint32_t len;
	int head = vq_poll(&v->rxq, &len, ms);
	int16_t bi;

	if (head < 0)
		return head;
	bi = v->rx_of_head[head];
	v->pkt = v->rx[bi].hdr;
	if (len < VS_HDR || v->pkt.len > VS_BUF || v->pkt.len > len - VS_HDR) {
		con_printf("vsock: bad rx packet: used len %u, header len %u\n", len, v->pkt.len);
		v->pkt.len = 0;
	}
	memcpy(v->pkt_data, v->rx[bi].data, v->pkt.len);
	vs_post_rx(v, (unsigned)bi);
	vq_kick(&v->rxq);
	return 0;
}

/* Next packet for connection c (or a REQUEST to c->local if c->peer is 0),
 * answering credit requests on the way. */
static int vs_recv(struct vs *v, struct vs_conn *c, unsigned ms)
{
	uint64_t start = rdtsc();

	while (rdtsc() - start < ms * GUEST_TSC_MS) {
		int rc = vs_recv_raw(v, 50);

		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0)
			return rc;
		if (v->pkt.dst_port != c->local || (c->peer && v->pkt.src_port != c->peer)) {
			con_printf("vsock: ignoring op %u for port %u from port %u\n", v->pkt.op,
				   v->pkt.dst_port, v->pkt.src_port);
			continue;
		}
		if (v->pkt.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			vs_send(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			continue;
		}
		if (v->pkt.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			continue;
		return 0;
	}
	return -ETIMEDOUT;
}

static int vs_expect_echo(struct test_ctx *t, struct vs *v, struct vs_conn *c, uint32_t want)
{
	uint32_t got = 0;

	while (got < want) {
		if (vs_recv(v, c, t->g->opts.vsock_wait_ms) < 0)
			return test_fail(t, "echo: got %u of %u bytes", got, want);
		if (v->pkt.op != VIRTIO_VSOCK_OP_RW)
			return test_fail(t, "echo: op %u after %u bytes", v->pkt.op, got);
		if (v->pkt.len > want - got || memcmp(v->pkt_data, vs_ping + got, v->pkt.len))
			return test_fail(t, "echo: wrong data at byte %u", got);
		got += v->pkt.len;
		c->fwd_cnt += v->pkt.len;
	}
	con_printf("vsock: echo ok %u bytes\n", got);
	return 0;
}

static int vs_connect(struct test_ctx *t, struct vs *v)
{
	struct vs_conn c = {
	    .peer_cid = VS_HOST_CID, .local = VS_LOCAL_PORT, .peer = t->g->opts.vsock_port};
	uint32_t len = sizeof(vs_ping) - 1;

	if (vs_send(v, &c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0) < 0)
		return test_fail(t, "connect: REQUEST not sent");
	if (vs_recv(v, &c, t->g->opts.vsock_wait_ms) < 0)
		return test_fail(t, "connect to port %u: no answer", c.peer);
	if (v->pkt.op != VIRTIO_VSOCK_OP_RESPONSE)
		return test_fail(t, "connect to port %u: op %u (3 = RST: refused)", c.peer,
				 v->pkt.op);
	con_printf("vsock: connected to cid 2 port %u (local port %u)\n", c.peer, c.local);
	if (vs_send(v, &c, VIRTIO_VSOCK_OP_RW, 0, vs_ping, len) < 0)
		return test_fail(t, "send failed");
	if (vs_expect_echo(t, v, &c, len) < 0)
		return -1;
	vs_send(v, &c, VIRTIO_VSOCK_OP_SHUTDOWN,
		VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	if (vs_recv(v, &c, t->g->opts.vsock_wait_ms) == 0)
		con_printf("vsock: after shutdown: op %u\n", v->pkt.op);
	return 0;
}

/* Echo until the host shuts down or resets the connection. */
static int vs_echo_loop(struct test_ctx *t, struct vs *v, struct vs_conn *c)
{
	uint32_t echoed = 0;

	for (;;) {
		if (vs_recv(v, c, t->g->opts.vsock_wait_ms) < 0)
			return test_fail(t, "listen: timeout after echoing %u bytes", echoed);
		if (v->pkt.op == VIRTIO_VSOCK_OP_RW) {
			c->fwd_cnt += v->pkt.len;
			if (vs_send(v, c, VIRTIO_VSOCK_OP_RW, 0, v->pkt_data, v->pkt.len) < 0)
				return test_fail(t, "listen: echo send failed");
			echoed += v->pkt.len;
			continue;
		}
		if (v->pkt.op == VIRTIO_VSOCK_OP_SHUTDOWN)
			vs_send(v, c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
		if (v->pkt.op == VIRTIO_VSOCK_OP_SHUTDOWN || v->pkt.op == VIRTIO_VSOCK_OP_RST)
			break;
		con_printf("vsock: listen: unexpected op %u\n", v->pkt.op);
	}
	con_printf("vsock: echoed %u bytes\n", echoed);
	return echoed ? 0 : test_fail(t, "listen: connection closed with no data");
}

static int vs_listen(struct test_ctx *t, struct vs *v)
{
	struct vs_conn c = {.local = t->g->opts.vsock_listen};

	con_printf("vsock: listening on port %u\n", c.local);
	if (vs_recv(v, &c, t->g->opts.vsock_wait_ms) < 0)
		return test_fail(t, "listen: no connection on port %u", c.local);
	if (v->pkt.op != VIRTIO_VSOCK_OP_REQUEST)
		return test_fail(t, "listen: op %u instead of REQUEST", v->pkt.op);
	c.peer_cid = v->pkt.src_cid;
	c.peer = v->pkt.src_port;
	if (vs_send(v, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0) < 0)
		return test_fail(t, "listen: RESPONSE not sent");
	con_printf("vsock: accepted cid %llu port %u on port %u\n", (unsigned long long)c.peer_cid,
		   c.peer, c.local);
	return vs_echo_loop(t, v, &c);
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
	for (unsigned i = 0; i < 4; i++) {
		struct vbuf b = {&v->events[i], sizeof(v->events[i]), true};

		vq_add(&v->evq, &b, 1);
	}
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

	if (!t->g->opts.vsock_port && !t->g->opts.vsock_listen)
		return test_fail(t, "set vsock_port= and/or vsock_listen=");
	if (vs_open(t, v) < 0)
		return -1;
	if (t->g->opts.vsock_port)
		rc = vs_connect(t, v);
	if (rc == 0 && t->g->opts.vsock_listen)
		rc = vs_listen(t, v);
	vdev_reset(&v->d);
	return rc;
}
