/* One vsock stream connection of the hybrid (Firecracker) model: a guest
 * AF_VSOCK socket on one side, a host Unix stream socket on the other. This
 * layer is the connection state machine and the byte pump; it knows nothing
 * of epoll or of the virtqueues (the muxer, devices/vsock_mux.h, owns both),
 * so tests drive it with socketpairs and plain buffers.
 *
 * Data paths:
 *  - guest -> host (tx): an RW payload is written to the host socket at
 *    once; what the socket does not take is kept in a per-connection buffer
 *    of at most VSOCK_CONN_BUF bytes (the buf_alloc we advertise) and
 *    flushed on EPOLLOUT. fwd_cnt counts what the socket accepted. A guest
 *    that sends past our advertised credit has the connection reset.
 *  - host -> guest (rx): read straight from the socket into the guest's rx
 *    buffer, never more than the guest's credit (buf_alloc - in flight).
 *    With no credit we ask for it once (CREDIT_REQUEST) and stop reading.
 *
 * VMM thread only. */
#ifndef FLINT_DEVICES_VSOCK_CONN_H
#define FLINT_DEVICES_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/vsock_pkt.h"

#define VCONN_CMD_MAX		  32   /* "CONNECT 4294967295\n" fits with room */
#define VCONN_CMD_TIMEOUT_MS	  5000 /* host program must send CONNECT by then */
#define VCONN_REQUEST_TIMEOUT_MS  2000 /* guest must answer a REQUEST (Firecracker's) */
#define VCONN_SHUTDOWN_TIMEOUT_MS 2000 /* guest must RST after our SHUTDOWN */

/* Counters, named as Firecracker's vsock metrics; the extras are flint's. */
struct vsock_stats {
	uint64_t activate_fails, cfg_fails;
	uint64_t rx_queue_event_fails, tx_queue_event_fails, ev_queue_event_fails;
	uint64_t muxer_event_fails, conn_event_fails;
	uint64_t rx_queue_event_count, tx_queue_event_count;
	uint64_t rx_bytes_count, tx_bytes_count, rx_packets_count, tx_packets_count;
	uint64_t conns_added, conns_killed, conns_removed, killq_resync;
	uint64_t tx_flush_fails, tx_write_fails, rx_read_fails;
	uint64_t tx_invalid_pkts; /* flint: guest packets dropped or answered RST */
	uint64_t rx_invalid_bufs; /* flint: rx buffers too small for a header */
};

enum vconn_state {
	VCONN_FREE = 0,
	VCONN_HOST_CMD,	   /* accepted on uds_path, waiting for "CONNECT <port>\n" */
	VCONN_CONNECTING,  /* REQUEST queued for the guest, waiting for RESPONSE */
	VCONN_ESTABLISHED, /* relaying */
	VCONN_CLOSING,	   /* we sent SHUTDOWN (host closed), waiting for the guest's RST */
};

/* What the caller must do with the connection after an event. */
enum vconn_act {
	VCONN_KEEP,
	VCONN_RESET, /* send the guest an RST and free the connection */
	VCONN_CLOSE, /* free it quietly (the guest sent RST, or never knew of it) */
};

/* Packets owed to the guest, served in this order by vconn_to_guest. */
#define VCONN_RX_REQUEST	(1u << 0)
#define VCONN_RX_RESPONSE	(1u << 1)
#define VCONN_RX_RW		(1u << 2) /* the host socket may have data */
#define VCONN_RX_SHUTDOWN	(1u << 3)
#define VCONN_RX_CREDIT_REQUEST (1u << 4)
#define VCONN_RX_CREDIT_UPDATE	(1u << 5)

/* Bytes from the guest the host socket has not taken yet (a ring). */
struct vconn_txbuf {
	uint8_t *data; /* VSOCK_CONN_BUF bytes, allocated on first need */
	uint32_t head, len;
};

struct vsock_conn {
	enum vconn_state state;
	int fd; /* the host Unix stream socket, non-blocking; owned */
	uint32_t host_port, peer_port;
	uint32_t rx_pending;	 /* VCONN_RX_* */
	uint32_t peer_shut;	 /* SHUTDOWN flags the guest sent, ORed (never undone) */
	bool host_eof;		 /* the host socket returned EOF */
	bool wr_shut;		 /* shutdown(SHUT_WR) done on the host socket */
	bool credit_req_sent;	 /* asked the guest for credit; cleared when it has some */
	char cmd[VCONN_CMD_MAX]; /* HOST_CMD: the line read so far */
	uint32_t cmd_len;
	uint32_t timeout_ms; /* non-zero: the muxer should (re)start the expiry timer */
	uint64_t expiry_ns;  /* muxer: when to give up (0: never) */
	struct vsock_credit cr;
	struct vconn_txbuf txb;
	/* Muxer bookkeeping. */
	uint32_t events; /* epoll interest registered; 0: not registered */
	bool in_rxq;
	int16_t hnext;
	uint16_t index;
	void *mux;
};

/* Take over fd in state st (HOST_CMD, CONNECTING or ESTABLISHED). */
void vconn_init(struct vsock_conn *c, int fd, enum vconn_state st, uint32_t host_port,
		uint32_t peer_port);
/* Close the socket and free the buffer; c becomes VCONN_FREE. */
void vconn_release(struct vsock_conn *c);

/* HOST_CMD: read "CONNECT <port>\n" (case-insensitive verb, decimal port)
 * without consuming a byte past the newline. 1 with *port, 0 if incomplete,
 * -EINVAL for a malformed line, -ECONNRESET on EOF, another -errno. */
int vconn_read_cmd(struct vsock_conn *c, uint32_t *port);

/* A validated packet from the guest for this connection; payload (p->len
 * bytes) is in iov[0..niov). */
enum vconn_act vconn_from_guest(struct vsock_conn *c, const struct vsock_pkt *p,
				const struct iovec *iov, int niov, struct vsock_stats *st);

/* Fill the next packet owed to the guest: header in p (addressed with
 * guest_cid), payload read into iov (room bytes at most, room <=
 * VSOCK_MAX_PAYLOAD). 0 with a packet, -ENODATA if nothing was owed after
 * all. *act says what to do with c afterwards (on VCONN_RESET, p is not
 * filled: send an RST instead). */
int vconn_to_guest(struct vsock_conn *c, uint64_t guest_cid, struct vsock_pkt *p,
		   const struct iovec *iov, int niov, uint32_t room, enum vconn_act *act,
		   struct vsock_stats *st);

/* The host socket is ready (EPOLLIN/OUT/HUP/ERR). */
enum vconn_act vconn_host_event(struct vsock_conn *c, uint32_t events, struct vsock_stats *st);

/* The epoll events the connection wants now (0: none; unregister). */
uint32_t vconn_wanted(const struct vsock_conn *c);

#endif
