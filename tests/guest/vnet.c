/* The net test: a virtio-net driver that sends net_tx broadcast frames
 * with a recognisable payload and prints every frame that arrives within
 * net_wait_ms (or until net_rx frames have arrived).
 *
 * net_echo=1 (for snapshot tests, with a long net_wait_ms) also answers
 * every received frame of the test's ethertype with a frame back to its
 * sender: dst = its src, src = the guest's MAC, payload "ECHO " and the
 * received payload; it prints "net: echoed len=<bytes>".
 *
 * net_quiet=1 (for the benchmark) prints no line per frame, only "net: tx
 * <n> frames" and "net: rx <n> frames": a console line costs this guest
 * dozens of port exits, more than the frame itself. */
#include <linux/errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"
#include "vnet.h"

#define NET_RX_BUFS   16
#define NET_BUF_BYTES 2048 /* header + a 1514-byte frame fits */

struct net {
	uint8_t ring[2][VQ_RING_BYTES] __attribute__((aligned(4096)));
	uint8_t rx[NET_RX_BUFS][NET_BUF_BYTES];
	uint8_t tx[NET_BUF_BYTES];
	struct vdev d;
	struct vq rxq, txq;
	int16_t rx_buf_of_head[VQ_SIZE_MAX];
	uint8_t mac[6];
};

static struct net net_state;

static int net_post_rx(struct net *n, unsigned i)
{
	struct vbuf v = {n->rx[i], NET_BUF_BYTES, true};
	int head = vq_add(&n->rxq, &v, 1);

	if (head >= 0)
		n->rx_buf_of_head[head] = (int16_t)i;
	return head;
}

size_t vnet_frame(uint8_t *f, size_t room, const uint8_t mac[6], unsigned idx, unsigned total)
{
	size_t len = 14;

	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = NET_ETHERTYPE >> 8;
	f[13] = NET_ETHERTYPE & 0xff;
	len += con_snprintf((char *)f + 14, room - 14, "FLINT-GUEST-FRAME %u/%u", idx, total);
	if (len < NET_MIN_FRAME) {
		memset(f + len, 0, NET_MIN_FRAME - len);
		len = NET_MIN_FRAME;
	}
	return len;
}

static size_t net_build_frame(struct net *n, unsigned idx, unsigned total)
{
	memset(n->tx, 0, NET_HDR);
	return vnet_frame(n->tx + NET_HDR, NET_BUF_BYTES - NET_HDR, n->mac, idx, total);
}

static bool net_quiet(const struct test_ctx *t)
{
	return lib_cmdline_u64(t->g->cmdline, "net_quiet", 0) == 1;
}

static int net_send(struct test_ctx *t, struct net *n)
{
	unsigned total = t->g->opts.net_tx;
	bool quiet = net_quiet(t);

	for (unsigned i = 0; i < total; i++) {
		size_t len = net_build_frame(n, i, total);
		struct vbuf v[2] = {{n->tx, NET_HDR, false},
				    {n->tx + NET_HDR, (uint32_t)len, false}};
		uint32_t used;
		int rc = vq_run(&n->txq, v, 2, &used);

		if (rc < 0)
			return test_fail(t, "tx frame %u: %d", i, rc);
		if (!quiet)
			con_printf("net: tx frame %u len=%zu\n", i, len);
	}
	if (quiet)
		con_printf("net: tx %u frames\n", total);
	return 0;
}

static void net_print_rx(const uint8_t *f, uint32_t flen)
{
	uint32_t len = flen;
	char payload[49];
	unsigned k = 0;

	while (len > 14 && f[len - 1] == 0)
		len--; /* drop the padding */
	for (uint32_t i = 14; i < len && k < sizeof(payload) - 1; i++, k++)
		payload[k] = f[i] >= 0x20 && f[i] < 0x7f ? (char)f[i] : '.';
	payload[k] = '\0';
	con_printf("net: rx frame len=%u dst=%02x:%02x:%02x:%02x:%02x:%02x "
		   "src=%02x:%02x:%02x:%02x:%02x:%02x type=0x%04x payload=%s\n",
		   flen, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11],
		   (unsigned)(f[12] << 8 | f[13]), payload);
}

/* Answer frame f (flen bytes) back to its sender. */
static void net_echo(struct net *n, const uint8_t *f, uint32_t flen)
{
	static const char tag[] = "ECHO ";
	uint8_t *o = n->tx + NET_HDR;
	uint32_t len = 14 + (uint32_t)sizeof(tag) - 1, copy = flen - 14;
	struct vbuf v[2] = {{n->tx, NET_HDR, false}, {o, 0, false}};
	uint32_t used;

	if (flen < 14 || (f[12] << 8 | f[13]) != NET_ETHERTYPE)
		return;
	if (copy > NET_BUF_BYTES - NET_HDR - len)
		copy = NET_BUF_BYTES - NET_HDR - len;
	memset(n->tx, 0, NET_HDR);
	memcpy(o, f + 6, 6);
	memcpy(o + 6, n->mac, 6);
	o[12] = NET_ETHERTYPE >> 8;
	o[13] = NET_ETHERTYPE & 0xff;
	memcpy(o + 14, tag, sizeof(tag) - 1);
	memcpy(o + len, f + 14, copy);
	len += copy;
	v[1].len = len;
	if (vq_run(&n->txq, v, 2, &used) >= 0)
		con_printf("net: echoed len=%u\n", len);
	else
		con_printf("net: echo failed\n");
}

/* Receive until the wait ends or net_rx frames arrived; returns count. */
static int net_receive(struct test_ctx *t, struct net *n)
{
	const struct guest_opts *o = &t->g->opts;
	uint64_t start = rdtsc();
	unsigned got = 0;
	bool echo = lib_cmdline_u64(t->g->cmdline, "net_echo", 0) == 1;
	bool quiet = net_quiet(t);

	while (rdtsc() - start < o->net_wait_ms * GUEST_TSC_MS && (!o->net_rx || got < o->net_rx)) {
		uint32_t len;
		int head = vq_poll(&n->rxq, &len, 10);
		int16_t bi;

		if (head == -ETIMEDOUT)
			continue;
		if (head < 0)
			return test_fail(t, "rx poll: %d", head);
		bi = n->rx_buf_of_head[head];
		if (len < NET_HDR + 14 || len > NET_BUF_BYTES)
			con_printf("net: rx bad length %u\n", len);
		else if (!quiet)
			net_print_rx(n->rx[bi] + NET_HDR, len - (uint32_t)NET_HDR);
		if (echo && len >= NET_HDR + 14 && len <= NET_BUF_BYTES)
			net_echo(n, n->rx[bi] + NET_HDR, len - (uint32_t)NET_HDR);
		got++;
		net_post_rx(n, (unsigned)bi);
		vq_kick(&n->rxq);
	}
	con_printf("net: rx %u frames\n", got);
	if (got < o->net_rx)
		return test_fail(t, "received %u frames, expected %u", got, o->net_rx);
	return 0;
}

int vnet_attach(struct test_ctx *t, struct vdev *d, struct vq *rxq, struct vq *txq, void *rings,
		uint64_t want, uint8_t mac[6])
{
	uint8_t *ring = rings;

	if (vdev_find(t->g, VIRTIO_ID_NET, 0, d) < 0)
		return test_fail(t, "no virtio-net device");
	if (vdev_init(d, want | (1ULL << VIRTIO_NET_F_MAC)) < 0)
		return test_fail(t, "device initialisation failed");
	if (vq_setup(d, rxq, NET_RXQ, ring) < 0 ||
	    vq_setup(d, txq, NET_TXQ, ring + VQ_RING_BYTES) < 0)
		return test_fail(t, "queue setup failed");
	for (unsigned i = 0; i < 6; i++)
		mac[i] = d->features & (1ULL << VIRTIO_NET_F_MAC) ? vdev_cfg8(d, i)
								  : (uint8_t)(i ? i : 0x02);
	return 0;
}

void vnet_print_mac(const uint8_t mac[6])
{
	con_printf("net: mac=%02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3],
		   mac[4], mac[5]);
}

static int net_open(struct test_ctx *t, struct net *n)
{
	if (vnet_attach(t, &n->d, &n->rxq, &n->txq, n->ring, 0, n->mac) < 0)
		return -1;
	for (unsigned i = 0; i < NET_RX_BUFS; i++)
		net_post_rx(n, i);
	vdev_driver_ok(&n->d);
	vq_kick(&n->rxq);
	vnet_print_mac(n->mac);
	return 0;
}

int test_net(struct test_ctx *t)
{
	struct net *n = &net_state;
	int rc;

	if (lib_cmdline_u64(t->g->cmdline, "net_bench", 0) == 1)
		return net_bench_run(t);
	if (net_open(t, n) < 0)
		return -1;
	rc = net_send(t, n) < 0 || net_receive(t, n) < 0 ? -1 : 0;
	vdev_reset(&n->d);
	return rc;
}
