/* vsock connection state machine and byte pump (see vsock_conn.h). */
#include "devices/vsock_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define VCONN_SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

void vconn_init(struct vsock_conn *c, int fd, enum vconn_state st, uint32_t host_port,
		uint32_t peer_port)
{
	uint16_t index = c->index;
	void *mux = c->mux;

	memset(c, 0, sizeof(*c));
	c->index = index;
	c->mux = mux;
	c->hnext = -1;
	c->fd = fd;
	c->state = st;
	c->host_port = host_port;
	c->peer_port = peer_port;
	vsc_init(&c->cr, VSOCK_CONN_BUF);
}

void vconn_release(struct vsock_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->txb.data);
	c->txb.data = NULL;
	c->txb.len = 0;
	c->state = VCONN_FREE;
	c->rx_pending = 0;
}

/* --- "CONNECT <port>\n" --- */

static int vconn_parse_cmd(const char *s, size_t n, uint32_t *port)
{
	static const char verb[] = "connect ";
	uint64_t v = 0;
	size_t i = sizeof(verb) - 1;

	if (n > 0 && s[n - 1] == '\r')
		n--; /* tolerate CRLF */
	if (n <= i || strncasecmp(s, verb, i) != 0)
		return -EINVAL;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*port = (uint32_t)v;
	return 1;
}

int vconn_read_cmd(struct vsock_conn *c, uint32_t *port)
{
	char buf[VCONN_CMD_MAX];
	size_t room = sizeof(c->cmd) - c->cmd_len;
	ssize_t n = recv(c->fd, buf, room, MSG_PEEK | MSG_DONTWAIT);
	const char *nl;
	size_t take;

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	/* Consume up to the newline only: what follows is the stream's data.
	 * A partial line is consumed too, so that EOF after it shows. */
	nl = memchr(buf, '\n', (size_t)n);
	take = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
	if (recv(c->fd, c->cmd + c->cmd_len, take, MSG_DONTWAIT) != (ssize_t)take)
		return -EIO;
	c->cmd_len += (uint32_t)take;
	if (!nl)
		return c->cmd_len == sizeof(c->cmd) ? -EINVAL : 0;
	return vconn_parse_cmd(c->cmd, c->cmd_len - 1, port);
}

/* --- guest -> host --- */

/* Write up to len bytes of iov (from byte 0) to the socket. Bytes written,
 * or -errno (EAGAIN counts as 0). */
static ssize_t vconn_sendv(int fd, const struct iovec *iov, int niov)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)niov};
	ssize_t n;

	do {
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return n;
}

/* Append iov bytes [skip, skip + len) to the ring (the credit check made
 * sure they fit). */
static int vconn_txb_push(struct vconn_txbuf *b, const struct iovec *iov, int niov, size_t skip,
			  size_t len)
{
	if (!b->data && !(b->data = malloc(VSOCK_CONN_BUF)))
		return -ENOMEM;
	for (int i = 0; i < niov && len > 0; i++) {
		const uint8_t *src = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		src += skip;
		n -= skip;
		skip = 0;
		for (n = n < len ? n : len; n > 0;) {
			uint32_t tail = (b->head + b->len) % VSOCK_CONN_BUF;
			size_t chunk = VSOCK_CONN_BUF - tail < n ? VSOCK_CONN_BUF - tail : n;

			memcpy(b->data + tail, src, chunk);
			b->len += (uint32_t)chunk;
			src += chunk;
			n -= chunk;
			len -= chunk;
		}
	}
	return 0;
}

/* Flush the ring to the socket. 0 (maybe partly), or -errno. */
static int vconn_txb_flush(struct vsock_conn *c, struct vsock_stats *st)
{
	struct vconn_txbuf *b = &c->txb;

	while (b->len > 0) {
		uint32_t first =
		    VSOCK_CONN_BUF - b->head < b->len ? VSOCK_CONN_BUF - b->head : b->len;
		struct iovec iov[2] = {{b->data + b->head, first},
				       {b->data, (size_t)(b->len - first)}};
		ssize_t n = vconn_sendv(c->fd, iov, b->len > first ? 2 : 1);

		if (n < 0) {
			st->tx_flush_fails++;
			return (int)n;
		}
		if (n == 0)
			break;
		b->head = (uint32_t)((b->head + (size_t)n) % VSOCK_CONN_BUF);
		b->len -= (uint32_t)n;
		vsc_on_forward(&c->cr, (uint32_t)n);
		st->tx_bytes_count += (uint64_t)n;
	}
	if (b->len == 0)
		b->head = 0;
	return 0;
}

/* After data left the buffer: credit updates, deferred shutdowns. */
static enum vconn_act vconn_after_flush(struct vsock_conn *c)
{
	if (vsc_update_due(&c->cr))
		c->rx_pending |= VCONN_RX_CREDIT_UPDATE;
	if (c->txb.len > 0)
		return VCONN_KEEP;
	if ((c->peer_shut & VCONN_SHUT_BOTH) == VCONN_SHUT_BOTH)
		return VCONN_RESET; /* everything delivered: end it, as the spec asks */
	if ((c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	return VCONN_KEEP;
}

static enum vconn_act vconn_rw(struct vsock_conn *c, const struct vsock_pkt *p,
			       const struct iovec *iov, int niov, struct vsock_stats *st)
{
	ssize_t n = 0;

	if (c->state != VCONN_ESTABLISHED || (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND))
		return VCONN_RESET;
	if (!vsc_rx_fits(&c->cr, p->len))
		return VCONN_RESET; /* the guest ignored our credit */
	if (p->len == 0)
		return VCONN_KEEP;
	if (c->txb.len == 0) {
		n = vconn_sendv(c->fd, iov, niov);
		if (n < 0) {
			st->tx_write_fails++;
			return VCONN_RESET;
		}
	}
	vsc_on_recv(&c->cr, p->len);
	vsc_on_forward(&c->cr, (uint32_t)n);
	st->tx_bytes_count += (uint64_t)n;
	if ((uint32_t)n < p->len &&
	    vconn_txb_push(&c->txb, iov, niov, (size_t)n, p->len - (size_t)n) != 0)
		return VCONN_RESET;
	return vconn_after_flush(c);
}

static enum vconn_act vconn_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (c->state != VCONN_ESTABLISHED && c->state != VCONN_CLOSING)
		return VCONN_RESET;
	c->peer_shut |= flags & VCONN_SHUT_BOTH;
	if (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)
		c->rx_pending &= ~VCONN_RX_RW; /* the guest takes no more data */
	if ((c->peer_shut & VCONN_SHUT_BOTH) == VCONN_SHUT_BOTH && c->txb.len > 0)
		c->timeout_ms = VCONN_SHUTDOWN_TIMEOUT_MS; /* flush, but not forever */
	return vconn_after_flush(c);
}

/* RESPONSE to our REQUEST: tell the host program which port it got. */
static enum vconn_act vconn_response(struct vsock_conn *c)
{
	char line[24];
	int len;

	if (c->state != VCONN_CONNECTING)
		return VCONN_RESET;
	len = snprintf(line, sizeof(line), "OK %u\n", c->host_port);
	/* A fresh socket's buffer takes a few bytes: a short write means the
	 * host program is gone. */
	if (send(c->fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) != len)
		return VCONN_RESET;
	c->state = VCONN_ESTABLISHED;
	c->expiry_ns = 0;
	return VCONN_KEEP;
}

enum vconn_act vconn_from_guest(struct vsock_conn *c, const struct vsock_pkt *p,
				const struct iovec *iov, int niov, struct vsock_stats *st)
{
	enum vconn_act act = VCONN_KEEP;

	st->tx_packets_count++;
	vsc_update_peer(&c->cr, p->buf_alloc, p->fwd_cnt);
	if (vsc_peer_credit(&c->cr) > 0)
		c->credit_req_sent = false;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RST:
		return VCONN_CLOSE;
	case VIRTIO_VSOCK_OP_RESPONSE:
		return vconn_response(c);
	case VIRTIO_VSOCK_OP_REQUEST:
		return VCONN_RESET; /* on a live connection: nonsense */
	case VIRTIO_VSOCK_OP_RW:
		return vconn_rw(c, p, iov, niov, st);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		return vconn_shutdown(c, p->flags);
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->rx_pending |= VCONN_RX_CREDIT_UPDATE;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	default:
		act = VCONN_RESET;
	}
	if (c->state == VCONN_CONNECTING)
		act = VCONN_RESET; /* only RESPONSE or RST may answer a REQUEST */
	return act;
}

/* --- host -> guest --- */

/* Copy of iov limited to len bytes. Returns the count of entries. */
static int vconn_trim(const struct iovec *iov, int niov, size_t len, struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < niov && len > 0; i++, n++) {
		out[n] = iov[i];
		if (out[n].iov_len > len)
			out[n].iov_len = len;
		len -= out[n].iov_len;
	}
	return n;
}

/* Read data for an RW packet. >0: bytes read; 0: EOF; -EAGAIN; -errno. */
static ssize_t vconn_read(struct vsock_conn *c, const struct iovec *iov, int niov, uint32_t max)
{
	struct iovec t[16];
	int n = vconn_trim(iov, niov < 16 ? niov : 16, max, t);
	ssize_t got;

	do {
		got = readv(c->fd, t, n);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return got;
}

/* The host closed its socket: neither side sends more (Firecracker's
 * choice), the guest is asked to shut down and must RST in time. */
static int vconn_fill_eof(struct vsock_conn *c, struct vsock_pkt *p)
{
	c->rx_pending &= ~VCONN_RX_RW;
	c->host_eof = true;
	c->state = VCONN_CLOSING;
	c->timeout_ms = VCONN_SHUTDOWN_TIMEOUT_MS;
	p->op = VIRTIO_VSOCK_OP_SHUTDOWN;
	p->flags = VCONN_SHUT_BOTH;
	return 1;
}

static bool vconn_peek_eof(const struct vsock_conn *c)
{
	char b;

	return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* The RW case of vconn_to_guest: 1 with p filled, 0 if nothing to send. */
static int vconn_fill_rw(struct vsock_conn *c, struct vsock_pkt *p, const struct iovec *iov,
			 int niov, uint32_t room, enum vconn_act *act, struct vsock_stats *st)
{
	uint32_t credit = vsc_peer_credit(&c->cr);
	uint32_t max = credit < room ? credit : room;
	ssize_t got;

	if (credit == 0) {
		c->rx_pending &= ~VCONN_RX_RW;
		if (!c->credit_req_sent)
			c->rx_pending |= VCONN_RX_CREDIT_REQUEST;
		return 0;
	}
	if (max == 0) /* a header-only buffer: data waits for a bigger one */
		return vconn_peek_eof(c) ? vconn_fill_eof(c, p) : 0;
	got = vconn_read(c, iov, niov, max);
	if (got == -EAGAIN || got < 0) {
		c->rx_pending &= ~VCONN_RX_RW;
		if (got != -EAGAIN) {
			st->rx_read_fails++;
			*act = VCONN_RESET;
		}
		return 0;
	}
	if (got == 0)
		return vconn_fill_eof(c, p);
	if ((uint32_t)got < max)
		c->rx_pending &= ~VCONN_RX_RW; /* drained for now: epoll tells us more */
	p->op = VIRTIO_VSOCK_OP_RW;
	p->len = (uint32_t)got;
	vsc_on_send(&c->cr, (uint32_t)got);
	st->rx_bytes_count += (uint64_t)got;
	return 1;
}

/* Pick the next control op owed; 0 if none. */
static uint16_t vconn_next_ctl(struct vsock_conn *c)
{
	static const struct {
		uint32_t bit;
		uint16_t op;
	} order[] = {
	    {VCONN_RX_REQUEST, VIRTIO_VSOCK_OP_REQUEST},
	    {VCONN_RX_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE},
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (c->rx_pending & order[i].bit) {
			c->rx_pending &= ~order[i].bit;
			return order[i].op;
		}
	}
	return 0;
}

int vconn_to_guest(struct vsock_conn *c, uint64_t guest_cid, struct vsock_pkt *p,
		   const struct iovec *iov, int niov, uint32_t room, enum vconn_act *act,
		   struct vsock_stats *st)
{
	uint16_t op = vconn_next_ctl(c);
	int have = 0;

	*act = VCONN_KEEP;
	vsp_reply(p, guest_cid, c->host_port, c->peer_port, op);
	if (op == VIRTIO_VSOCK_OP_REQUEST)
		c->timeout_ms = VCONN_REQUEST_TIMEOUT_MS;
	have = op != 0;
	if (!have && (c->rx_pending & VCONN_RX_RW))
		have = vconn_fill_rw(c, p, iov, niov, room, act, st);
	if (*act != VCONN_KEEP)
		return -ENODATA;
	if (!have && (c->rx_pending & VCONN_RX_CREDIT_REQUEST)) {
		p->op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		c->credit_req_sent = true;
		have = 1;
	}
	if (!have && (c->rx_pending & VCONN_RX_CREDIT_UPDATE)) {
		p->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		have = 1;
	}
	if (!have)
		return -ENODATA;
	if (p->op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		c->rx_pending &= ~VCONN_RX_CREDIT_REQUEST;
	/* Every header carries our credit: no separate update is owed now. */
	c->rx_pending &= ~VCONN_RX_CREDIT_UPDATE;
	vsc_stamp(&c->cr, p);
	st->rx_packets_count++;
	return 0;
}

enum vconn_act vconn_host_event(struct vsock_conn *c, uint32_t events, struct vsock_stats *st)
{
	if ((events & EPOLLERR) && !(events & EPOLLIN)) {
		st->conn_event_fails++;
		return VCONN_RESET;
	}
	if ((events & (EPOLLOUT | EPOLLHUP)) && c->txb.len > 0) {
		if (vconn_txb_flush(c, st) != 0)
			return VCONN_RESET;
		if (vconn_after_flush(c) != VCONN_KEEP)
			return VCONN_RESET;
	}
	if ((events & (EPOLLIN | EPOLLHUP)) && (vconn_wanted(c) & EPOLLIN))
		c->rx_pending |= VCONN_RX_RW;
	return VCONN_KEEP;
}

uint32_t vconn_wanted(const struct vsock_conn *c)
{
	uint32_t ev = 0;

	switch (c->state) {
	case VCONN_HOST_CMD:
		return EPOLLIN;
	case VCONN_ESTABLISHED:
		if (!(c->rx_pending & VCONN_RX_RW) && !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) &&
		    !c->host_eof && vsc_peer_credit(&c->cr) > 0)
			ev |= EPOLLIN;
		/* fall through */
	case VCONN_CLOSING:
		if (c->txb.len > 0)
			ev |= EPOLLOUT;
		return ev;
	default:
		return 0;
	}
}
