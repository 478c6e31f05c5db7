/* virtio-vsock header validation and credit arithmetic (pure). */
#include "devices/virtio/vsock_pkt.h"

#include <endian.h>
#include <string.h>

_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_SIZE, "vsock header size");

void vsp_decode(const struct virtio_vsock_hdr *raw, struct vsock_pkt *p)
{
	p->src_cid = le64toh(raw->src_cid);
	p->dst_cid = le64toh(raw->dst_cid);
	p->src_port = le32toh(raw->src_port);
	p->dst_port = le32toh(raw->dst_port);
	p->len = le32toh(raw->len);
	p->type = le16toh(raw->type);
	p->op = le16toh(raw->op);
	p->flags = le32toh(raw->flags);
	p->buf_alloc = le32toh(raw->buf_alloc);
	p->fwd_cnt = le32toh(raw->fwd_cnt);
}

void vsp_encode(const struct vsock_pkt *p, struct virtio_vsock_hdr *raw)
{
	raw->src_cid = htole64(p->src_cid);
	raw->dst_cid = htole64(p->dst_cid);
	raw->src_port = htole32(p->src_port);
	raw->dst_port = htole32(p->dst_port);
	raw->len = htole32(p->len);
	raw->type = htole16(p->type);
	raw->op = htole16(p->op);
	raw->flags = htole32(p->flags);
	raw->buf_alloc = htole32(p->buf_alloc);
	raw->fwd_cnt = htole32(p->fwd_cnt);
}

static bool vsp_op_known(uint16_t op)
{
	return op >= VIRTIO_VSOCK_OP_REQUEST && op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST;
}

enum vsp_verdict vsp_check_tx(const struct vsock_pkt *p, uint32_t readable, uint64_t guest_cid)
{
	if (readable < VSOCK_HDR_SIZE)
		return VSP_DROP;
	/* len is where a guest value becomes a size: bound it by the chain. */
	if (p->len > VSOCK_MAX_PAYLOAD || p->len > readable - VSOCK_HDR_SIZE)
		return VSP_DROP;
	if (p->src_cid != guest_cid || p->dst_cid != VSOCK_HOST_CID)
		return VSP_DROP;
	if (p->op == VIRTIO_VSOCK_OP_RST && p->type != VIRTIO_VSOCK_TYPE_STREAM)
		return VSP_DROP;
	if (p->type != VIRTIO_VSOCK_TYPE_STREAM || !vsp_op_known(p->op))
		return VSP_RST;
	return VSP_ACCEPT;
}

void vsp_reply(struct vsock_pkt *p, uint64_t guest_cid, uint32_t host_port, uint32_t peer_port,
	       uint16_t op)
{
	memset(p, 0, sizeof(*p));
	p->src_cid = VSOCK_HOST_CID;
	p->dst_cid = guest_cid;
	p->src_port = host_port;
	p->dst_port = peer_port;
	p->type = VIRTIO_VSOCK_TYPE_STREAM;
	p->op = op;
}

void vsc_init(struct vsock_credit *c, uint32_t buf_alloc)
{
	memset(c, 0, sizeof(*c));
	c->buf_alloc = buf_alloc;
}

void vsc_update_peer(struct vsock_credit *c, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	c->peer_buf_alloc = buf_alloc;
	c->peer_fwd_cnt = fwd_cnt;
}

uint32_t vsc_peer_credit(const struct vsock_credit *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt; /* mod 2^32 */

	if (in_flight >= c->peer_buf_alloc)
		return 0;
	return c->peer_buf_alloc - in_flight;
}

uint32_t vsc_buffered(const struct vsock_credit *c)
{
	return c->recv_cnt - c->fwd_cnt;
}

bool vsc_rx_fits(const struct vsock_credit *c, uint32_t len)
{
	uint32_t used = vsc_buffered(c);

	return used <= c->buf_alloc && len <= c->buf_alloc - used;
}

void vsc_on_recv(struct vsock_credit *c, uint32_t len)
{
	c->recv_cnt += len;
}

void vsc_on_forward(struct vsock_credit *c, uint32_t n)
{
	c->fwd_cnt += n;
}

void vsc_on_send(struct vsock_credit *c, uint32_t len)
{
	c->tx_cnt += len;
}

void vsc_stamp(struct vsock_credit *c, struct vsock_pkt *p)
{
	p->buf_alloc = c->buf_alloc;
	p->fwd_cnt = c->fwd_cnt;
	c->last_fwd_sent = c->fwd_cnt;
}

bool vsc_update_due(const struct vsock_credit *c)
{
	return c->fwd_cnt - c->last_fwd_sent >= c->buf_alloc / 4;
}
