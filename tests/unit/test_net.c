/* virtio-net through the transport (test mode) on real guest memory, with a
 * SOCK_SEQPACKET socketpair standing in for the tap (one message = vnet
 * header + frame). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "devices/virtio/net.h"

#define RAM   MiB(2)
#define BASE  LAYOUT_VIRTIO_START
#define QSIZE 8
#define BUF   0x10000ULL

static const uint64_t ring_gpa[2] = {0x1000, 0x4000}; /* desc; avail +0x1000; used +0x2000 */

struct fx {
	struct guest_mem m;
	struct ev_loop loop;
	struct bus bus;
	int peer; /* the "host" end of the tap */
	uint16_t avail_idx[2];
	uint16_t next_desc[2];
	struct virtio_net n;
};

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* The rate limiters' clock, driven by the tests. */
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static void w32(struct fx *x, uint64_t off, uint32_t v)
{
	assert_int_equal(bus_write(&x->bus, BASE + off, (uint8_t *)&v, 4), 0);
}

static uint32_t r32(struct fx *x, uint64_t off)
{
	uint32_t v;

	assert_int_equal(bus_read(&x->bus, BASE + off, (uint8_t *)&v, 4), 0);
	return v;
}

static void setup_queue(struct fx *x, uint32_t q)
{
	w32(x, VIRTIO_MMIO_QUEUE_SEL, q);
	w32(x, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	w32(x, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)ring_gpa[q]);
	w32(x, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)ring_gpa[q] + 0x1000);
	w32(x, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)ring_gpa[q] + 0x2000);
	w32(x, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* Bring the device up with these driver features (low word). */
static struct fx *up(const struct cfg_net *cfg, uint32_t features)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct fault fl;
	struct tap tap;
	int sv[2];

	assert_non_null(x);
	assert_int_equal(gm_create(&x->m, RAM, GM_BACKING_ANON), 0);
	assert_int_equal(ev_init(&x->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	x->peer = sv[1];
	assert_int_equal(tap_from_fd(&tap, sv[0]), 0);
	assert_int_equal(net_create_with_tap(&x->n, cfg, &tap, &fl), 0);
	fake_now = 1000000000ULL;
	x->n.now_ns = fake_clock;
	rl_init(&x->n.rx_rl, &cfg->rx_rate_limiter, fake_now);
	rl_init(&x->n.tx_rl, &cfg->tx_rate_limiter, fake_now);
	assert_int_equal(net_register(&x->n, &x->bus, -1, &x->loop, &x->m, BASE, 5, NULL), 0);
	assert_int_equal(r32(x, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	w32(x, VIRTIO_MMIO_STATUS, 1);
	w32(x, VIRTIO_MMIO_STATUS, 3);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES, features);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	w32(x, VIRTIO_MMIO_STATUS, 11);
	setup_queue(x, NET_RXQ);
	setup_queue(x, NET_TXQ);
	w32(x, VIRTIO_MMIO_STATUS, 15);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_true(x->n.mmio.active);
	return x;
}

static struct fx *up_default(uint32_t features)
{
	struct cfg_net cfg = {.iface_id = "eth0", .host_dev_name = "tap0"};

	return up(&cfg, features);
}

static void down(struct fx *x)
{
	net_destroy(&x->n);
	close(x->peer);
	ev_destroy(&x->loop);
	gm_destroy(&x->m);
	free(x);
}

/* Publish a chain of segments on queue q. */
static void add_chain(struct fx *x, uint32_t q, const struct seg *s, int n)
{
	uint16_t head = x->next_desc[q];

	for (int i = 0; i < n; i++) {
		uint16_t d = x->next_desc[q];
		uint16_t next = (uint16_t)((d + 1) % QSIZE);
		struct vring_desc desc = {
		    .addr = s[i].gpa,
		    .len = s[i].len,
		    .flags = (uint16_t)((s[i].writable ? VRING_DESC_F_WRITE : 0) |
					(i + 1 < n ? VRING_DESC_F_NEXT : 0)),
		    .next = next,
		};

		assert_int_equal(gm_write(&x->m, ring_gpa[q] + 16ULL * d, &desc, sizeof(desc)), 0);
		x->next_desc[q] = next;
	}
	assert_int_equal(
	    gm_write(&x->m, ring_gpa[q] + 0x1000 + 4 + 2ULL * (x->avail_idx[q] % QSIZE), &head, 2),
	    0);
	x->avail_idx[q]++;
	assert_int_equal(gm_write(&x->m, ring_gpa[q] + 0x1000 + 2, &x->avail_idx[q], 2), 0);
}

static void add_rx(struct fx *x, uint64_t gpa, uint32_t len)
{
	struct seg s = {gpa, len, true};

	add_chain(x, NET_RXQ, &s, 1);
}

static void kick(struct fx *x, uint32_t q)
{
	w32(x, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
}

static uint16_t used_idx(struct fx *x, uint32_t q)
{
	uint16_t v;

	assert_int_equal(gm_read(&x->m, &v, ring_gpa[q] + 0x2000 + 2, 2), 0);
	return v;
}

static uint32_t used_len(struct fx *x, uint32_t q, int i)
{
	uint32_t e[2];

	assert_int_equal(gm_read(&x->m, e, ring_gpa[q] + 0x2000 + 4 + 8ULL * (unsigned)i, 8), 0);
	return e[1];
}

static uint32_t used_id(struct fx *x, uint32_t q, int i)
{
	uint32_t e[2];

	assert_int_equal(gm_read(&x->m, e, ring_gpa[q] + 0x2000 + 4 + 8ULL * (unsigned)i, 8), 0);
	return e[0];
}

static uint8_t *gp(struct fx *x, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(&x->m, gpa, len);

	assert_non_null(p);
	return p;
}

/* A header + frame of len bytes: zero header, then bytes i*7+seed. */
static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	memset(f, 0, len < NET_HDR_LEN ? len : NET_HDR_LEN);
	for (size_t i = NET_HDR_LEN; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seed);
}

static void host_send(struct fx *x, size_t len, uint8_t seed)
{
	uint8_t *f = malloc(len);

	assert_non_null(f);
	make_frame(f, len, seed);
	assert_int_equal(send(x->peer, f, len, 0), (ssize_t)len);
	free(f);
}

static ssize_t host_recv(struct fx *x, uint8_t *buf, size_t cap)
{
	return recv(x->peer, buf, cap, MSG_DONTWAIT);
}

/* --- configuration --- */

static void test_config_space(void **state)
{
	struct cfg_net cfg = {.iface_id = "eth0",
			      .has_guest_mac = true,
			      .mtu = 1400,
			      .guest_mac = {0x06, 0, 0xac, 0x10, 0, 2}};
	struct fx *x = up(&cfg, 0);
	uint8_t mac[8];
	uint32_t lo, hi, v;

	(void)state;
	w32(x, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = r32(x, VIRTIO_MMIO_DEVICE_FEATURES);
	w32(x, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = r32(x, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & (1u << VIRTIO_NET_F_MAC));
	assert_true(lo & (1u << VIRTIO_NET_F_MTU));
	assert_true(lo & (1u << VIRTIO_NET_F_MRG_RXBUF));
	assert_true(lo & (1u << VIRTIO_NET_F_CSUM));
	assert_true(lo & (1u << VIRTIO_NET_F_HOST_TSO4));
	assert_false(lo & (1u << VIRTIO_NET_F_GUEST_UFO));
	assert_false(lo & (1u << VIRTIO_NET_F_HOST_UFO));
	assert_false(lo & (1u << VIRTIO_NET_F_CTRL_VQ));
	assert_true(hi & 1); /* VERSION_1 */
	for (int i = 0; i < 8; i++)
		assert_int_equal(
		    bus_read(&x->bus, BASE + VIRTIO_MMIO_CONFIG + (unsigned)i, &mac[i], 1), 0);
	assert_memory_equal(mac, cfg.guest_mac, 6);
	assert_int_equal(mac[6] | mac[7] << 8, VIRTIO_NET_S_LINK_UP);
	v = r32(x, VIRTIO_MMIO_CONFIG + 8);
	assert_int_equal(v & 0xffff, 0); /* max_virtqueue_pairs: no MQ */
	assert_int_equal(v >> 16, 1400); /* mtu */
	down(x);
}

static void test_no_mac_no_mtu(void **state)
{
	struct fx *x = up_default(0);
	uint32_t lo;

	(void)state;
	w32(x, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = r32(x, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_false(lo & (1u << VIRTIO_NET_F_MAC));
	assert_false(lo & (1u << VIRTIO_NET_F_MTU));
	assert_int_equal(tap_offload_flags(0), 0);
	down(x);
}

static void test_offload_flags(void **state)
{
	uint64_t csum = 1ULL << VIRTIO_NET_F_GUEST_CSUM;
	uint64_t tso = (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6);

	(void)state;
	assert_int_equal(tap_offload_flags(csum), TUN_F_CSUM);
	assert_int_equal(tap_offload_flags(csum | tso), TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	assert_int_equal(tap_offload_flags(tso), 0); /* TSO without csum: refused by tun */
	assert_int_equal(tap_offload_flags(~0ULL) & TUN_F_UFO, 0);
}

static void test_tap_open_errors(void **state)
{
	struct tap t;

	(void)state;
	assert_int_equal(tap_open(&t, ""), -ENAMETOOLONG);
	assert_int_equal(tap_open(&t, "a-name-that-is-too-long"), -ENAMETOOLONG);
	assert_int_equal(t.fd, -1);
}

/* --- tx --- */

static void test_tx_frames(void **state)
{
	struct fx *x = up_default(0);
	uint8_t buf[256];
	uint8_t *g = gp(x, BUF, 200);

	(void)state;
	make_frame(g, 72, 1);
	/* header and frame apart, as Linux and the test guest send them */
	add_chain(x, NET_TXQ, (struct seg[]){{BUF, 12, false}, {BUF + 12, 60, false}}, 2);
	/* one buffer */
	add_chain(x, NET_TXQ, (struct seg[]){{BUF, 72, false}}, 1);
	/* many small pieces */
	add_chain(x, NET_TXQ,
		  (struct seg[]){{BUF, 5, false}, {BUF + 5, 10, false}, {BUF + 15, 57, false}}, 3);
	kick(x, NET_TXQ);
	assert_int_equal(used_idx(x, NET_TXQ), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(used_len(x, NET_TXQ, i), 0);
		assert_int_equal(host_recv(x, buf, sizeof(buf)), 72);
		assert_memory_equal(buf, g, 72);
	}
	assert_int_equal(host_recv(x, buf, sizeof(buf)), -1);
	assert_int_equal(x->n.stats.tx_packets_count, 3);
	assert_int_equal(x->n.stats.tx_bytes_count, 3 * 60);
	assert_int_equal(x->n.stats.tx_malformed_frames, 0);
	assert_int_equal(r32(x, VIRTIO_MMIO_INTERRUPT_STATUS) & 1, 1);
	down(x);
}

static void test_tx_malformed(void **state)
{
	struct fx *x = up_default(0);
	uint8_t buf[64];

	(void)state;
	/* shorter than the header */
	add_chain(x, NET_TXQ, (struct seg[]){{BUF, 11, false}}, 1);
	/* a writable part */
	add_chain(x, NET_TXQ, (struct seg[]){{BUF, 60, false}, {BUF + 0x1000, 16, true}}, 2);
	/* larger than the largest frame */
	add_chain(
	    x, NET_TXQ,
	    (struct seg[]){{BUF, 60000, false}, {BUF + 60000, NET_MAX_FRAME - 60000 + 1, false}},
	    2);
	kick(x, NET_TXQ); /* descriptors are reused below */
	/* outside guest RAM */
	add_chain(x, NET_TXQ, (struct seg[]){{RAM - 8, 64, false}}, 1);
	/* nothing at all */
	add_chain(x, NET_TXQ, (struct seg[]){{BUF, 0, false}}, 1);
	/* the largest frame is fine */
	add_chain(x, NET_TXQ,
		  (struct seg[]){{BUF, 60000, false}, {BUF + 60000, NET_MAX_FRAME - 60000, false}},
		  2);
	kick(x, NET_TXQ);
	assert_int_equal(used_idx(x, NET_TXQ), 6);
	assert_int_equal(x->n.stats.tx_malformed_frames, 5);
	assert_int_equal(x->n.stats.tx_packets_count, 1);
	assert_int_equal(x->n.stats.tx_bytes_count, NET_MAX_FRAME - NET_HDR_LEN);
	{
		uint8_t *big = malloc(NET_MAX_FRAME + 16);

		assert_int_equal(recv(x->peer, big, NET_MAX_FRAME + 16, MSG_DONTWAIT),
				 NET_MAX_FRAME);
		free(big);
	}
	assert_int_equal(host_recv(x, buf, sizeof(buf)), -1);
	down(x);
}

static void test_tx_tap_failure_drops(void **state)
{
	struct fx *x = up_default(0);

	(void)state;
	shutdown(x->peer, SHUT_RD); /* the back-end refuses everything */
	add_chain(x, NET_TXQ, (struct seg[]){{BUF, 72, false}}, 1);
	kick(x, NET_TXQ);
	assert_int_equal(used_idx(x, NET_TXQ), 1);
	assert_int_equal(x->n.stats.tx_fails, 1);
	assert_int_equal(x->n.stats.tap_write_fails, 1);
	assert_int_equal(x->n.stats.tx_packets_count, 0);
	down(x);
}

static void test_tx_rate_limited(void **state)
{
	struct cfg_net cfg = {.iface_id = "eth0"};
	struct fx *x;
	uint8_t buf[128];

	(void)state;
	cfg.tx_rate_limiter.ops =
	    (struct cfg_token_bucket){.set = true, .size = 2, .refill_time_ms = 20};
	x = up(&cfg, 0);
	for (int i = 0; i < 5; i++)
		add_chain(x, NET_TXQ, (struct seg[]){{BUF, 72, false}}, 1);
	kick(x, NET_TXQ);
	assert_int_equal(used_idx(x, NET_TXQ), 2);
	assert_true(x->n.tx_throttled);
	assert_int_equal(x->n.stats.tx_rate_limiter_throttled, 1);
	/* 10 ms later one token is back; the timer (real time) retries. */
	fake_now += 10 * 1000000ULL;
	assert_int_equal(ev_run_once(&x->loop, 1000), 0);
	assert_int_equal(used_idx(x, NET_TXQ), 3);
	/* a notification while throttled does not bypass the limiter */
	kick(x, NET_TXQ);
	assert_int_equal(used_idx(x, NET_TXQ), 3);
	fake_now += 20 * 1000000ULL;
	assert_int_equal(ev_run_once(&x->loop, 1000), 0);
	assert_int_equal(used_idx(x, NET_TXQ), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(host_recv(x, buf, sizeof(buf)), 72);
	down(x);
}

/* --- rx --- */

static void test_rx_single(void **state)
{
	struct fx *x = up_default(0);
	uint8_t f[200];
	uint16_t nb;

	(void)state;
	add_rx(x, BUF, 2048);
	add_rx(x, BUF + 0x1000, 2048);
	kick(x, NET_RXQ);
	host_send(x, 100, 3);
	host_send(x, 150, 4);
	assert_int_equal(ev_run_once(&x->loop, 0), 0); /* the tap is readable */
	assert_int_equal(used_idx(x, NET_RXQ), 2);
	assert_int_equal(used_len(x, NET_RXQ, 0), 100);
	assert_int_equal(used_len(x, NET_RXQ, 1), 150);
	make_frame(f, 100, 3);
	assert_memory_equal(gp(x, BUF + 12, 88), f + 12, 88);
	memcpy(&nb, gp(x, BUF + 10, 2), 2);
	assert_int_equal(nb, 1);
	make_frame(f, 150, 4);
	assert_memory_equal(gp(x, BUF + 0x1000 + 12, 138), f + 12, 138);
	assert_int_equal(x->n.stats.rx_packets_count, 2);
	assert_int_equal(x->n.stats.rx_bytes_count, 88 + 138);
	assert_int_equal(r32(x, VIRTIO_MMIO_INTERRUPT_STATUS) & 1, 1);
	down(x);
}

static void test_rx_scattered_chain(void **state)
{
	struct fx *x = up_default(0);
	uint8_t f[100];

	(void)state;
	add_chain(x, NET_RXQ,
		  (struct seg[]){{BUF, 7, true}, {BUF + 0x100, 30, true}, {BUF + 0x200, 200, true}},
		  3);
	kick(x, NET_RXQ);
	host_send(x, 100, 9);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_len(x, NET_RXQ, 0), 100);
	make_frame(f, 100, 9);
	f[10] = 1; /* num_buffers */
	assert_memory_equal(gp(x, BUF + 0x100, 30), f + 7, 30);
	assert_memory_equal(gp(x, BUF + 0x200, 63), f + 37, 63);
	down(x);
}

static void test_rx_too_big_for_buffer(void **state)
{
	struct fx *x = up_default(0);
	uint8_t *g = gp(x, BUF, 4096);

	(void)state;
	memset(g, 0xee, 4096);
	add_rx(x, BUF, 2048);
	kick(x, NET_RXQ);
	host_send(x, 3000, 1); /* cannot fit without MRG_RXBUF: dropped */
	host_send(x, 64, 2);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(x->n.stats.rx_fails, 1);
	assert_int_equal(used_idx(x, NET_RXQ), 1);
	assert_int_equal(used_len(x, NET_RXQ, 0), 64);
	assert_int_equal(g[2048], 0xee); /* never past the buffer */
	down(x);
}

static void test_rx_no_buffers_stops_polling(void **state)
{
	struct fx *x = up_default(0);

	(void)state;
	host_send(x, 80, 1);
	host_send(x, 90, 2);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 0);
	assert_true(x->n.rx_wait_buffers);
	assert_false(x->n.tap_polled);
	assert_int_equal(x->n.stats.no_rx_avail_buffer, 1);
	/* no busy loop: nothing is ready while the guest has no buffers */
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(x->n.stats.rx_tap_event_count, 1);
	add_rx(x, BUF, 2048);
	kick(x, NET_RXQ); /* delivers the kept frame, stops again */
	assert_int_equal(used_idx(x, NET_RXQ), 1);
	assert_int_equal(used_len(x, NET_RXQ, 0), 80);
	add_rx(x, BUF + 0x1000, 2048);
	kick(x, NET_RXQ);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 2);
	assert_int_equal(used_len(x, NET_RXQ, 1), 90);
	assert_true(x->n.tap_polled);
	down(x);
}

static void test_rx_bad_frames_from_tap(void **state)
{
	struct fx *x = up_default(0);

	(void)state;
	add_rx(x, BUF, 0x20000);
	kick(x, NET_RXQ);
	host_send(x, 5, 1);		    /* shorter than the header */
	host_send(x, NET_MAX_FRAME + 1, 2); /* larger than any frame */
	host_send(x, 70, 3);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(x->n.stats.rx_fails, 2);
	assert_int_equal(used_idx(x, NET_RXQ), 1);
	assert_int_equal(used_len(x, NET_RXQ, 0), 70);
	down(x);
}

static void test_rx_mergeable(void **state)
{
	struct fx *x = up_default(1u << VIRTIO_NET_F_MRG_RXBUF);
	uint8_t *f = malloc(5000);
	uint16_t nb;

	(void)state;
	for (int i = 0; i < 4; i++)
		add_rx(x, BUF + 0x1000ULL * (unsigned)i, 2048);
	kick(x, NET_RXQ);
	host_send(x, 5000, 5);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 3);
	assert_int_equal(used_len(x, NET_RXQ, 0), 2048);
	assert_int_equal(used_len(x, NET_RXQ, 1), 2048);
	assert_int_equal(used_len(x, NET_RXQ, 2), 5000 - 4096);
	make_frame(f, 5000, 5);
	memcpy(&nb, gp(x, BUF + 10, 2), 2);
	assert_int_equal(nb, 3);
	assert_memory_equal(gp(x, BUF + 12, 2036), f + 12, 2036);
	assert_memory_equal(gp(x, BUF + 0x1000, 2048), f + 2048, 2048);
	assert_memory_equal(gp(x, BUF + 0x2000, 904), f + 4096, 904);
	/* a small frame takes one buffer */
	host_send(x, 60, 6);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 4);
	assert_int_equal(used_id(x, NET_RXQ, 3), 3);
	memcpy(&nb, gp(x, BUF + 0x3000 + 10, 2), 2);
	assert_int_equal(nb, 1);
	assert_int_equal(x->n.stats.rx_packets_count, 2);
	free(f);
	down(x);
}

static void test_rx_mergeable_waits_for_buffers(void **state)
{
	struct fx *x = up_default(1u << VIRTIO_NET_F_MRG_RXBUF);

	(void)state;
	add_rx(x, BUF, 2048);
	add_rx(x, BUF + 0x1000, 2048);
	kick(x, NET_RXQ);
	host_send(x, 5000, 5);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 0); /* buffers given back, frame kept */
	assert_true(x->n.rx_wait_buffers);
	add_rx(x, BUF + 0x2000, 2048);
	kick(x, NET_RXQ);
	assert_int_equal(used_idx(x, NET_RXQ), 3);
	assert_int_equal(used_id(x, NET_RXQ, 0), 0);
	assert_int_equal(x->n.stats.rx_fails, 0);
	down(x);
}

static void test_rx_mergeable_larger_than_ring(void **state)
{
	struct fx *x = up_default(1u << VIRTIO_NET_F_MRG_RXBUF);

	(void)state;
	for (int i = 0; i < QSIZE; i++)
		add_rx(x, BUF + 0x1000ULL * (unsigned)i, 1024);
	kick(x, NET_RXQ);
	host_send(x, 9000, 1); /* 8 KiB of buffers in the whole ring */
	host_send(x, 100, 2);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(x->n.stats.rx_fails, 1);
	assert_int_equal(used_idx(x, NET_RXQ), 1);
	assert_int_equal(used_id(x, NET_RXQ, 0), 0);
	assert_int_equal(used_len(x, NET_RXQ, 0), 100);
	down(x);
}

static void test_rx_mergeable_hostile_chains(void **state)
{
	struct fx *x = up_default(1u << VIRTIO_NET_F_MRG_RXBUF);

	(void)state;
	add_rx(x, BUF, 8);	 /* first buffer cannot hold the header */
	add_rx(x, RAM - 16, 64); /* outside RAM: malformed */
	add_chain(x, NET_RXQ, (struct seg[]){{BUF, 64, false}}, 1); /* nothing writable */
	add_rx(x, BUF + 0x1000, 2048);
	add_rx(x, RAM - 16, 64); /* malformed in the middle of a frame */
	kick(x, NET_RXQ);
	host_send(x, 3000, 1);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	/* all five completed empty but the good one, which got 0 too (frame lost) */
	assert_int_equal(used_idx(x, NET_RXQ), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(used_len(x, NET_RXQ, i), 0);
	assert_int_equal(x->n.stats.rx_packets_count, 0);
	assert_true(x->n.stats.rx_fails >= 4);
	down(x);
}

static void test_rx_rate_limited(void **state)
{
	struct cfg_net cfg = {.iface_id = "eth0"};
	struct fx *x;

	(void)state;
	cfg.rx_rate_limiter.bandwidth =
	    (struct cfg_token_bucket){.set = true, .size = 200, .refill_time_ms = 20};
	x = up(&cfg, 0);
	for (int i = 0; i < 4; i++)
		add_rx(x, BUF + 0x1000ULL * (unsigned)i, 2048);
	kick(x, NET_RXQ);
	for (int i = 0; i < 3; i++)
		host_send(x, 100, (uint8_t)i);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 2);
	assert_true(x->n.rx_throttled);
	assert_false(x->n.tap_polled);
	assert_int_equal(x->n.stats.rx_rate_limiter_throttled, 1);
	fake_now += 10 * 1000000ULL; /* 100 bytes refilled */
	assert_int_equal(ev_run_once(&x->loop, 1000), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 3);
	assert_true(x->n.tap_polled);
	down(x);
}

static void test_rx_broken_ring_keeps_tx(void **state)
{
	struct fx *x = up_default(0);
	uint16_t bogus = 100; /* avail.idx far ahead of a ring of 8 */
	uint8_t buf[128];

	(void)state;
	assert_int_equal(gm_write(&x->m, ring_gpa[NET_RXQ] + 0x1000 + 2, &bogus, 2), 0);
	host_send(x, 64, 1);
	kick(x, NET_RXQ);
	assert_false(x->n.tap_polled);
	assert_true(x->n.mmio.queues[NET_RXQ].broken);
	add_chain(x, NET_TXQ, (struct seg[]){{BUF, 72, false}}, 1);
	kick(x, NET_TXQ);
	assert_int_equal(host_recv(x, buf, sizeof(buf)), 72);
	down(x);
}

static void test_reset_stops_rx(void **state)
{
	struct fx *x = up_default(0);

	(void)state;
	add_rx(x, BUF, 2048);
	kick(x, NET_RXQ);
	assert_true(x->n.tap_polled);
	w32(x, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_false(x->n.mmio.active);
	assert_false(x->n.tap_polled);
	host_send(x, 64, 1);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(used_idx(x, NET_RXQ), 0);
	down(x);
}

static void test_back_end_gone(void **state)
{
	struct fx *x = up_default(0);

	(void)state;
	add_rx(x, BUF, 2048);
	kick(x, NET_RXQ);
	close(x->peer);
	x->peer = -1;
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_false(x->n.tap_polled); /* EOF: no spinning on a dead back-end */
	assert_int_equal(x->n.stats.tap_read_fails, 1);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(x->n.stats.rx_tap_event_count, 1);
	down(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_space),
	    cmocka_unit_test(test_no_mac_no_mtu),
	    cmocka_unit_test(test_offload_flags),
	    cmocka_unit_test(test_tap_open_errors),
	    cmocka_unit_test(test_tx_frames),
	    cmocka_unit_test(test_tx_malformed),
	    cmocka_unit_test(test_tx_tap_failure_drops),
	    cmocka_unit_test(test_tx_rate_limited),
	    cmocka_unit_test(test_rx_single),
	    cmocka_unit_test(test_rx_scattered_chain),
	    cmocka_unit_test(test_rx_too_big_for_buffer),
	    cmocka_unit_test(test_rx_no_buffers_stops_polling),
	    cmocka_unit_test(test_rx_bad_frames_from_tap),
	    cmocka_unit_test(test_rx_mergeable),
	    cmocka_unit_test(test_rx_mergeable_waits_for_buffers),
	    cmocka_unit_test(test_rx_mergeable_larger_than_ring),
	    cmocka_unit_test(test_rx_mergeable_hostile_chains),
	    cmocka_unit_test(test_rx_rate_limited),
	    cmocka_unit_test(test_rx_broken_ring_keeps_tx),
	    cmocka_unit_test(test_reset_stops_rx),
	    cmocka_unit_test(test_back_end_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
