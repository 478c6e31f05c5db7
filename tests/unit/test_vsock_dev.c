/* virtio-vsock through the transport (test mode) on a fake guest memory:
 * real rings, a real listener on uds_path, the event loop run by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "devices/virtio/vsock.h"

#define RAM	 MiB(2)
#define BASE	 LAYOUT_VIRTIO_START
#define QN	 8
#define RING(q)	 (0x1000ULL + 0x1000ULL * (q)*3) /* desc; avail +0x1000; used +0x2000 */
#define RXBUF(i) (0x20000ULL + 0x2000ULL * (i))
#define TXBUF	 0x40000ULL
#define CID	 3

struct fx {
	struct guest_mem m;
	struct ev_loop loop;
	struct bus bus;
	struct virtio_vsock v;
	uint16_t avail[3], used_seen[3], next_desc[3];
	char dir[64], path[96];
};

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
	w32(x, VIRTIO_MMIO_QUEUE_NUM, QN);
	w32(x, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RING(q));
	w32(x, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(RING(q) + 0x1000));
	w32(x, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(RING(q) + 0x2000));
	w32(x, VIRTIO_MMIO_QUEUE_READY, 1);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct cfg_vsock cfg = {.set = true, .guest_cid = CID};
	struct fault fl;

	assert_non_null(x);
	snprintf(x->dir, sizeof(x->dir), "/tmp/flint-vsockdev-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->path, sizeof(x->path), "%s/v.sock", x->dir);
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s", x->path);
	assert_int_equal(gm_create(&x->m, RAM, GM_BACKING_ANON), 0);
	assert_int_equal(ev_init(&x->loop), 0);
	assert_int_equal(vsock_create(&x->v, &cfg, &fl), 0);
	assert_int_equal(vsock_register(&x->v, &x->bus, -1, &x->loop, &x->m, BASE, 5, NULL), 0);
	assert_int_equal(r32(x, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	assert_int_equal(r32(x, 0x100), CID); /* config: le64 guest_cid */
	assert_int_equal(r32(x, 0x104), 0);
	w32(x, VIRTIO_MMIO_STATUS, 1);
	w32(x, VIRTIO_MMIO_STATUS, 3);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(x, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	w32(x, VIRTIO_MMIO_STATUS, 11);
	for (uint32_t q = 0; q < 3; q++)
		setup_queue(x, q);
	w32(x, VIRTIO_MMIO_STATUS, 15);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_true(x->v.mmio.active);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	vsock_destroy(&x->v);
	ev_destroy(&x->loop);
	gm_destroy(&x->m);
	assert_int_not_equal(access(x->path, F_OK), 0); /* socket file removed */
	rmdir(x->dir);
	free(x);
	return 0;
}

/* Publish a chain of n descriptors on queue q. */
static void submit(struct fx *x, uint32_t q, const uint64_t *gpa, const uint32_t *len,
		   const uint16_t *flags, int n)
{
	uint16_t head = x->next_desc[q];

	for (int i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % QN);
		struct vring_desc desc = {.addr = gpa[i], .len = len[i], .flags = flags[i]};

		if (i + 1 < n) {
			desc.flags |= VRING_DESC_F_NEXT;
			desc.next = (uint16_t)((d + 1) % QN);
		}
		assert_int_equal(gm_write(&x->m, RING(q) + 16ULL * d, &desc, sizeof(desc)), 0);
	}
	x->next_desc[q] = (uint16_t)((head + n) % QN);
	assert_int_equal(
	    gm_write(&x->m, RING(q) + 0x1000 + 4 + 2ULL * (x->avail[q] % QN), &head, 2), 0);
	x->avail[q]++;
	assert_int_equal(gm_write(&x->m, RING(q) + 0x1000 + 2, &x->avail[q], 2), 0);
}

static void post_rx(struct fx *x, int i, uint32_t len)
{
	uint64_t gpa = RXBUF(i);
	uint16_t fl = VRING_DESC_F_WRITE;

	submit(x, 0, &gpa, &len, &fl, 1);
	w32(x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static void send_pkt(struct fx *x, uint16_t op, uint32_t gport, uint32_t hport, const void *data,
		     uint32_t len)
{
	struct vsock_pkt p = {.src_cid = CID,
			      .dst_cid = 2,
			      .src_port = gport,
			      .dst_port = hport,
			      .len = len,
			      .type = 1,
			      .op = op,
			      .buf_alloc = 65536};
	struct virtio_vsock_hdr raw;
	uint64_t gpa[2] = {TXBUF, TXBUF + 0x100};
	uint32_t lens[2] = {VSOCK_HDR_SIZE, len};
	uint16_t fl[2] = {0, 0};

	vsp_encode(&p, &raw);
	assert_int_equal(gm_write(&x->m, TXBUF, &raw, sizeof(raw)), 0);
	if (len)
		assert_int_equal(gm_write(&x->m, TXBUF + 0x100, data, len), 0);
	submit(x, 1, gpa, lens, fl, len ? 2 : 1);
	w32(x, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
}

/* Run the loop until queue q has a new used entry (or give up). Returns
 * its length, -1 if none came. */
static int64_t wait_used(struct fx *x, uint32_t q, uint32_t *id)
{
	for (int i = 0; i < 50; i++) {
		uint16_t idx;
		uint32_t e[2];

		assert_int_equal(gm_read(&x->m, &idx, RING(q) + 0x2000 + 2, 2), 0);
		if (idx != x->used_seen[q]) {
			assert_int_equal(
			    gm_read(&x->m, e, RING(q) + 0x2000 + 4 + 8ULL * (x->used_seen[q] % QN),
				    8),
			    0);
			x->used_seen[q]++;
			if (id)
				*id = e[0];
			return e[1];
		}
		assert_int_equal(ev_run_once(&x->loop, 20), 0);
	}
	return -1;
}

static void rx_pkt(struct fx *x, int buf, struct vsock_pkt *p)
{
	struct virtio_vsock_hdr raw;

	assert_int_equal(gm_read(&x->m, &raw, RXBUF(buf), sizeof(raw)), 0);
	vsp_decode(&raw, p);
}

static int host_dial(struct fx *x)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", x->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_host_initiated(void **state)
{
	struct fx *x = *state;
	struct vsock_pkt p;
	char buf[64];
	int fd = host_dial(x);
	uint32_t hport;

	assert_int_equal(write(fd, "CONNECT 52\n", 11), 11);
	/* no rx buffer yet: the REQUEST waits */
	assert_int_equal(ev_run_once(&x->loop, 50), 0);
	assert_int_equal(wait_used(x, 0, NULL), -1);
	post_rx(x, 0, 4096);
	assert_int_equal(wait_used(x, 0, NULL), VSOCK_HDR_SIZE);
	rx_pkt(x, 0, &p);
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, 2);
	assert_int_equal(p.dst_cid, CID);
	assert_int_equal(p.dst_port, 52);
	hport = p.src_port;
	assert_int_equal(hport, VMUX_FIRST_HOST_PORT);
	send_pkt(x, VIRTIO_VSOCK_OP_RESPONSE, 52, hport, NULL, 0);
	assert_int_equal(wait_used(x, 1, NULL), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "OK 1073741824\n", 14);
	/* host -> guest, straight into the rx buffer after the header */
	assert_int_equal(write(fd, "0123456789", 10), 10);
	post_rx(x, 1, 4096);
	assert_int_equal(wait_used(x, 0, NULL), VSOCK_HDR_SIZE + 10);
	rx_pkt(x, 1, &p);
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 10);
	assert_int_equal(gm_read(&x->m, buf, RXBUF(1) + VSOCK_HDR_SIZE, 10), 0);
	assert_memory_equal(buf, "0123456789", 10);
	/* guest -> host */
	send_pkt(x, VIRTIO_VSOCK_OP_RW, 52, hport, "abc", 3);
	assert_int_equal(wait_used(x, 1, NULL), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_int_equal(x->v.stats.tx_bytes_count, 3);
	assert_int_equal(x->v.stats.rx_bytes_count, 10);
	/* the guest resets the device: the program sees the end */
	w32(x, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(ev_run_once(&x->loop, 0), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

static void test_guest_refused(void **state)
{
	struct fx *x = *state;
	struct vsock_pkt p;

	post_rx(x, 0, 4096);
	send_pkt(x, VIRTIO_VSOCK_OP_REQUEST, 1025, 5000, NULL, 0);
	assert_int_equal(wait_used(x, 1, NULL), 0);
	assert_int_equal(wait_used(x, 0, NULL), VSOCK_HDR_SIZE);
	rx_pkt(x, 0, &p);
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_port, 5000);
	assert_int_equal(p.dst_port, 1025);
}

static void test_hostile_chains(void **state)
{
	struct fx *x = *state;
	struct vsock_pkt p = {.src_cid = CID,
			      .dst_cid = 2,
			      .dst_port = 5000,
			      .type = 1,
			      .op = VIRTIO_VSOCK_OP_REQUEST,
			      .len = 0x1000};
	struct virtio_vsock_hdr raw;
	uint64_t gpa[2] = {TXBUF, TXBUF + 0x100};
	uint32_t len[2] = {VSOCK_HDR_SIZE, 16};
	uint16_t fl[2] = {0, 0};
	uint16_t wr = VRING_DESC_F_WRITE;
	uint64_t g = RXBUF(0);
	uint32_t small = VSOCK_HDR_SIZE - 1;

	/* len says 4 KiB, the chain holds 16 bytes of payload */
	vsp_encode(&p, &raw);
	assert_int_equal(gm_write(&x->m, TXBUF, &raw, sizeof(raw)), 0);
	submit(x, 1, gpa, len, fl, 2);
	/* a chain shorter than a header */
	len[0] = 20;
	submit(x, 1, gpa, len, fl, 1);
	/* len at the u32 limit */
	p.len = 0xffffffffu;
	vsp_encode(&p, &raw);
	assert_int_equal(gm_write(&x->m, TXBUF, &raw, sizeof(raw)), 0);
	len[0] = VSOCK_HDR_SIZE;
	submit(x, 1, gpa, len, fl, 2);
	/* a tx "packet" that is device-writable only */
	submit(x, 1, gpa, len, &wr, 1);
	w32(x, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(wait_used(x, 1, NULL), 0);
	assert_int_equal(x->v.stats.tx_invalid_pkts, 4);
	/* an rx buffer too small for a header is consumed, not filled */
	submit(x, 0, &g, &small, &wr, 1);
	post_rx(x, 1, 4096);
	send_pkt(x, VIRTIO_VSOCK_OP_RW, 1, 1, "x", 1); /* no such connection: RST */
	assert_int_equal(wait_used(x, 1, NULL), 0);
	assert_int_equal(wait_used(x, 0, NULL), 0);
	assert_int_equal(wait_used(x, 0, NULL), VSOCK_HDR_SIZE);
	assert_int_equal(x->v.stats.rx_invalid_bufs, 1);
	rx_pkt(x, 1, &p);
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_RST);
}

static void test_transport_reset_event(void **state)
{
	struct fx *x = *state;
	uint64_t gpa = RXBUF(3);
	uint32_t len = 8, ev = 0xffffffffu;
	uint16_t wr = VRING_DESC_F_WRITE;

	/* no event buffer: counted, nothing else happens */
	assert_int_equal(vsock_transport_reset(&x->v), -ENOSPC);
	assert_int_equal(x->v.stats.ev_queue_event_fails, 1);
	assert_int_equal(gm_write(&x->m, gpa, &ev, 4), 0);
	submit(x, 2, &gpa, &len, &wr, 1);
	assert_int_equal(vsock_transport_reset(&x->v), 0);
	assert_int_equal(wait_used(x, 2, NULL), 4);
	assert_int_equal(gm_read(&x->m, &ev, gpa, 4), 0);
	assert_int_equal(ev, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_host_initiated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transport_reset_event, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
