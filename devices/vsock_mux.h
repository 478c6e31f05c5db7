/* The vsock back-end: Firecracker's hybrid model, a muxer between the
 * guest's vsock streams and host Unix sockets.
 *
 *  - host-initiated: the muxer listens on uds_path (a stale socket file is
 *    unlinked first). A host program connects and writes "CONNECT <port>\n";
 *    the muxer picks a free host port (from 2^30 up, as Firecracker), sends
 *    the guest a REQUEST from CID 2 to <port>, and when the guest answers
 *    RESPONSE writes "OK <host port>\n" to the program and relays bytes both
 *    ways. If the guest answers RST (or nothing within 2 s) the program's
 *    socket is closed.
 *  - guest-initiated: a REQUEST to CID 2 port P is forwarded to a new
 *    connection to the Unix socket "<uds_path>_<P>"; if nobody listens
 *    there, the guest gets an RST.
 *
 * Connections live in a fixed table (VMUX_MAX_CONNS) hashed by (host port,
 * guest port). The front-end (devices/virtio/vsock.c) hands over each tx
 * packet with vmux_from_guest() and, while it has rx buffers and
 * vmux_has_rx() says so, asks for packets with vmux_to_guest(). Host sockets
 * are polled only for what can make progress (EPOLLIN while the guest has
 * credit and nothing unread is pending, EPOLLOUT while data is buffered).
 *
 * VMM thread only. */
#ifndef FLINT_DEVICES_VSOCK_MUX_H
#define FLINT_DEVICES_VSOCK_MUX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/vsock_pkt.h"
#include "devices/vsock_conn.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"

/* The event loop holds EV_MAX_HANDLERS fds for the whole VMM. */
#define VMUX_MAX_CONNS	     128
#define VMUX_HASH	     256
#define VMUX_RSTQ	     128
#define VMUX_FIRST_HOST_PORT (1u << 30)
#define VMUX_PATH_MAX	     108 /* sun_path */

struct vmux_rst {
	uint32_t host_port, peer_port;
};

struct vsock_mux {
	struct ev_loop *loop; /* NULL: tests drive the muxer by hand */
	struct logger *log;
	struct vsock_stats *stats;
	uint64_t guest_cid;
	char path[VMUX_PATH_MAX];
	int listen_fd;
	int timer_fd;
	bool timer_armed;
	uint32_t next_port;
	/* Called (from loop callbacks only) when packets for the guest are
	 * waiting: the front-end then fills rx buffers. */
	void (*rx_ready)(void *opaque);
	void *opaque;
	struct vsock_conn conns[VMUX_MAX_CONNS];
	int16_t hash[VMUX_HASH];
	uint16_t rxq[VMUX_MAX_CONNS]; /* connections owing the guest packets */
	uint32_t rxq_head, rxq_len;
	struct vmux_rst rstq[VMUX_RSTQ]; /* RSTs owed for no (more) connection */
	uint32_t rst_head, rst_len;
};

/* Set up without sockets (tests); vmux_open adds the listener. */
void vmux_init(struct vsock_mux *m, uint64_t guest_cid, const char *uds_path,
	       struct vsock_stats *st, struct logger *log);
/* Listen on uds_path and register with loop. Start-up. 0 or -errno. */
int vmux_open(struct vsock_mux *m, struct ev_loop *loop, void (*rx_ready)(void *), void *opaque);
/* Close every connection and the listener (the socket file is removed). */
void vmux_close(struct vsock_mux *m);
/* Device reset: drop every connection (host sockets closed), keep listening. */
void vmux_reset(struct vsock_mux *m);

/* A packet the guest sent (p already decoded; payload p->len bytes in
 * iov). Checks it (vsp_check_tx with readable bytes of the chain) and acts;
 * never fails: bad packets are counted and dropped or answered. */
void vmux_from_guest(struct vsock_mux *m, const struct vsock_pkt *p, uint32_t readable,
		     const struct iovec *iov, int niov);
/* Whether a packet for the guest is waiting. */
bool vmux_has_rx(const struct vsock_mux *m);
/* Fill the next packet for the guest: header in p, payload (p->len bytes,
 * at most room) read into iov. 0, or -ENODATA if nothing was waiting. */
int vmux_to_guest(struct vsock_mux *m, struct vsock_pkt *p, const struct iovec *iov, int niov,
		  uint32_t room);

/* Host side entry points (loop callbacks; exported for tests). */
void vmux_accept(struct vsock_mux *m);
void vmux_conn_event(struct vsock_mux *m, struct vsock_conn *c, uint32_t events);
/* Give up on connections whose deadline passed (now in CLOCK_MONOTONIC ns). */
void vmux_expire(struct vsock_mux *m, uint64_t now_ns);
/* Adopt an already connected host socket as a host-initiated connection
 * (what vmux_accept does after accept4); tests use socketpairs. 0 or -errno. */
int vmux_adopt(struct vsock_mux *m, int fd);
/* Number of live connections. */
int vmux_count(const struct vsock_mux *m);
/* Look a connection up by (host port, guest port); NULL if none. */
struct vsock_conn *vmux_find(struct vsock_mux *m, uint32_t host_port, uint32_t peer_port);

#endif
