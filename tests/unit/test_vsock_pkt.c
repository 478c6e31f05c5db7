/* vsock header checks and credit arithmetic (pure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "devices/virtio/vsock_pkt.h"

#define CID 3

static struct vsock_pkt good(uint16_t op, uint32_t len)
{
	struct vsock_pkt p = {
	    .src_cid = CID,
	    .dst_cid = VSOCK_HOST_CID,
	    .src_port = 1025,
	    .dst_port = 52,
	    .len = len,
	    .type = VIRTIO_VSOCK_TYPE_STREAM,
	    .op = op,
	    .buf_alloc = 65536,
	};
	return p;
}

static void test_roundtrip(void **state)
{
	struct vsock_pkt p = good(VIRTIO_VSOCK_OP_RW, 7), q;
	struct virtio_vsock_hdr raw;
	uint8_t bytes[VSOCK_HDR_SIZE];

	(void)state;
	p.src_cid = 0x1122334455667788ULL;
	p.flags = 0xdeadbeef;
	p.fwd_cnt = 0xfffffff0u;
	vsp_encode(&p, &raw);
	memcpy(bytes, &raw, sizeof(bytes));
	assert_int_equal(bytes[0], 0x88); /* little-endian on the wire */
	assert_int_equal(bytes[7], 0x11);
	assert_int_equal(bytes[24], 7);			 /* len at offset 24 */
	assert_int_equal(bytes[30], VIRTIO_VSOCK_OP_RW); /* op at 30 */
	vsp_decode(&raw, &q);
	assert_memory_equal(&p, &q, sizeof(p));
}

static void test_check_ok(void **state)
{
	struct vsock_pkt p = good(VIRTIO_VSOCK_OP_RW, 100);

	(void)state;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE + 100, CID), VSP_ACCEPT);
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE + 4096, CID), VSP_ACCEPT);
	p = good(VIRTIO_VSOCK_OP_REQUEST, 0);
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_ACCEPT);
	for (int op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++) {
		p = good((uint16_t)op, 0);
		assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_ACCEPT);
	}
}

static void test_check_short_and_len(void **state)
{
	struct vsock_pkt p = good(VIRTIO_VSOCK_OP_RW, 0);

	(void)state;
	assert_int_equal(vsp_check_tx(&p, 0, CID), VSP_DROP);
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE - 1, CID), VSP_DROP);
	/* len larger than the chain holds */
	p.len = 101;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE + 100, CID), VSP_DROP);
	/* over-long len that would wrap a naive hdr + len sum */
	p.len = 0xffffffffu;
	assert_int_equal(vsp_check_tx(&p, 0xffffffffu, CID), VSP_DROP);
	p.len = 0xffffffffu - VSOCK_HDR_SIZE + 1;
	assert_int_equal(vsp_check_tx(&p, 0xffffffffu, CID), VSP_DROP);
	/* larger than the biggest payload, even if the chain is bigger */
	p.len = VSOCK_MAX_PAYLOAD + 1;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE + 2 * VSOCK_MAX_PAYLOAD, CID), VSP_DROP);
	p.len = VSOCK_MAX_PAYLOAD;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE + VSOCK_MAX_PAYLOAD, CID), VSP_ACCEPT);
}

static void test_check_addressing(void **state)
{
	struct vsock_pkt p = good(VIRTIO_VSOCK_OP_REQUEST, 0);

	(void)state;
	p.src_cid = 4; /* spoofing another guest */
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_DROP);
	p.src_cid = CID;
	p.dst_cid = 1;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_DROP);
	p.dst_cid = CID; /* to itself */
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_DROP);
	p.dst_cid = 0xffffffffffffffffULL;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_DROP);
}

static void test_check_type_op(void **state)
{
	struct vsock_pkt p = good(VIRTIO_VSOCK_OP_REQUEST, 0);

	(void)state;
	p.type = VIRTIO_VSOCK_TYPE_SEQPACKET; /* not offered */
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_RST);
	p.type = 0xffff;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_RST);
	p = good(VIRTIO_VSOCK_OP_INVALID, 0);
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_RST);
	p = good(8, 0);
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_RST);
	p = good(0xffff, 0);
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_RST);
	/* an RST of the wrong type is dropped, never answered */
	p = good(VIRTIO_VSOCK_OP_RST, 0);
	p.type = 2;
	assert_int_equal(vsp_check_tx(&p, VSOCK_HDR_SIZE, CID), VSP_DROP);
}

static void test_reply(void **state)
{
	struct vsock_pkt p;

	(void)state;
	memset(&p, 0xaa, sizeof(p));
	vsp_reply(&p, CID, 1u << 30, 52, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, VSOCK_HOST_CID);
	assert_int_equal(p.dst_cid, CID);
	assert_int_equal(p.src_port, 1u << 30);
	assert_int_equal(p.dst_port, 52);
	assert_int_equal(p.type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.len, 0);
	assert_int_equal(p.flags, 0);
}

static void test_peer_credit(void **state)
{
	struct vsock_credit c;

	(void)state;
	vsc_init(&c, VSOCK_CONN_BUF);
	assert_int_equal(vsc_peer_credit(&c), 0); /* nothing advertised yet */
	vsc_update_peer(&c, 65536, 0);
	assert_int_equal(vsc_peer_credit(&c), 65536);
	vsc_on_send(&c, 60000);
	assert_int_equal(vsc_peer_credit(&c), 5536);
	vsc_on_send(&c, 5536);
	assert_int_equal(vsc_peer_credit(&c), 0); /* zero credit */
	vsc_update_peer(&c, 65536, 10000);
	assert_int_equal(vsc_peer_credit(&c), 10000);
	/* the guest shrinks its buffer below what is in flight */
	vsc_update_peer(&c, 1000, 10000);
	assert_int_equal(vsc_peer_credit(&c), 0);
	/* a guest claiming to have consumed more than we sent gets nothing */
	vsc_update_peer(&c, 65536, 70000);
	assert_int_equal(vsc_peer_credit(&c), 0);
	vsc_update_peer(&c, 0, 65536);
	assert_int_equal(vsc_peer_credit(&c), 0);
}

static void test_peer_credit_wrap(void **state)
{
	struct vsock_credit c;

	(void)state;
	vsc_init(&c, VSOCK_CONN_BUF);
	c.tx_cnt = 0xfffff000u;
	vsc_update_peer(&c, 65536, 0xfffff000u);
	assert_int_equal(vsc_peer_credit(&c), 65536);
	vsc_on_send(&c, 0x2000); /* tx_cnt wraps to 0x1000 */
	assert_int_equal(c.tx_cnt, 0x1000);
	assert_int_equal(vsc_peer_credit(&c), 65536 - 0x2000);
	vsc_update_peer(&c, 65536, 0x800); /* fwd_cnt wrapped too */
	assert_int_equal(vsc_peer_credit(&c), 65536 - 0x800);
	vsc_update_peer(&c, 65536, 0x1000);
	assert_int_equal(vsc_peer_credit(&c), 65536);
	vsc_update_peer(&c, 0xffffffffu, 0x1000);
	assert_int_equal(vsc_peer_credit(&c), 0xffffffffu);
}

static void test_rx_fits(void **state)
{
	struct vsock_credit c;

	(void)state;
	vsc_init(&c, 1000);
	assert_true(vsc_rx_fits(&c, 1000));
	assert_false(vsc_rx_fits(&c, 1001));
	assert_false(vsc_rx_fits(&c, 0xffffffffu));
	vsc_on_recv(&c, 600);
	assert_int_equal(vsc_buffered(&c), 600);
	assert_true(vsc_rx_fits(&c, 400));
	assert_false(vsc_rx_fits(&c, 401));
	vsc_on_forward(&c, 600);
	assert_int_equal(vsc_buffered(&c), 0);
	assert_true(vsc_rx_fits(&c, 1000));
	/* across the 2^32 wrap */
	c.recv_cnt = c.fwd_cnt = 0xffffff00u;
	vsc_on_recv(&c, 0x200);
	assert_int_equal(vsc_buffered(&c), 0x200);
	assert_true(vsc_rx_fits(&c, 1000 - 0x200));
	assert_false(vsc_rx_fits(&c, 1000 - 0x200 + 1));
	vsc_on_forward(&c, 0x200);
	assert_int_equal(c.fwd_cnt, 0x100);
	assert_int_equal(vsc_buffered(&c), 0);
	/* a corrupted state (more buffered than allocated) takes nothing */
	c.recv_cnt = c.fwd_cnt + 2000;
	assert_false(vsc_rx_fits(&c, 0));
}

static void test_stamp_and_update_due(void **state)
{
	struct vsock_credit c;
	struct vsock_pkt p = {0};

	(void)state;
	vsc_init(&c, VSOCK_CONN_BUF);
	assert_false(vsc_update_due(&c));
	vsc_on_recv(&c, VSOCK_CONN_BUF / 4 - 1);
	vsc_on_forward(&c, VSOCK_CONN_BUF / 4 - 1);
	assert_false(vsc_update_due(&c));
	vsc_on_recv(&c, 1);
	vsc_on_forward(&c, 1);
	assert_true(vsc_update_due(&c));
	vsc_stamp(&c, &p);
	assert_int_equal(p.buf_alloc, VSOCK_CONN_BUF);
	assert_int_equal(p.fwd_cnt, VSOCK_CONN_BUF / 4);
	assert_false(vsc_update_due(&c));
	/* wraparound of fwd_cnt */
	c.fwd_cnt = c.last_fwd_sent = 0xfffffff0u;
	vsc_on_forward(&c, VSOCK_CONN_BUF / 4);
	assert_true(vsc_update_due(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_check_ok),
	    cmocka_unit_test(test_check_short_and_len),
	    cmocka_unit_test(test_check_addressing),
	    cmocka_unit_test(test_check_type_op),
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_peer_credit),
	    cmocka_unit_test(test_peer_credit_wrap),
	    cmocka_unit_test(test_rx_fits),
	    cmocka_unit_test(test_stamp_and_update_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
