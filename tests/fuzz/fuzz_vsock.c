/* libFuzzer target: the input is a script of guest packets (raw 44-byte
 * headers and payloads), host-side actions on socketpair-backed
 * connections, and rx fills, run against the vsock muxer. The sanitizers,
 * a hang, or a broken invariant (buffer accounting, queue bounds) is a bug:
 * no guest packet and no host behaviour may crash flint or lose count. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vsock_mux.h"

#define FZ_CID	 3
#define FZ_HOSTS 3
#define FZ_PORT	 5000u /* a host listener for guest-initiated connections */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_in {
	const uint8_t *p;
	size_t left;
};

static int fz_byte(struct fz_in *in)
{
	if (!in->left)
		return -1;
	in->left--;
	return *in->p++;
}

/* Set up once: a directory with a listener at <uds>_5000. */
struct fz_ctx {
	char dir[32];
	char path[96];
	int lfd;
	int ready;
};

static struct fz_ctx fz_ctx;

static void fz_cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s_%u", fz_ctx.path, FZ_PORT);
	unlink(p);
	rmdir(fz_ctx.dir);
}

static struct fz_ctx *fz_get(void)
{
	struct fz_ctx *ctx = &fz_ctx;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (ctx->ready)
		return ctx;
	snprintf(ctx->dir, sizeof(ctx->dir), "/tmp/flint-fuzz-vsock-XXXXXX");
	if (!mkdtemp(ctx->dir))
		return NULL;
	atexit(fz_cleanup);
	snprintf(ctx->path, sizeof(ctx->path), "%s/v.sock", ctx->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", ctx->path, FZ_PORT);
	ctx->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (ctx->lfd < 0 || bind(ctx->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(ctx->lfd, 64) != 0)
		return NULL;
	ctx->ready = 1;
	return ctx;
}

static void fz_check(const struct vsock_mux *m)
{
	if (m->rxq_len > VMUX_MAX_CONNS || m->rst_len > VMUX_RSTQ)
		__builtin_trap();
	for (int i = 0; i < VMUX_MAX_CONNS; i++) {
		const struct vsock_conn *c = &m->conns[i];

		if (c->state == VCONN_FREE)
			continue;
		if (c->txb.len != vsc_buffered(&c->cr) || c->txb.len > VSOCK_CONN_BUF)
			__builtin_trap(); /* bytes lost or invented */
		if (c->state == VCONN_ESTABLISHED && c->rx_pending && !c->in_rxq)
			__builtin_trap(); /* owed a packet but never scheduled */
	}
}

/* The script, a byte an op (op % 8): 0, 1 a guest packet (fz_guest_pkt);
 * 2 the guest takes a packet (a byte: room / 257); 3 a host program reads,
 * 4 closes, 7 writes (bytes: which host, count / 32); 5 a socket event on
 * a connection (bytes: bits, which connection); 6 every timer expires. */

/* One guest packet: a flags byte, a raw header, then payload bytes. */
static void fz_guest_pkt(struct vsock_mux *m, struct fz_in *in, const int *hports)
{
	struct virtio_vsock_hdr raw;
	struct vsock_pkt p;
	struct iovec iov;
	int fl = fz_byte(in);
	uint32_t avail;

	if (fl < 0 || in->left < sizeof(raw))
		return;
	memcpy(&raw, in->p, sizeof(raw));
	in->p += sizeof(raw);
	in->left -= sizeof(raw);
	vsp_decode(&raw, &p);
	/* Mostly well addressed, so that the connection layer is reached. */
	if (fl & 1)
		p.src_cid = FZ_CID;
	if (fl & 2)
		p.dst_cid = VSOCK_HOST_CID;
	if (fl & 4)
		p.type = VIRTIO_VSOCK_TYPE_STREAM;
	if (fl & 8)
		p.op = (uint16_t)(1 + p.op % 7);
	if (fl & 16) {
		p.dst_port = (fl & 32) ? FZ_PORT : (uint32_t)hports[(fl >> 6) % FZ_HOSTS];
		p.src_port = (fl & 32) ? p.src_port % 4 : 52;
	}
	avail = p.len < in->left ? p.len : (uint32_t)in->left;
	if (fl & 128)
		p.len = avail; /* consistent with the chain */
	iov.iov_base = (void *)in->p;
	iov.iov_len = avail;
	vmux_from_guest(m, &p, VSOCK_HDR_SIZE + avail, &iov, avail ? 1 : 0);
	in->p += avail;
	in->left -= avail;
}

static void fz_to_guest(struct vsock_mux *m, struct fz_in *in)
{
	static uint8_t buf[VSOCK_MAX_PAYLOAD];
	struct iovec iov[2] = {{buf, 100}, {buf + 100, sizeof(buf) - 100}};
	struct vsock_pkt p;
	int r = fz_byte(in);
	uint32_t room = r < 0 ? 0 : (uint32_t)r * 257u;

	if (room > sizeof(buf))
		room = sizeof(buf);
	if (vmux_to_guest(m, &p, iov, 2, room) == 0 && p.len > room)
		__builtin_trap();
}

static void fz_host(struct vsock_mux *m, struct fz_in *in, int *hfd, int op)
{
	static uint8_t junk[8192];
	int i = fz_byte(in), n = fz_byte(in);

	if (i < 0 || n < 0)
		return;
	i %= FZ_HOSTS;
	if (op == 7 && hfd[i] >= 0) {
		memset(junk, n, sizeof(junk));
		/* A host program whose connection flint closed gets EPIPE. */
		(void)!send(hfd[i], junk, (size_t)n * 32, MSG_NOSIGNAL);
	} else if (op == 3 && hfd[i] >= 0) {
		(void)!read(hfd[i], junk, (size_t)n * 32 + 1);
	} else if (op == 4 && hfd[i] >= 0) {
		close(hfd[i]);
		hfd[i] = -1;
	} else if (op == 5) {
		struct vsock_conn *c = &m->conns[(unsigned)n % VMUX_MAX_CONNS];
		uint32_t ev = (i & 1 ? EPOLLIN : 0) | (n & 1 ? EPOLLOUT : 0) |
			      (n & 2 ? EPOLLHUP : 0) | (n & 4 ? EPOLLERR : 0);

		vmux_conn_event(m, c, ev);
	}
}

/* Host programs connected and asked for guest port 52. */
static void fz_connect_hosts(struct vsock_mux *m, int *hfd, int *hports)
{
	for (int i = 0; i < FZ_HOSTS; i++) {
		int sv[2];

		hfd[i] = -1;
		hports[i] = 0;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
			continue;
		if (vmux_adopt(m, sv[0]) != 0) {
			close(sv[0]);
			close(sv[1]);
			continue;
		}
		hfd[i] = sv[1];
		(void)!send(sv[1], "CONNECT 52\n", 11, MSG_NOSIGNAL);
		for (int k = 0; k < VMUX_MAX_CONNS; k++) {
			if (m->conns[k].fd == sv[0]) {
				vmux_conn_event(m, &m->conns[k], EPOLLIN);
				hports[i] = (int)m->conns[k].host_port;
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vsock_mux m;
	struct vsock_stats st = {0};
	struct fz_ctx *ctx = fz_get();
	struct fz_in in = {data, size};
	int hfd[FZ_HOSTS], hports[FZ_HOSTS], op, fd;

	if (!ctx)
		return 0;
	vmux_init(&m, FZ_CID, ctx->path, &st, NULL);
	fz_connect_hosts(&m, hfd, hports);
	for (int steps = 0; steps < 256 && (op = fz_byte(&in)) >= 0; steps++) {
		switch (op % 8) {
		case 0:
		case 1:
			fz_guest_pkt(&m, &in, hports);
			break;
		case 2:
			fz_to_guest(&m, &in);
			break;
		case 6:
			vmux_expire(&m, UINT64_MAX);
			break;
		default:
			fz_host(&m, &in, hfd, op % 8);
		}
		fz_check(&m);
	}
	vmux_reset(&m);
	for (int i = 0; i < FZ_HOSTS; i++)
		if (hfd[i] >= 0)
			close(hfd[i]);
	while ((fd = accept(ctx->lfd, NULL, NULL)) >= 0)
		close(fd);
	return 0;
}
