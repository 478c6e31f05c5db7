/* The vsock connection state machine and muxer, driven by hand: host
 * sockets are socketpairs (or a real listener for guest-initiated
 * connections), the guest is a pair of functions building and reading
 * packets. No event loop: host readiness is delivered with vmux_conn_event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/vsock_mux.h"

#define CID   3
#define GPORT 52
#define HPORT VMUX_FIRST_HOST_PORT

struct fx {
	struct vsock_mux m;
	struct vsock_stats st;
	char dir[64];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char path[128];

	assert_non_null(x);
	snprintf(x->dir, sizeof(x->dir), "/tmp/flint-vsock-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(path, sizeof(path), "%s/v.sock", x->dir);
	vmux_init(&x->m, CID, path, &x->st, NULL);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	vmux_close(&x->m);
	rmdir(x->dir);
	free(x);
	return 0;
}

static void gsend(struct fx *x, uint16_t op, uint32_t gport, uint32_t hport, uint32_t flags,
		  const void *data, uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_pkt p = {
	    .src_cid = CID,
	    .dst_cid = VSOCK_HOST_CID,
	    .src_port = gport,
	    .dst_port = hport,
	    .len = len,
	    .type = VIRTIO_VSOCK_TYPE_STREAM,
	    .op = op,
	    .flags = flags,
	    .buf_alloc = buf_alloc,
	    .fwd_cnt = fwd_cnt,
	};
	struct iovec iov = {(void *)data, len};

	vmux_from_guest(&x->m, &p, VSOCK_HDR_SIZE + len, &iov, len ? 1 : 0);
}

/* Next packet for the guest; returns its op, 0 if none. */
static uint16_t grecv(struct fx *x, struct vsock_pkt *p, void *buf, uint32_t room)
{
	struct iovec iov = {buf, room};

	memset(p, 0, sizeof(*p));
	if (vmux_to_guest(&x->m, p, &iov, 1, room) != 0)
		return 0;
	assert_int_equal(p->src_cid, VSOCK_HOST_CID);
	assert_int_equal(p->dst_cid, CID);
	assert_int_equal(p->type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_true(p->len <= room);
	return p->op;
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A host program connected (socketpair) and sent its CONNECT line. Returns
 * the program's end; the connection is established once the guest answers. */
static int host_connect(struct fx *x, uint32_t gport, struct vsock_conn **out)
{
	int sv[2];
	char line[32];
	struct vsock_conn *c;
	struct vsock_pkt p;
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", gport);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	nonblock(sv[0]);
	nonblock(sv[1]);
	assert_int_equal(vmux_adopt(&x->m, sv[0]), 0);
	assert_int_equal(write(sv[1], line, (size_t)n), n);
	c = NULL;
	for (int i = 0; i < VMUX_MAX_CONNS; i++)
		if (x->m.conns[i].fd == sv[0])
			c = &x->m.conns[i];
	assert_non_null(c);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(c->state, VCONN_CONNECTING);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.dst_port, gport);
	assert_int_equal(p.src_port, c->host_port);
	*out = c;
	return sv[1];
}

/* host_connect + the guest accepting; the program's "OK" line is consumed. */
static int host_established(struct fx *x, uint32_t gport, uint32_t guest_buf,
			    struct vsock_conn **out)
{
	char line[32], want[32];
	int fd = host_connect(x, gport, out);
	int n = snprintf(want, sizeof(want), "OK %u\n", (*out)->host_port);

	gsend(x, VIRTIO_VSOCK_OP_RESPONSE, gport, (*out)->host_port, 0, NULL, 0, guest_buf, 0);
	assert_int_equal((*out)->state, VCONN_ESTABLISHED);
	assert_int_equal(read(fd, line, (size_t)n), n);
	assert_memory_equal(line, want, (size_t)n);
	return fd;
}

static void test_host_connect_relay(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	char buf[64];
	int fd = host_established(x, GPORT, 65536, &c);

	assert_int_equal(c->host_port, HPORT);
	assert_int_equal(x->st.conns_added, 1);
	/* host -> guest */
	assert_int_equal(write(fd, "ping", 4), 4);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(p.src_port, HPORT);
	assert_int_equal(p.dst_port, GPORT);
	assert_int_equal(p.buf_alloc, VSOCK_CONN_BUF);
	/* guest -> host */
	gsend(x, VIRTIO_VSOCK_OP_RW, GPORT, HPORT, 0, "pong!", 5, 65536, 4);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "pong!", 5);
	assert_int_equal(c->cr.fwd_cnt, 5);
	assert_int_equal(x->st.tx_bytes_count, 5);
	assert_int_equal(x->st.rx_bytes_count, 4);
	close(fd);
}

static void test_host_connect_early_data(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	char buf[64];
	int sv[2];

	/* CONNECT and the first data in one write: the data is not eaten. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vmux_adopt(&x->m, sv[0]), 0);
	assert_int_equal(write(sv[1], "connect 7\r\nearly", 16), 16);
	c = &x->m.conns[0];
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.dst_port, 7);
	gsend(x, VIRTIO_VSOCK_OP_RESPONSE, 7, c->host_port, 0, NULL, 0, 4096, 0);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 5);
	assert_memory_equal(buf, "early", 5);
	close(sv[1]);
}

static void test_host_bad_command(void **state)
{
	static const char *bad[] = {"CONNECT\n",
				    "CONNECT x\n",
				    "CONNECT 4294967296\n",
				    "HELLO 5\n",
				    "CONNECT -1\n",
				    "CONNECT 1 2\n",
				    "CONNECT 0000000000000000000000000000001"};
	struct fx *x = *state;
	struct vsock_pkt p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int sv[2];
		char b;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
		assert_int_equal(vmux_adopt(&x->m, sv[0]), 0);
		assert_int_equal(write(sv[1], bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		vmux_conn_event(&x->m, &x->m.conns[0], EPOLLIN);
		assert_int_equal(vmux_count(&x->m), 0);
		/* closed on the program (ECONNRESET if its bytes were left unread) */
		assert_true(read(sv[1], &b, 1) <= 0);
		assert_int_equal(grecv(x, &p, NULL, 0), 0); /* the guest never hears of it */
		close(sv[1]);
	}
}

static void test_host_partial_command_and_eof(void **state)
{
	struct fx *x = *state;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vmux_adopt(&x->m, sv[0]), 0);
	assert_int_equal(write(sv[1], "CONN", 4), 4);
	vmux_conn_event(&x->m, &x->m.conns[0], EPOLLIN);
	assert_int_equal(x->m.conns[0].state, VCONN_HOST_CMD); /* waits for the rest */
	assert_int_equal(write(sv[1], "ECT 5", 5), 5);
	vmux_conn_event(&x->m, &x->m.conns[0], EPOLLIN);
	assert_int_equal(x->m.conns[0].state, VCONN_HOST_CMD);
	/* a half-close after a partial line ends it (no EPOLLIN spinning) */
	shutdown(sv[1], SHUT_WR);
	vmux_conn_event(&x->m, &x->m.conns[0], EPOLLIN);
	assert_int_equal(vmux_count(&x->m), 0);
	close(sv[1]);
	/* a line split over several writes works */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vmux_adopt(&x->m, sv[0]), 0);
	for (const char *s = "CONNECT 77\n"; *s; s++) {
		assert_int_equal(write(sv[1], s, 1), 1);
		vmux_conn_event(&x->m, &x->m.conns[0], EPOLLIN);
	}
	assert_int_equal(x->m.conns[0].state, VCONN_CONNECTING);
	assert_int_equal(x->m.conns[0].peer_port, 77);
	close(sv[1]);
}

static void test_guest_refuses(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	char b;
	int fd = host_connect(x, GPORT, &c);

	gsend(x, VIRTIO_VSOCK_OP_RST, GPORT, c->host_port, 0, NULL, 0, 0, 0);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(read(fd, &b, 1), 0); /* no OK line: closed */
	assert_int_equal(x->st.conns_removed, 1);
	close(fd);
}

static void test_request_timeout(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	char b;
	int fd = host_connect(x, GPORT, &c);
	uint32_t hport = c->host_port;

	assert_true(c->expiry_ns != 0);
	vmux_expire(&x->m, c->expiry_ns - 1);
	assert_int_equal(vmux_count(&x->m), 1);
	vmux_expire(&x->m, c->expiry_ns);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(read(fd, &b, 1), 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_port, hport);
	assert_int_equal(p.dst_port, GPORT);
	close(fd);
}

static void test_guest_connect_refused(void **state)
{
	struct fx *x = *state;
	struct vsock_pkt p;

	gsend(x, VIRTIO_VSOCK_OP_REQUEST, 1025, 5000, 0, NULL, 0, 65536, 0);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_port, 5000);
	assert_int_equal(p.dst_port, 1025);
}

static int listen_at(struct fx *x, uint32_t port)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/v.sock_%u", x->dir, port);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void unlisten(struct fx *x, int fd, uint32_t port)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/v.sock_%u", x->dir, port);
	unlink(path);
	close(fd);
}

static void test_guest_connect_relay(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	char buf[64];
	int lfd = listen_at(x, 5000), afd;

	gsend(x, VIRTIO_VSOCK_OP_REQUEST, 1025, 5000, 0, NULL, 0, 65536, 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_port, 5000);
	assert_int_equal(p.dst_port, 1025);
	c = vmux_find(&x->m, 5000, 1025);
	assert_non_null(c);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	gsend(x, VIRTIO_VSOCK_OP_RW, 1025, 5000, 0, "hello", 5, 65536, 0);
	assert_int_equal(read(afd, buf, sizeof(buf)), 5);
	assert_int_equal(write(afd, "world!", 6), 6);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 6);
	assert_memory_equal(buf, "world!", 6);
	/* a second REQUEST on the live connection resets it */
	gsend(x, VIRTIO_VSOCK_OP_REQUEST, 1025, 5000, 0, NULL, 0, 65536, 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(read(afd, buf, 1), 0);
	close(afd);
	unlisten(x, lfd, 5000);
}

static void test_credit_limits_rx(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	char data[300], buf[400];
	int fd = host_established(x, GPORT, 100, &c);

	memset(data, 'z', sizeof(data));
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	assert_true(vconn_wanted(c) & EPOLLIN);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 100); /* the guest's whole credit, not more */
	/* out of credit: ask once, then stop reading the socket */
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), 0);
	assert_false(vconn_wanted(c) & EPOLLIN);
	assert_false(vmux_has_rx(&x->m));
	/* the guest consumed 60 bytes */
	gsend(x, VIRTIO_VSOCK_OP_CREDIT_UPDATE, GPORT, c->host_port, 0, NULL, 0, 100, 60);
	assert_true(vconn_wanted(c) & EPOLLIN);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 60);
	/* a bigger buffer and fwd_cnt near the wrap do not confuse it */
	gsend(x, VIRTIO_VSOCK_OP_CREDIT_UPDATE, GPORT, c->host_port, 0, NULL, 0, 1000, 160);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, 50), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 50); /* limited by the rx buffer */
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 90); /* the rest: 300 in all */
	assert_int_equal(c->cr.tx_cnt, 300);
	close(fd);
}

static void test_credit_request_answered(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	int fd = host_established(x, GPORT, 4096, &c);

	gsend(x, VIRTIO_VSOCK_OP_CREDIT_REQUEST, GPORT, c->host_port, 0, NULL, 0, 4096, 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p.buf_alloc, VSOCK_CONN_BUF);
	assert_int_equal(p.fwd_cnt, 0);
	close(fd);
}

/* Guest -> host with a host program that does not read: bytes are kept up to
 * our buf_alloc, none lost, credit updates follow the flushes, and a guest
 * overrunning the credit is reset. */
static void test_tx_buffering(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	static uint8_t chunk[4096], got[VSOCK_CONN_BUF * 2];
	uint32_t sent = 0, rcvd = 0;
	int small = 4096;
	int fd = host_established(x, GPORT, 65536, &c);

	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	while (vsc_buffered(&c->cr) + sizeof(chunk) <= VSOCK_CONN_BUF) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)(sent + i);
		gsend(x, VIRTIO_VSOCK_OP_RW, GPORT, c->host_port, 0, chunk, sizeof(chunk), 65536,
		      0);
		sent += sizeof(chunk);
		assert_int_equal(vmux_count(&x->m), 1);
	}
	assert_true(vsc_buffered(&c->cr) > 0);
	assert_true(vconn_wanted(c) & EPOLLOUT);
	/* drain the program's side, flushing as the socket frees up */
	while (rcvd < sent) {
		ssize_t n = read(fd, got + rcvd, sizeof(got) - rcvd);

		if (n > 0)
			rcvd += (uint32_t)n;
		vmux_conn_event(&x->m, c, EPOLLOUT);
	}
	for (uint32_t i = 0; i < sent; i++)
		assert_int_equal(got[i], (uint8_t)i);
	assert_int_equal(c->cr.fwd_cnt, sent);
	assert_false(vconn_wanted(c) & EPOLLOUT);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p.fwd_cnt, sent);
	/* now overrun: fill our buffer and send one more byte than allowed */
	while (vsc_buffered(&c->cr) + sizeof(chunk) <= VSOCK_CONN_BUF)
		gsend(x, VIRTIO_VSOCK_OP_RW, GPORT, c->host_port, 0, chunk, sizeof(chunk), 65536,
		      0);
	gsend(x, VIRTIO_VSOCK_OP_RW, GPORT, c->host_port, 0, chunk,
	      VSOCK_CONN_BUF - vsc_buffered(&c->cr) + 1, 65536, 0);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(x->st.conns_killed, 1);
	close(fd);
}

static void test_host_eof_and_guest_rst(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	char buf[16];
	int fd = host_established(x, GPORT, 4096, &c);

	assert_int_equal(write(fd, "last", 4), 4);
	close(fd); /* the program goes away after writing */
	vmux_conn_event(&x->m, c, EPOLLIN | EPOLLHUP);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 4); /* data first */
	vmux_conn_event(&x->m, c, EPOLLIN | EPOLLHUP);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(c->state, VCONN_CLOSING);
	assert_int_equal(vconn_wanted(c), 0); /* nothing to poll: no HUP spinning */
	gsend(x, VIRTIO_VSOCK_OP_RST, GPORT, c->host_port, 0, NULL, 0, 0, 0);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(grecv(x, &p, NULL, 0), 0);
}

static void test_host_eof_shutdown_timeout(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	int fd = host_established(x, GPORT, 4096, &c);

	close(fd);
	vmux_conn_event(&x->m, c, EPOLLIN | EPOLLHUP);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_SHUTDOWN);
	vmux_expire(&x->m, c->expiry_ns);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
}

static void test_guest_shutdown(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	char buf[16];
	int fd = host_established(x, GPORT, 4096, &c);

	/* SEND only: the program sees EOF but can still talk to the guest */
	gsend(x, VIRTIO_VSOCK_OP_SHUTDOWN, GPORT, c->host_port, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0,
	      4096, 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	assert_int_equal(write(fd, "more", 4), 4);
	vmux_conn_event(&x->m, c, EPOLLIN);
	assert_int_equal(grecv(x, &p, buf, sizeof(buf)), VIRTIO_VSOCK_OP_RW);
	/* data after SHUTDOWN(SEND) is a protocol error */
	gsend(x, VIRTIO_VSOCK_OP_RW, GPORT, c->host_port, 0, "x", 1, 4096, 4);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(vmux_count(&x->m), 0);
	close(fd);

	/* both flags: we answer RST and close the program's socket */
	fd = host_established(x, GPORT, 4096, &c);
	gsend(x, VIRTIO_VSOCK_OP_SHUTDOWN, GPORT, c->host_port,
	      VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV, NULL, 0, 4096, 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

static void test_protocol_errors(void **state)
{
	struct fx *x = *state;
	struct vsock_conn *c;
	struct vsock_pkt p;
	int fd = host_connect(x, GPORT, &c);

	/* data before the RESPONSE */
	gsend(x, VIRTIO_VSOCK_OP_RW, GPORT, c->host_port, 0, "x", 1, 4096, 0);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	close(fd);
	/* packets for no connection get RST; an RST for none is ignored */
	gsend(x, VIRTIO_VSOCK_OP_RW, 9, 9, 0, "x", 1, 4096, 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	gsend(x, VIRTIO_VSOCK_OP_RST, 9, 9, 0, NULL, 0, 0, 0);
	assert_int_equal(grecv(x, &p, NULL, 0), 0);
	/* an unknown op on a live connection resets it */
	fd = host_established(x, GPORT, 4096, &c);
	gsend(x, 99, GPORT, c->host_port, 0, NULL, 0, 4096, 0);
	assert_int_equal(grecv(x, &p, NULL, 0), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(vmux_count(&x->m), 0);
	assert_int_equal(x->st.tx_invalid_pkts, 1);
	close(fd);
}

static void test_bad_headers_dropped(void **state)
{
	struct fx *x = *state;
	struct vsock_pkt p = {.src_cid = 4, .dst_cid = 2, .dst_port = 5000, .type = 1, .op = 1};
	struct vsock_pkt r;

	vmux_from_guest(&x->m, &p, VSOCK_HDR_SIZE, NULL, 0); /* spoofed source */
	p.src_cid = CID;
	p.dst_cid = 7;
	vmux_from_guest(&x->m, &p, VSOCK_HDR_SIZE, NULL, 0); /* another guest */
	p.dst_cid = 2;
	p.len = 100;
	vmux_from_guest(&x->m, &p, VSOCK_HDR_SIZE + 99, NULL, 0); /* len past the chain */
	vmux_from_guest(&x->m, &p, 10, NULL, 0);		  /* not even a header */
	assert_int_equal(x->st.tx_invalid_pkts, 4);
	assert_int_equal(grecv(x, &r, NULL, 0), 0);
	assert_int_equal(vmux_count(&x->m), 0);
}

static void test_many_connections(void **state)
{
	struct fx *x = *state;
	int fds[VMUX_MAX_CONNS], sv[2];
	struct vsock_conn *c[VMUX_MAX_CONNS];
	struct vsock_pkt p;
	char buf[16];

	for (int i = 0; i < VMUX_MAX_CONNS; i++) {
		fds[i] = host_established(x, 100 + (uint32_t)(i % 7), 4096, &c[i]);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(c[i]->host_port, c[j]->host_port);
	}
	assert_int_equal(vmux_count(&x->m), VMUX_MAX_CONNS);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(vmux_adopt(&x->m, sv[0]), -ENOSPC); /* table full */
	close(sv[0]);
	close(sv[1]);
	/* every connection relays its own bytes */
	for (int i = 0; i < VMUX_MAX_CONNS; i++) {
		uint8_t b = (uint8_t)i;

		assert_ptr_equal(vmux_find(&x->m, c[i]->host_port, c[i]->peer_port), c[i]);
		gsend(x, VIRTIO_VSOCK_OP_RW, c[i]->peer_port, c[i]->host_port, 0, &b, 1, 4096, 0);
		assert_int_equal(read(fds[i], buf, sizeof(buf)), 1);
		assert_int_equal((uint8_t)buf[0], b);
	}
	/* a device reset drops them all */
	vmux_reset(&x->m);
	assert_int_equal(vmux_count(&x->m), 0);
	for (int i = 0; i < VMUX_MAX_CONNS; i++) {
		assert_int_equal(read(fds[i], buf, 1), 0);
		close(fds[i]);
	}
	assert_int_equal(grecv(x, &p, NULL, 0), 0);
}

static void test_listener(void **state)
{
	struct fx *x = *state;
	struct ev_loop loop;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, stale;

	assert_int_equal(ev_init(&loop), 0);
	/* a stale socket file from an earlier run is replaced */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", x->m.path);
	stale = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(stale);
	assert_int_equal(vmux_open(&x->m, &loop, NULL, NULL), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, "CONNECT 52\n", 11), 11);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ev_run_once(&loop, 100), 0);
	assert_int_equal(vmux_count(&x->m), 1);
	assert_true(vmux_has_rx(&x->m));
	vmux_close(&x->m);
	assert_int_not_equal(access(sa.sun_path, F_OK), 0); /* removed */
	close(fd);
	ev_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_host_connect_relay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_connect_early_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_bad_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_partial_command_and_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_connect_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_connect_relay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_limits_rx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_request_answered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_buffering, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_eof_and_guest_rst, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_eof_shutdown_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_shutdown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_protocol_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_headers_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listener, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
