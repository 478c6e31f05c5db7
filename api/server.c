/* The API thread and its channel to the VMM thread; see server.h. */
#include "api/server.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/seccomp.h"

/* epoll tags besides connection indexes. */
#define API_TAG_LISTEN UINT64_MAX
#define API_TAG_STOP   (UINT64_MAX - 1)
#define API_TAG_DONE   (UINT64_MAX - 2)

/* A client that does not read its answers stops being read from once this
 * much output is queued, so it cannot make the server buffer without bound. */
#define API_OUT_HIGH	 (64u << 10)
#define API_ACCEPT_BATCH 16

struct api_conn {
	int fd; /* -1: free slot */
	uint64_t gen;
	struct http_parser parser;
	struct http_out out;
	bool busy;	  /* a request is with the VMM thread */
	bool close_after; /* close once the output is flushed */
	bool eof;	  /* the peer sends nothing more */
	bool dead;	  /* the socket failed: close now */
	uint32_t events;  /* registered epoll mask */
};

static void api_efd_signal(int fd)
{
	uint64_t one = 1;

	/* Fails only if the counter would overflow, and then it is set anyway. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void api_efd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: nothing to drain */
}

int api_channel_init(struct api_channel *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->todo_tail = &ch->todo;
	ch->done_tail = &ch->done;
	ch->req_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ch->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ch->req_efd < 0 || ch->done_efd < 0 || pthread_mutex_init(&ch->lock, NULL) != 0) {
		int err = errno ? -errno : -ENOMEM;

		if (ch->req_efd >= 0)
			close(ch->req_efd);
		if (ch->done_efd >= 0)
			close(ch->done_efd);
		ch->req_efd = ch->done_efd = -1;
		return err;
	}
	return 0;
}

static void api_request_free_list(struct api_request *r)
{
	while (r) {
		struct api_request *next = r->next;

		free(r->resp_body);
		free(r);
		r = next;
	}
}

void api_channel_destroy(struct api_channel *ch)
{
	if (ch->req_efd < 0)
		return;
	api_request_free_list(ch->todo);
	api_request_free_list(ch->done);
	close(ch->req_efd);
	close(ch->done_efd);
	pthread_mutex_destroy(&ch->lock);
	ch->req_efd = ch->done_efd = -1;
	ch->todo = ch->done = NULL;
}

int api_channel_submit(struct api_channel *ch, struct api_request *r)
{
	r->next = NULL;
	pthread_mutex_lock(&ch->lock);
	*ch->todo_tail = r;
	ch->todo_tail = &r->next;
	pthread_mutex_unlock(&ch->lock);
	api_efd_signal(ch->req_efd);
	return 0;
}

static struct api_request *api_channel_pop(struct api_channel *ch)
{
	struct api_request *r;

	pthread_mutex_lock(&ch->lock);
	r = ch->todo;
	if (r) {
		ch->todo = r->next;
		if (!ch->todo)
			ch->todo_tail = &ch->todo;
		r->next = NULL;
	}
	pthread_mutex_unlock(&ch->lock);
	return r;
}

static void api_fault_response(struct api_response *resp, int status, const char *msg)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->status = status;
	if (http_fault_json(msg, &resp->body, &resp->body_len) < 0)
		resp->status = 500;
}

/* VMM thread: the state check, then the handler. */
static void api_run(const struct api_ops *ops, void *ctx, struct api_request *r)
{
	struct api_response resp = {0};
	struct route_error err;

	if (!r->refusal.status && ops->vm_state &&
	    routes_check_state(r->route, ops->vm_state(ctx), &err) < 0)
		r->refusal = err;
	if (r->refusal.status) {
		api_fault_response(&resp, r->refusal.status, r->refusal.msg);
		if (ops->refused)
			ops->refused(ctx, r, &resp);
	} else if (ops->handle) {
		ops->handle(ctx, r, &resp);
	}
	if (resp.status < 100 || resp.status > 599)
		api_fault_response(&resp, 500, "Internal error: the request was not answered.");
	r->status = resp.status;
	r->resp_body = resp.body;
	r->resp_len = resp.body ? resp.body_len : 0;
}

int api_channel_serve(struct api_channel *ch, const struct api_ops *ops, void *ctx)
{
	struct api_request *r;
	int n = 0;

	/* Drain first: a request queued after the last pop re-arms the fd. */
	api_efd_drain(ch->req_efd);
	while ((r = api_channel_pop(ch)) != NULL) {
		api_run(ops, ctx, r);
		pthread_mutex_lock(&ch->lock);
		*ch->done_tail = r;
		ch->done_tail = &r->next;
		pthread_mutex_unlock(&ch->lock);
		n++;
	}
	if (n)
		api_efd_signal(ch->done_efd);
	return n;
}

struct api_request *api_channel_take_done(struct api_channel *ch)
{
	struct api_request *r;

	pthread_mutex_lock(&ch->lock);
	r = ch->done;
	ch->done = NULL;
	ch->done_tail = &ch->done;
	pthread_mutex_unlock(&ch->lock);
	return r;
}

static size_t api_out_pending(const struct api_conn *c)
{
	return c->out.len - c->out.sent;
}

static void api_conn_close(struct api_server *s, struct api_conn *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	http_parser_destroy(&c->parser);
	http_out_destroy(&c->out);
	/* A slot is free again: accept again if fds had run out. */
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd,
		  &(struct epoll_event){.events = EPOLLIN, .data.u64 = API_TAG_LISTEN});
}

static void api_conn_flush(struct api_conn *c)
{
	while (api_out_pending(c) > 0) {
		ssize_t n = send(c->fd, c->out.data + c->out.sent, api_out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out.sent += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				c->dead = true;
			break;
		}
	}
	if (c->out.sent == c->out.len)
		c->out.sent = c->out.len = 0;
	else
		http_out_compact(&c->out);
}

static void api_conn_read(struct api_conn *c)
{
	char *dst;
	size_t room = http_parser_room(&c->parser, &dst);
	ssize_t n;

	if (room == 0)
		return;
	n = recv(c->fd, dst, room, MSG_DONTWAIT);
	if (n > 0)
		http_parser_commit(&c->parser, (size_t)n);
	else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		c->dead = true;
}

static void api_conn_fault(struct api_server *s, struct api_conn *c, int status, const char *msg)
{
	s->n_refused++;
	if (http_response_fault(&c->out, status, msg, c->close_after) < 0)
		c->dead = true;
}

/* Resolve a complete request: answer it here if it is refused before any
 * route is picked, else queue it for the VMM thread with a copy of its
 * body (a bad {id} goes too, refused, to be counted there). */
static void api_conn_dispatch(struct api_server *s, struct api_conn *c,
			      const struct http_request *req)
{
	struct route_match m;
	struct route_error err = {0};
	struct api_request *r;

	s->n_requests++;
	if (!req->keep_alive)
		c->close_after = true;
	if (routes_resolve(req->method, req->path, req->body_len, &m, &err) < 0 &&
	    err.route >= ROUTE_COUNT) {
		api_conn_fault(s, c, err.status, err.msg);
		return;
	}
	r = calloc(1, sizeof(*r) + req->body_len + 1);
	if (!r) {
		api_conn_fault(s, c, 500, "Internal error: out of memory.");
		return;
	}
	r->route = m.route->id;
	r->refusal = err;
	memcpy(r->id, m.id, sizeof(r->id));
	if (req->body_len)
		memcpy(r + 1, req->body, req->body_len);
	r->body = (const char *)(r + 1);
	r->body_len = req->body_len;
	r->conn = (uint32_t)(c - s->conns);
	r->gen = c->gen;
	c->busy = true;
	api_channel_submit(&s->ch, r);
}

static void api_conn_parse(struct api_server *s, struct api_conn *c)
{
	while (!c->busy && !c->close_after && !c->dead && api_out_pending(c) < API_OUT_HIGH) {
		struct http_request req;
		enum http_parse_result res = http_parse(&c->parser, &req);

		if (res == HTTP_PARSE_INCOMPLETE)
			break;
		if (res == HTTP_PARSE_CONTINUE) {
			if (http_response_continue(&c->out) < 0)
				c->dead = true;
			continue;
		}
		if (res == HTTP_PARSE_ERROR) {
			const struct http_error *e = http_parser_error(&c->parser);

			/* The stream is out of step: answer, then close. */
			c->close_after = true;
			api_conn_fault(s, c, e->status, e->msg);
			break;
		}
		api_conn_dispatch(s, c, &req);
		http_parser_consume(&c->parser);
	}
}

/* Parse what can be parsed, write what can be written, then close the
 * connection or set what it waits for. */
static void api_conn_progress(struct api_server *s, struct api_conn *c)
{
	uint32_t want = 0;
	char *dst;

	api_conn_parse(s, c);
	api_conn_flush(c);
	if (c->dead || (!c->busy && api_out_pending(c) == 0 && (c->close_after || c->eof))) {
		api_conn_close(s, c);
		return;
	}
	if (!c->busy && !c->close_after && !c->eof && api_out_pending(c) < API_OUT_HIGH &&
	    http_parser_room(&c->parser, &dst) > 0)
		want |= EPOLLIN;
	if (api_out_pending(c) > 0)
		want |= EPOLLOUT;
	if (want != c->events) {
		struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)(c - s->conns)};

		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			api_conn_close(s, c);
			return;
		}
		c->events = want;
	}
}

static void api_conn_event(struct api_server *s, uint64_t idx, uint32_t ev)
{
	struct api_conn *c;

	if (idx >= API_MAX_CONNS || s->conns[idx].fd < 0)
		return;
	c = &s->conns[idx];
	if (ev & EPOLLERR) {
		api_conn_close(s, c);
		return;
	}
	if (ev & EPOLLIN)
		api_conn_read(c);
	else if (ev & EPOLLHUP)
		c->dead = true; /* gone, nothing left to read: drop what is pending */
	api_conn_progress(s, c);
}

/* Firecracker answers a client over the connection limit with 503. */
static void api_refuse_full(struct api_server *s, int fd)
{
	struct http_out o;

	http_out_init(&o);
	if (http_response_fault(&o, 503, "Too many open connections", true) == 0 &&
	    send(fd, o.data, o.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		s->n_dropped++;
	http_out_destroy(&o);
	s->n_refused++;
	close(fd);
}

static int api_conn_open(struct api_server *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	size_t i;

	for (i = 0; i < API_MAX_CONNS && s->conns[i].fd >= 0; i++)
		;
	if (i == API_MAX_CONNS) {
		api_refuse_full(s, fd);
		return 0;
	}
	memset(&s->conns[i], 0, sizeof(s->conns[i]));
	if (http_parser_init(&s->conns[i].parser, s->max_payload) < 0)
		return -ENOMEM;
	http_out_init(&s->conns[i].out);
	ev.data.u64 = i;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		http_parser_destroy(&s->conns[i].parser);
		return -errno;
	}
	s->conns[i].fd = fd;
	s->conns[i].gen = ++s->next_gen;
	s->conns[i].events = EPOLLIN;
	return 0;
}

static void api_accept(struct api_server *s)
{
	int k;

	for (k = 0; k < API_ACCEPT_BATCH; k++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			/* Out of fds: stop polling the listener (it would stay
			 * readable) until a connection closes. */
			if (errno == EMFILE || errno == ENFILE)
				epoll_ctl(
				    s->epfd, EPOLL_CTL_MOD, s->listen_fd,
				    &(struct epoll_event){.events = 0, .data.u64 = API_TAG_LISTEN});
			return;
		}
		if (api_conn_open(s, fd) < 0)
			close(fd);
	}
}

/* Answers from the VMM thread: write each to its connection if that is
 * still the one that asked. */
static void api_on_done(struct api_server *s)
{
	struct api_request *r, *next;

	api_efd_drain(s->ch.done_efd);
	for (r = api_channel_take_done(&s->ch); r; r = next) {
		struct api_conn *c = r->conn < API_MAX_CONNS ? &s->conns[r->conn] : NULL;

		next = r->next;
		if (c && c->fd >= 0 && c->gen == r->gen && c->busy) {
			c->busy = false;
			if (http_response_write(&c->out, r->status, r->resp_body, r->resp_len,
						c->close_after) < 0)
				c->dead = true;
			api_conn_progress(s, c);
		} else {
			s->n_dropped++;
		}
		free(r->resp_body);
		free(r);
	}
}

static void *api_thread(void *arg)
{
	struct api_server *s = arg;
	struct epoll_event evs[32];

	/* Named here too, so the first log line (or SIGSYS report) has it. */
	log_set_thread_name("fc_api");
	seccomp_install_or_exit(s->seccomp, SECCOMP_THREAD_API);
	for (;;) {
		int i, n = epoll_wait(s->epfd, evs, 32, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == API_TAG_STOP)
				return NULL;
			if (tag == API_TAG_LISTEN)
				api_accept(s);
			else if (tag == API_TAG_DONE)
				api_on_done(s);
			else
				api_conn_event(s, tag, evs[i].events);
		}
	}
	return NULL;
}

/* Bind the listening socket; a stale socket file is replaced, a live one
 * (something accepts on it) or any other file is left alone. */
static int api_socket_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path) || path[0] == '\0')
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ret = -EEXIST;
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
			ret = -EADDRINUSE;
			goto fail;
		}
		close(fd);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	/* Only the owner may talk to the VMM; set before listen(), so no
	 * client can connect in between. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 128) < 0) {
		ret = -errno;
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}

static int api_epoll_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int api_server_setup(struct api_server *s, const char *sock_path)
{
	int ret, i;

	s->conns = calloc(API_MAX_CONNS, sizeof(*s->conns));
	if (!s->conns)
		return -ENOMEM;
	for (i = 0; i < API_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	ret = api_channel_init(&s->ch);
	if (ret < 0)
		return ret;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->stop_efd < 0)
		return -errno;
	s->listen_fd = api_socket_open(sock_path);
	if (s->listen_fd < 0)
		return s->listen_fd;
	snprintf(s->sock_path, sizeof(s->sock_path), "%s", sock_path);
	ret = api_epoll_add(s->epfd, s->listen_fd, API_TAG_LISTEN);
	if (!ret)
		ret = api_epoll_add(s->epfd, s->stop_efd, API_TAG_STOP);
	if (!ret)
		ret = api_epoll_add(s->epfd, s->ch.done_efd, API_TAG_DONE);
	return ret;
}

int api_server_start(struct api_server *s, const char *sock_path, size_t max_payload,
		     const struct api_ops *ops, void *ops_ctx)
{
	return api_server_start_filtered(s, sock_path, max_payload, ops, ops_ctx, NULL);
}

int api_server_start_filtered(struct api_server *s, const char *sock_path, size_t max_payload,
			      const struct api_ops *ops, void *ops_ctx,
			      const struct seccomp_policy *sp)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->seccomp = sp;
	s->listen_fd = s->epfd = s->stop_efd = -1;
	s->ch.req_efd = s->ch.done_efd = -1;
	if (!ops || !sock_path || max_payload > HTTP_MAX_PAYLOAD_LIMIT)
		return -EINVAL;
	s->max_payload = max_payload ? max_payload : HTTP_MAX_PAYLOAD_DEFAULT;
	s->ops = ops;
	s->ops_ctx = ops_ctx;
	ret = api_server_setup(s, sock_path);
	if (!ret)
		ret = -pthread_create(&s->thread, NULL, api_thread, s);
	if (ret < 0) {
		api_server_stop(s);
		return ret;
	}
	s->running = true;
	pthread_setname_np(s->thread, "fc_api");
	return 0;
}

void api_server_stop(struct api_server *s)
{
	int i;

	if (s->running) {
		api_efd_signal(s->stop_efd);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	for (i = 0; s->conns && i < API_MAX_CONNS; i++) {
		if (s->conns[i].fd >= 0)
			api_conn_close(s, &s->conns[i]);
	}
	free(s->conns);
	s->conns = NULL;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->sock_path[0])
		unlink(s->sock_path);
	if (s->stop_efd >= 0)
		close(s->stop_efd);
	if (s->epfd >= 0)
		close(s->epfd);
	s->listen_fd = s->stop_efd = s->epfd = -1;
	s->sock_path[0] = '\0';
	api_channel_destroy(&s->ch);
}

int api_server_fd(const struct api_server *s)
{
	return s->ch.req_efd;
}

int api_server_serve(struct api_server *s)
{
	return api_channel_serve(&s->ch, s->ops, s->ops_ctx);
}
