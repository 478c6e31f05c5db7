/* vsock muxer: Unix-socket listener, connection table, rx scheduling. */
#include "devices/vsock_mux.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define VMUX_TICK_NS 200000000ULL /* expiry check period while deadlines exist */

static uint64_t vmux_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint32_t vmux_bucket(uint32_t host_port, uint32_t peer_port)
{
	return ((host_port * 2654435761u) ^ (peer_port * 40503u)) % VMUX_HASH;
}

void vmux_init(struct vsock_mux *m, uint64_t guest_cid, const char *uds_path,
	       struct vsock_stats *st, struct logger *log)
{
	memset(m, 0, sizeof(*m));
	m->guest_cid = guest_cid;
	m->stats = st;
	m->log = log;
	m->listen_fd = -1;
	m->timer_fd = -1;
	m->next_port = VMUX_FIRST_HOST_PORT;
	snprintf(m->path, sizeof(m->path), "%s", uds_path ? uds_path : "");
	for (int i = 0; i < VMUX_HASH; i++)
		m->hash[i] = -1;
	for (int i = 0; i < VMUX_MAX_CONNS; i++) {
		m->conns[i].index = (uint16_t)i;
		m->conns[i].mux = m;
		m->conns[i].fd = -1;
		m->conns[i].hnext = -1;
	}
}

/* --- table --- */

struct vsock_conn *vmux_find(struct vsock_mux *m, uint32_t host_port, uint32_t peer_port)
{
	for (int i = m->hash[vmux_bucket(host_port, peer_port)]; i >= 0; i = m->conns[i].hnext) {
		struct vsock_conn *c = &m->conns[i];

		if (c->host_port == host_port && c->peer_port == peer_port)
			return c;
	}
	return NULL;
}

static void vmux_hash_add(struct vsock_mux *m, struct vsock_conn *c)
{
	uint32_t b = vmux_bucket(c->host_port, c->peer_port);

	c->hnext = m->hash[b];
	m->hash[b] = (int16_t)c->index;
}

static void vmux_hash_del(struct vsock_mux *m, struct vsock_conn *c)
{
	int16_t *p = &m->hash[vmux_bucket(c->host_port, c->peer_port)];

	while (*p >= 0 && *p != (int16_t)c->index)
		p = &m->conns[*p].hnext;
	if (*p >= 0)
		*p = c->hnext;
	c->hnext = -1;
}

static struct vsock_conn *vmux_slot(struct vsock_mux *m)
{
	for (int i = 0; i < VMUX_MAX_CONNS; i++)
		if (m->conns[i].state == VCONN_FREE)
			return &m->conns[i];
	return NULL;
}

int vmux_count(const struct vsock_mux *m)
{
	int n = 0;

	for (int i = 0; i < VMUX_MAX_CONNS; i++)
		n += m->conns[i].state != VCONN_FREE;
	return n;
}

static void vmux_rxq_del(struct vsock_mux *m, const struct vsock_conn *c)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < m->rxq_len; i++) {
		uint16_t idx = m->rxq[(m->rxq_head + i) % VMUX_MAX_CONNS];

		if (idx != c->index)
			m->rxq[(m->rxq_head + kept++) % VMUX_MAX_CONNS] = idx;
	}
	m->rxq_len = kept;
}

static void vmux_rst_push(struct vsock_mux *m, uint32_t host_port, uint32_t peer_port)
{
	if (m->rst_len == VMUX_RSTQ) {
		m->stats->muxer_event_fails++; /* the guest's own timeout ends it */
		return;
	}
	m->rstq[(m->rst_head + m->rst_len++) % VMUX_RSTQ] =
	    (struct vmux_rst){.host_port = host_port, .peer_port = peer_port};
}

/* Forget c: out of the hash, the rx queue and the loop; socket closed. */
static void vmux_free(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->state != VCONN_HOST_CMD)
		vmux_hash_del(m, c);
	if (c->in_rxq)
		vmux_rxq_del(m, c);
	c->in_rxq = false;
	if (c->events && m->loop)
		ev_del(m->loop, c->fd);
	c->events = 0;
	c->expiry_ns = 0;
	vconn_release(c);
}

/* Free c; with rst, the guest is told (if it ever knew of c). */
static void vmux_kill(struct vsock_mux *m, struct vsock_conn *c, bool rst)
{
	if (c->state == VCONN_FREE)
		return;
	if (rst && c->state != VCONN_HOST_CMD)
		vmux_rst_push(m, c->host_port, c->peer_port);
	if (rst)
		m->stats->conns_killed++;
	else
		m->stats->conns_removed++;
	vmux_free(m, c);
}

/* --- epoll interest, deadlines, rx queue --- */

static void vmux_conn_cb(void *opaque, uint32_t events);

static int vmux_poll(struct vsock_mux *m, struct vsock_conn *c, uint32_t want)
{
	int err = 0;

	if (want == c->events)
		return 0;
	if (m->loop) {
		if (!c->events)
			err = ev_add(m->loop, c->fd, want, vmux_conn_cb, c);
		else if (!want)
			err = ev_del(m->loop, c->fd);
		else
			err = ev_modify(m->loop, c->fd, want);
	}
	if (!err)
		c->events = want;
	return err;
}

static void vmux_arm_timer(struct vsock_mux *m, bool on)
{
	struct itimerspec its = {0};

	if (on == m->timer_armed || m->timer_fd < 0)
		return;
	if (on) {
		its.it_value.tv_nsec = VMUX_TICK_NS;
		its.it_interval.tv_nsec = VMUX_TICK_NS;
	}
	if (timerfd_settime(m->timer_fd, 0, &its, NULL) == 0)
		m->timer_armed = on;
}

/* Bring c's scheduling in line with its state after any change. */
static void vmux_sync(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->timeout_ms) {
		c->expiry_ns = vmux_now_ns() + (uint64_t)c->timeout_ms * 1000000ULL;
		c->timeout_ms = 0;
		vmux_arm_timer(m, true);
	}
	if (c->rx_pending && !c->in_rxq) {
		m->rxq[(m->rxq_head + m->rxq_len++) % VMUX_MAX_CONNS] = c->index;
		c->in_rxq = true;
	}
	if (vmux_poll(m, c, vconn_wanted(c)) != 0) {
		m->stats->muxer_event_fails++;
		vmux_kill(m, c, true); /* cannot be served without its fd polled */
	}
}

static void vmux_apply(struct vsock_mux *m, struct vsock_conn *c, enum vconn_act act)
{
	if (act == VCONN_KEEP)
		vmux_sync(m, c);
	else
		vmux_kill(m, c, act == VCONN_RESET);
}

/* --- host side --- */

int vmux_adopt(struct vsock_mux *m, int fd)
{
	struct vsock_conn *c = vmux_slot(m);

	if (!c)
		return -ENOSPC;
	vconn_init(c, fd, VCONN_HOST_CMD, 0, 0);
	c->timeout_ms = VCONN_CMD_TIMEOUT_MS;
	vmux_sync(m, c);
	return c->state == VCONN_FREE ? -EIO : 0;
}

void vmux_accept(struct vsock_mux *m)
{
	for (;;) {
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				m->stats->muxer_event_fails++;
			return;
		}
		if (vmux_adopt(m, fd) != 0) {
			m->stats->muxer_event_fails++;
			close(fd); /* table full: the program sees EOF */
		}
	}
}

static uint32_t vmux_alloc_port(struct vsock_mux *m)
{
	for (;;) {
		uint32_t p = m->next_port;
		bool used = false;

		m->next_port = ((m->next_port + 1) & 0x7fffffffu) | VMUX_FIRST_HOST_PORT;
		for (int i = 0; i < VMUX_MAX_CONNS && !used; i++)
			used = m->conns[i].state > VCONN_HOST_CMD && m->conns[i].host_port == p;
		if (!used)
			return p; /* at most VMUX_MAX_CONNS ports are in use */
	}
}

static void vmux_host_cmd(struct vsock_mux *m, struct vsock_conn *c, uint32_t events)
{
	uint32_t port;
	int rc = vconn_read_cmd(c, &port);

	/* A partial line from a program that hung up never completes (and a
	 * level-triggered HUP would spin). */
	if (rc == 0 && (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		rc = -ECONNRESET;
	if (rc == 0) {
		vmux_sync(m, c);
		return;
	}
	if (rc < 0) {
		vmux_kill(m, c, false);
		return;
	}
	c->host_port = vmux_alloc_port(m);
	c->peer_port = port;
	c->state = VCONN_CONNECTING;
	c->rx_pending = VCONN_RX_REQUEST;
	c->timeout_ms = VCONN_REQUEST_TIMEOUT_MS;
	vmux_hash_add(m, c);
	m->stats->conns_added++;
	vmux_sync(m, c);
}

void vmux_conn_event(struct vsock_mux *m, struct vsock_conn *c, uint32_t events)
{
	if (c->state == VCONN_FREE)
		return;
	if (c->state == VCONN_HOST_CMD)
		vmux_host_cmd(m, c, events);
	else
		vmux_apply(m, c, vconn_host_event(c, events, m->stats));
}

static void vmux_kick(struct vsock_mux *m)
{
	if (m->rx_ready && vmux_has_rx(m))
		m->rx_ready(m->opaque);
}

static void vmux_conn_cb(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;
	struct vsock_mux *m = c->mux;

	vmux_conn_event(m, c, events);
	vmux_kick(m);
}

void vmux_expire(struct vsock_mux *m, uint64_t now_ns)
{
	bool left = false;

	for (int i = 0; i < VMUX_MAX_CONNS; i++) {
		struct vsock_conn *c = &m->conns[i];

		if (c->state == VCONN_FREE || !c->expiry_ns)
			continue;
		if (now_ns >= c->expiry_ns)
			vmux_kill(m, c, c->state != VCONN_HOST_CMD);
		else
			left = true;
	}
	vmux_arm_timer(m, left);
}

static void vmux_timer_cb(void *opaque, uint32_t events)
{
	struct vsock_mux *m = opaque;
	uint64_t ticks;

	(void)events;
	if (read(m->timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	vmux_expire(m, vmux_now_ns());
	vmux_kick(m);
}

static void vmux_listen_cb(void *opaque, uint32_t events)
{
	struct vsock_mux *m = opaque;

	(void)events;
	vmux_accept(m);
	vmux_kick(m);
}

/* --- guest side --- */

/* A guest REQUEST to CID 2 port p->dst_port: connect to <uds_path>_<port>. */
static void vmux_connect_host(struct vsock_mux *m, const struct vsock_pkt *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vsock_conn *c = vmux_slot(m);
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", m->path, p->dst_port);
	int fd = -1;

	if (c && n > 0 && (size_t)n < sizeof(sa.sun_path))
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd); /* nobody listens (or the backlog is full): refuse */
		fd = -1;
	}
	if (fd < 0) {
		vmux_rst_push(m, p->dst_port, p->src_port);
		return;
	}
	vconn_init(c, fd, VCONN_ESTABLISHED, p->dst_port, p->src_port);
	vsc_update_peer(&c->cr, p->buf_alloc, p->fwd_cnt);
	c->rx_pending = VCONN_RX_RESPONSE;
	vmux_hash_add(m, c);
	m->stats->conns_added++;
	vmux_sync(m, c);
}

void vmux_from_guest(struct vsock_mux *m, const struct vsock_pkt *p, uint32_t readable,
		     const struct iovec *iov, int niov)
{
	enum vsp_verdict v = vsp_check_tx(p, readable, m->guest_cid);
	struct vsock_conn *c;

	if (v == VSP_DROP) {
		m->stats->tx_invalid_pkts++;
		return;
	}
	c = vmux_find(m, p->dst_port, p->src_port);
	if (v == VSP_RST) {
		m->stats->tx_invalid_pkts++;
		if (c)
			vmux_kill(m, c, true);
		else
			vmux_rst_push(m, p->dst_port, p->src_port);
		return;
	}
	if (c)
		vmux_apply(m, c, vconn_from_guest(c, p, iov, niov, m->stats));
	else if (p->op == VIRTIO_VSOCK_OP_REQUEST)
		vmux_connect_host(m, p);
	else if (p->op != VIRTIO_VSOCK_OP_RST)
		vmux_rst_push(m, p->dst_port, p->src_port); /* no such connection */
}

bool vmux_has_rx(const struct vsock_mux *m)
{
	return m->rst_len > 0 || m->rxq_len > 0;
}

int vmux_to_guest(struct vsock_mux *m, struct vsock_pkt *p, const struct iovec *iov, int niov,
		  uint32_t room)
{
	if (m->rst_len > 0) {
		struct vmux_rst r = m->rstq[m->rst_head];

		m->rst_head = (m->rst_head + 1) % VMUX_RSTQ;
		m->rst_len--;
		vsp_reply(p, m->guest_cid, r.host_port, r.peer_port, VIRTIO_VSOCK_OP_RST);
		m->stats->rx_packets_count++;
		return 0;
	}
	/* One pass: a connection that could not fill this buffer goes back
	 * to the tail and is not asked again for it. */
	for (uint32_t left = m->rxq_len; left > 0 && m->rxq_len > 0; left--) {
		struct vsock_conn *c = &m->conns[m->rxq[m->rxq_head]];
		enum vconn_act act;
		int rc;

		m->rxq_head = (m->rxq_head + 1) % VMUX_MAX_CONNS;
		m->rxq_len--;
		c->in_rxq = false;
		if (c->state == VCONN_FREE)
			continue;
		rc = vconn_to_guest(c, m->guest_cid, p, iov, niov, room, &act, m->stats);
		if (act != VCONN_KEEP) {
			vsp_reply(p, m->guest_cid, c->host_port, c->peer_port, VIRTIO_VSOCK_OP_RST);
			m->stats->rx_packets_count++;
			m->stats->conns_killed++;
			vmux_free(m, c);
			return 0;
		}
		vmux_sync(m, c);
		if (rc == 0)
			return 0;
	}
	return -ENODATA;
}

/* --- set-up --- */

static int vmux_listen(struct vsock_mux *m)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd;

	if (!m->path[0] || strlen(m->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, m->path, strlen(m->path) + 1);
	if (lstat(m->path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode))
			return -EEXIST; /* never remove something that is not a socket */
		unlink(m->path);	/* a stale socket from an earlier run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	m->listen_fd = fd;
	return 0;
}

int vmux_open(struct vsock_mux *m, struct ev_loop *loop, void (*rx_ready)(void *), void *opaque)
{
	int err = vmux_listen(m);

	if (err)
		return err;
	m->loop = loop;
	m->rx_ready = rx_ready;
	m->opaque = opaque;
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->timer_fd < 0)
		err = -errno;
	if (!err)
		err = ev_add(loop, m->listen_fd, EPOLLIN, vmux_listen_cb, m);
	if (!err && (err = ev_add(loop, m->timer_fd, EPOLLIN, vmux_timer_cb, m)) != 0)
		ev_del(loop, m->listen_fd);
	if (err)
		vmux_close(m);
	return err;
}

void vmux_reset(struct vsock_mux *m)
{
	for (int i = 0; i < VMUX_MAX_CONNS; i++)
		if (m->conns[i].state != VCONN_FREE)
			vmux_free(m, &m->conns[i]);
	m->rst_len = 0;
	m->rxq_len = 0;
	vmux_arm_timer(m, false);
}

void vmux_close(struct vsock_mux *m)
{
	vmux_reset(m);
	if (m->loop && m->listen_fd >= 0)
		ev_del(m->loop, m->listen_fd);
	if (m->loop && m->timer_fd >= 0)
		ev_del(m->loop, m->timer_fd);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		unlink(m->path);
	}
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->listen_fd = -1;
	m->timer_fd = -1;
	m->loop = NULL;
}
