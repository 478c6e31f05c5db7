/* virtio-vsock packets and credit accounting (virtio 1.2 §5.10.6), pure:
 * no fds, no guest memory. The device copies a guest header out once
 * (vsp_decode), checks the copy (vsp_check_tx), and builds replies with
 * vsp_encode. The credit helpers are wraparound-safe u32 arithmetic on the
 * counters both peers exchange in every header.
 *
 * Naming: "host" is flint's side of a connection (CID 2, the Unix socket),
 * "peer" the guest's. tx = guest -> host, rx = host -> guest, as the virtio
 * queues are named. */
#ifndef FLINT_DEVICES_VIRTIO_VSOCK_PKT_H
#define FLINT_DEVICES_VIRTIO_VSOCK_PKT_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_vsock.h>

#define VSOCK_HOST_CID	  2
#define VSOCK_HDR_SIZE	  44u	  /* sizeof(struct virtio_vsock_hdr) */
#define VSOCK_MAX_PAYLOAD 65536u  /* largest RW payload either way */
#define VSOCK_CONN_BUF	  262144u /* buf_alloc we advertise per connection (256 KiB) */

/* A header in host byte order. */
struct vsock_pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/* What to do with a packet the guest sent. */
enum vsp_verdict {
	VSP_ACCEPT, /* hand it to the connection layer */
	VSP_DROP,   /* malformed beyond answering: count and drop */
	VSP_RST,    /* well-addressed but unacceptable: count and answer RST */
};

void vsp_decode(const struct virtio_vsock_hdr *raw, struct vsock_pkt *p);
void vsp_encode(const struct vsock_pkt *p, struct virtio_vsock_hdr *raw);

/* Check a guest tx packet whose chain has readable bytes in total (header
 * included) against the guest's CID. Dropped: header short, len larger than
 * the chain or VSOCK_MAX_PAYLOAD, src_cid not the guest's, dst_cid not the
 * host's (as Firecracker). Answered with RST: type not STREAM, op unknown;
 * except that an RST is never answered (it is dropped instead). */
enum vsp_verdict vsp_check_tx(const struct vsock_pkt *p, uint32_t readable, uint64_t guest_cid);

/* Fill a reply header from the host side of a connection to the guest. */
void vsp_reply(struct vsock_pkt *p, uint64_t guest_cid, uint32_t host_port, uint32_t peer_port,
	       uint16_t op);

/* Per-connection credit state (virtio 1.2 §5.10.6.3). All counters wrap
 * at 2^32; only differences are meaningful. */
struct vsock_credit {
	uint32_t buf_alloc;	 /* ours, advertised in every header */
	uint32_t fwd_cnt;	 /* guest bytes written to the host socket */
	uint32_t recv_cnt;	 /* guest payload bytes accepted (written or buffered) */
	uint32_t last_fwd_sent;	 /* fwd_cnt in the last header we sent */
	uint32_t peer_buf_alloc; /* the guest's, from its last header */
	uint32_t peer_fwd_cnt;	 /* the guest's, from its last header */
	uint32_t tx_cnt;	 /* payload bytes sent to the guest */
};

void vsc_init(struct vsock_credit *c, uint32_t buf_alloc);
/* Take the guest's buf_alloc/fwd_cnt from a header it sent. */
void vsc_update_peer(struct vsock_credit *c, uint32_t buf_alloc, uint32_t fwd_cnt);
/* Bytes we may send the guest now: peer_buf_alloc - (tx_cnt - peer_fwd_cnt),
 * 0 if the guest claims to have consumed more than we sent or in-flight
 * exceeds its buffer (a hostile or confused peer gets no credit). */
uint32_t vsc_peer_credit(const struct vsock_credit *c);
/* Bytes the guest sent that are not yet forwarded (sit in our buffer). */
uint32_t vsc_buffered(const struct vsock_credit *c);
/* Whether a len-byte RW from the guest fits the buffer we advertised. */
bool vsc_rx_fits(const struct vsock_credit *c, uint32_t len);
/* Account a guest RW of len bytes (after vsc_rx_fits), and n forwarded. */
void vsc_on_recv(struct vsock_credit *c, uint32_t len);
void vsc_on_forward(struct vsock_credit *c, uint32_t n);
/* Account len payload bytes sent to the guest. */
void vsc_on_send(struct vsock_credit *c, uint32_t len);
/* Stamp our credit into an outgoing header (and remember what we told). */
void vsc_stamp(struct vsock_credit *c, struct vsock_pkt *p);
/* Whether the guest's view of our free space is stale enough to warrant a
 * CREDIT_UPDATE: we forwarded at least a quarter of our buffer since our
 * last header. */
bool vsc_update_due(const struct vsock_credit *c);

#endif
