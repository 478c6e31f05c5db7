/* Threaded tests of api/server: a real Unix socket, the API thread, and a
 * test "VMM" thread serving the channel, driven by real socket clients. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/server.h"

struct fixture {
	struct api_server srv;
	char path[108];
	char dir[64];
	pthread_t vmm;
	int vmm_stop;
	atomic_int vm_state;
	atomic_int served;
	atomic_int refused;	  /* ops->refused calls */
	atomic_int refused_fails; /* ... with refusal.fails */
	atomic_int refused_route; /* the last one's route */
};

/* --- the fake VMM side --- */

static enum route_vm_state fake_state(void *ctx)
{
	struct fixture *f = ctx;

	return (enum route_vm_state)atomic_load(&f->vm_state);
}

/* Echo what arrived: {"route":N,"id":"...","len":N}. */
static void fake_handle(void *ctx, const struct api_request *req, struct api_response *resp)
{
	struct fixture *f = ctx;
	char buf[256];
	int n;

	atomic_fetch_add(&f->served, 1);
	if (req->route == ROUTE_PUT_BOOT_SOURCE) {
		resp->status = 204;
		return;
	}
	n = snprintf(buf, sizeof(buf), "{\"route\":%d,\"id\":\"%s\",\"len\":%zu}", (int)req->route,
		     req->id, req->body_len);
	resp->body = strdup(buf);
	resp->body_len = resp->body ? (size_t)n : 0;
	resp->status = 200;
}

/* Runs on the VMM thread, as fake_handle; the counters are atomics only
 * because the test thread reads them. */
static void fake_refused(void *ctx, const struct api_request *req, const struct api_response *resp)
{
	struct fixture *f = ctx;

	/* No cmocka asserts off the test thread: a wrong answer shows as a
	 * count that stays put. */
	if (resp->status != req->refusal.status || resp->status != 400)
		return;
	atomic_fetch_add(&f->refused, 1);
	atomic_fetch_add(&f->refused_fails, req->refusal.fails);
	atomic_store(&f->refused_route, (int)req->route);
}

static const struct api_ops fake_ops = {
    .vm_state = fake_state, .handle = fake_handle, .refused = fake_refused};

static void *vmm_thread(void *arg)
{
	struct fixture *f = arg;
	struct pollfd pfd[2] = {{.fd = api_server_fd(&f->srv), .events = POLLIN},
				{.fd = f->vmm_stop, .events = POLLIN}};

	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents)
			return NULL;
		if (pfd[0].revents)
			api_server_serve(&f->srv);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/flint-api-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	assert_int_equal(api_server_start(&f->srv, f->path, 0, &fake_ops, f), 0);
	f->vmm_stop = eventfd(0, EFD_CLOEXEC);
	assert_true(f->vmm_stop >= 0);
	assert_int_equal(pthread_create(&f->vmm, NULL, vmm_thread, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uint64_t one = 1;

	assert_int_equal(write(f->vmm_stop, &one, sizeof(one)), sizeof(one));
	pthread_join(f->vmm, NULL);
	close(f->vmm_stop);
	api_server_stop(&f->srv);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* --- a small client --- */

/* No cmocka asserts in helpers used by worker threads: a failed assert
 * longjmps, which must happen on the test's own thread. */
static int client_try_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int client_connect(const char *path)
{
	int fd = client_try_connect(path);

	assert_true(fd >= 0);
	return fd;
}

static bool client_try_send(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

		if (k <= 0)
			return false;
		s += k;
		n -= (size_t)k;
	}
	return true;
}

static void client_send(int fd, const char *s, size_t n)
{
	assert_true(client_try_send(fd, s, n));
}

static void client_sends(int fd, const char *s)
{
	client_send(fd, s, strlen(s));
}

struct client_resp {
	int status;
	bool close;
	char body[1024];
	size_t body_len;
};

/* Per-connection read buffer, since responses may arrive together. */
struct client_buf {
	char data[16384];
	size_t len;
};

static bool client_fill(int fd, struct client_buf *b)
{
	ssize_t n = recv(fd, b->data + b->len, sizeof(b->data) - b->len - 1, 0);

	if (n <= 0)
		return false;
	b->len += (size_t)n;
	b->data[b->len] = '\0';
	return true;
}

/* Read one response; false on EOF before a whole response. */
static bool client_read(int fd, struct client_buf *b, struct client_resp *r)
{
	char *end, *cl;
	size_t head, blen = 0;

	b->data[b->len] = '\0';
	while (!(end = strstr(b->data, "\r\n\r\n"))) {
		if (!client_fill(fd, b))
			return false;
	}
	head = (size_t)(end - b->data) + 4;
	*end = '\0';
	if (sscanf(b->data, "HTTP/1.1 %d ", &r->status) != 1 ||
	    !strstr(b->data, "\r\nServer: Firecracker API\r\n"))
		return false;
	r->close = strstr(b->data, "Connection: close") != NULL;
	cl = strstr(b->data, "Content-Length: ");
	if (cl)
		blen = strtoul(cl + 16, NULL, 10);
	*end = '\r';
	if (blen >= sizeof(r->body))
		return false;
	while (b->len < head + blen) {
		if (!client_fill(fd, b))
			return false;
	}
	memcpy(r->body, b->data + head, blen);
	r->body[blen] = '\0';
	r->body_len = blen;
	memmove(b->data, b->data + head + blen, b->len - head - blen);
	b->len -= head + blen;
	return true;
}

static bool client_at_eof(int fd)
{
	char c;

	return recv(fd, &c, 1, 0) == 0;
}

/* One request on a fresh connection. */
static struct client_resp one_shot(struct fixture *f, const char *req)
{
	struct client_buf b = {0};
	struct client_resp r = {0};
	int fd = client_connect(f->path);

	client_sends(fd, req);
	assert_true(client_read(fd, &b, &r));
	close(fd);
	return r;
}

/* --- tests --- */

static void test_simple_get(void **state)
{
	struct fixture *f = *state;
	struct client_resp r = one_shot(f, "GET /version HTTP/1.1\r\n\r\n");

	assert_int_equal(r.status, 200);
	assert_false(r.close);
	assert_string_equal(r.body, "{\"route\":34,\"id\":\"\",\"len\":0}");
	r = one_shot(f, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
	r = one_shot(f, "PUT /boot-source HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body_len, 0);
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	struct client_resp r = one_shot(f, "PUT /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");

	assert_int_equal(r.status, 400);
	assert_string_equal(r.body,
			    "{\"fault_message\":\"Invalid request method and/or path: PUT vm.\"}");
	r = one_shot(f, "PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "not supported before starting the microVM."));
	atomic_store(&f->vm_state, ROUTE_VM_RUNNING);
	r = one_shot(f, "PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 200);
	r = one_shot(f, "PUT /drives/a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "not supported after starting the microVM."));
	r = one_shot(f, "GET /version HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_string_equal(r.body, "{\"fault_message\":\"GET request cannot have a body.\"}");
	r = one_shot(f, "PUT /drives/a-b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 400);
}

/* Refusals Firecracker's parser makes after picking the route (a bad id)
 * and the VM-state refusals reach the VMM thread, which counts them (it
 * alone owns the metrics); refusals before any route do not. */
static void test_refusals_reach_the_vmm_thread(void **state)
{
	struct fixture *f = *state;
	struct client_resp r;
	int served = atomic_load(&f->served);

	r = one_shot(f, "PUT /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 400);
	r = one_shot(f, "GET /version HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 400);
	r = one_shot(f, "PUT /drives/a HTTP/1.1\r\n\r\n");
	assert_string_equal(r.body, "{\"fault_message\":\"Empty PUT request.\"}");
	assert_int_equal(atomic_load(&f->refused), 0);
	r = one_shot(f, "PUT /drives/a-b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_non_null(strstr(r.body, "alphanumeric"));
	assert_int_equal(atomic_load(&f->refused), 1);
	assert_int_equal(atomic_load(&f->refused_fails), 0);
	assert_int_equal(atomic_load(&f->refused_route), ROUTE_PUT_DRIVE);
	r = one_shot(f, "PATCH /network-interfaces/ HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_string_equal(r.body, "{\"fault_message\":\"The ID cannot be empty.\"}");
	assert_int_equal(atomic_load(&f->refused), 2);
	assert_int_equal(atomic_load(&f->refused_fails), 1);
	assert_int_equal(atomic_load(&f->refused_route), ROUTE_PATCH_NET);
	r = one_shot(f, "PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	assert_non_null(strstr(r.body, "not supported before starting the microVM."));
	assert_int_equal(atomic_load(&f->refused), 3);
	assert_int_equal(atomic_load(&f->refused_fails), 1);
	assert_int_equal(atomic_load(&f->refused_route), ROUTE_PATCH_VM);
	/* None of them reached a handler. */
	assert_int_equal(atomic_load(&f->served), served);
}

static void test_thousand_on_one_connection(void **state)
{
	struct fixture *f = *state;
	struct client_buf b = {0};
	struct client_resp r;
	int fd = client_connect(f->path), i;
	char req[128], want[128];

	for (i = 0; i < 1000; i++) {
		snprintf(req, sizeof(req),
			 "PUT /drives/d%d HTTP/1.1\r\nContent-Length: 3\r\n\r\n{ }", i);
		client_sends(fd, req);
		assert_true(client_read(fd, &b, &r));
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof(want), "{\"route\":%d,\"id\":\"d%d\",\"len\":3}",
			 ROUTE_PUT_DRIVE, i);
		assert_string_equal(r.body, want);
	}
	close(fd);
	assert_int_equal(atomic_load(&f->served), 1000);
}

/* Many requests in one write: answered in order. */
static void test_pipelined_burst(void **state)
{
	struct fixture *f = *state;
	struct client_buf b = {0};
	struct client_resp r;
	int fd = client_connect(f->path), i;
	char *burst = malloc(200 * 64), want[128];
	size_t n = 0;

	assert_non_null(burst);
	for (i = 0; i < 200; i++)
		n += (size_t)sprintf(burst + n, "GET /drives/p%d HTTP/1.1\r\n\r\n", i);
	/* GET /drives/{id} is not a route: each is refused, in order. Then
	 * real ones. */
	client_send(fd, burst, n);
	for (i = 0; i < 200; i++) {
		assert_true(client_read(fd, &b, &r));
		assert_int_equal(r.status, 400);
	}
	n = 0;
	for (i = 0; i < 200; i++)
		n += (size_t)sprintf(burst + n,
				     "PATCH /drives/p%d HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", i);
	atomic_store(&f->vm_state, ROUTE_VM_RUNNING);
	client_send(fd, burst, n);
	for (i = 0; i < 200; i++) {
		assert_true(client_read(fd, &b, &r));
		snprintf(want, sizeof(want), "{\"route\":%d,\"id\":\"p%d\",\"len\":1}",
			 ROUTE_PATCH_DRIVE, i);
		assert_string_equal(r.body, want);
	}
	free(burst);
	close(fd);
}

struct worker {
	struct fixture *f;
	int idx;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct client_buf *b = calloc(1, sizeof(*b));
	struct client_resp r;
	int fd = client_try_connect(w->f->path), i;
	char req[128], want[128];

	for (i = 0; i < 20 && b && fd >= 0; i++) {
		snprintf(req, sizeof(req),
			 "PUT /network-interfaces/c%d_%d HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
			 w->idx, i);
		if (!client_try_send(fd, req, strlen(req)) || !client_read(fd, b, &r))
			break;
		snprintf(want, sizeof(want), "{\"route\":%d,\"id\":\"c%d_%d\",\"len\":2}",
			 ROUTE_PUT_NET, w->idx, i);
		if (r.status == 200 && strcmp(r.body, want) == 0)
			w->ok++;
	}
	free(b);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_fifty_concurrent_clients(void **state)
{
	struct fixture *f = *state;
	struct worker w[50];
	pthread_t t[50];
	int i;

	for (i = 0; i < 50; i++) {
		w[i] = (struct worker){.f = f, .idx = i};
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < 50; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 20);
	}
	assert_int_equal(atomic_load(&f->served), 1000);
}

static void test_vanishing_and_garbage_clients(void **state)
{
	struct fixture *f = *state;
	struct client_buf b = {0};
	struct client_resp r;
	int fd, slow, i;

	/* A slow client holding half a request open must not block others. */
	slow = client_connect(f->path);
	client_sends(slow, "PUT /boot-source HTTP/1.1\r\nContent-Le");
	/* Mid-head, mid-body, and right after a full request. */
	for (i = 0; i < 20; i++) {
		fd = client_connect(f->path);
		if (i % 3 == 0)
			client_sends(fd, "GET /vers");
		else if (i % 3 == 1)
			client_sends(fd, "PUT /mmds HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\"");
		else
			client_sends(fd, "PUT /mmds HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
		close(fd);
	}
	/* Garbage: 400, then the connection is closed. */
	fd = client_connect(f->path);
	client_send(fd, "\x00\x01\x02garbage\xff\r\n\r\n", 15);
	assert_true(client_read(fd, &b, &r));
	assert_int_equal(r.status, 400);
	assert_true(r.close);
	assert_true(client_at_eof(fd));
	close(fd);
	/* Still serving, the slow client included. */
	r = one_shot(f, "GET /version HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
	client_sends(slow, "ngth: 2\r\n\r\n{}");
	b.len = 0;
	assert_true(client_read(slow, &b, &r));
	assert_int_equal(r.status, 204);
	close(slow);
}

/* A client that pipelines without ever reading fills its socket buffers;
 * the server stops reading it instead of buffering without bound, and keeps
 * serving others. */
static void test_client_that_never_reads(void **state)
{
	static const char req[] = "GET /nope HTTP/1.1\r\n\r\n";
	struct fixture *f = *state;
	struct client_resp r;
	char chunk[100 * (sizeof(req) - 1)];
	int hog = client_connect(f->path), i, stalls = 0;
	size_t sent = 0;

	for (i = 0; i < 100; i++)
		memcpy(chunk + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	/* Send until the server has stopped reading for a while. */
	for (i = 0; i < 100000 && stalls < 50; i++) {
		ssize_t n = send(hog, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			stalls = 0;
		} else {
			stalls++;
			usleep(2000);
		}
	}
	assert_int_equal(stalls, 50);
	assert_true(sent > 100000);
	r = one_shot(f, "GET /version HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
	close(hog);
	r = one_shot(f, "GET /version HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
}

static void test_connection_close_and_limits(void **state)
{
	struct fixture *f = *state;
	struct client_buf b = {0};
	struct client_resp r;
	int fd = client_connect(f->path);
	char req[128];

	client_sends(fd, "GET /version HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(client_read(fd, &b, &r));
	assert_int_equal(r.status, 200);
	assert_true(r.close);
	assert_true(client_at_eof(fd));
	close(fd);

	fd = client_connect(f->path);
	snprintf(req, sizeof(req), "PUT /mmds HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
		 HTTP_MAX_PAYLOAD_DEFAULT + 1);
	client_sends(fd, req);
	b.len = 0;
	assert_true(client_read(fd, &b, &r));
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "is larger than the limit of 51200"));
	close(fd);

	/* Expect: 100-continue gets 100 first. */
	fd = client_connect(f->path);
	client_sends(fd, "PUT /mmds HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
	memset(&b, 0, sizeof(b));
	while (!strstr(b.data, "\r\n\r\n"))
		assert_true(client_fill(fd, &b));
	assert_memory_equal(b.data, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	memmove(b.data, b.data + 25, b.len - 25);
	b.len -= 25;
	b.data[b.len] = '\0';
	client_sends(fd, "{}");
	assert_true(client_read(fd, &b, &r));
	assert_int_equal(r.status, 200);
	close(fd);
}

static void test_too_many_connections(void **state)
{
	struct fixture *f = *state;
	int fds[API_MAX_CONNS], i, extra;
	struct client_buf b = {0};
	struct client_resp r;

	for (i = 0; i < API_MAX_CONNS; i++)
		fds[i] = client_connect(f->path);
	/* Make sure all of them are accepted before the extra one. */
	for (i = 0; i < API_MAX_CONNS; i++) {
		client_sends(fds[i], "GET / HTTP/1.1\r\n\r\n");
		b.len = 0;
		assert_true(client_read(fds[i], &b, &r));
	}
	extra = client_connect(f->path);
	b.len = 0;
	assert_true(client_read(extra, &b, &r));
	assert_int_equal(r.status, 503);
	close(extra);
	for (i = 0; i < API_MAX_CONNS; i++)
		close(fds[i]);
	/* Slots come back once the server has seen the hang-ups. */
	for (i = 0; i < 100; i++) {
		r = one_shot(f, "GET /version HTTP/1.1\r\n\r\n");
		if (r.status != 503)
			break;
		usleep(10000);
	}
	assert_int_equal(r.status, 200);
}

static void test_socket_file_rules(void **state)
{
	struct api_server s2;
	char other[128];
	int fd;

	struct fixture *f = *state;

	/* A live socket is not taken over. */
	assert_int_equal(api_server_start(&s2, f->path, 0, &fake_ops, f), -EADDRINUSE);
	/* A plain file is not deleted. */
	snprintf(other, sizeof(other), "%s/file", f->dir);
	fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(api_server_start(&s2, other, 0, &fake_ops, f), -EEXIST);
	unlink(other);
	/* Too long. */
	memset(other, 'a', sizeof(other) - 1);
	other[sizeof(other) - 1] = '\0';
	assert_int_equal(api_server_start(&s2, other, 0, &fake_ops, f), -ENAMETOOLONG);
}

static void test_stale_socket_replaced(void **state)
{
	struct api_server s2;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[128];
	struct stat st;
	int fd;

	struct fixture *f = *state;

	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* bound, never listening: stale */
	assert_int_equal(api_server_start(&s2, path, 0, &fake_ops, f), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	api_server_stop(&s2);
	assert_int_equal(stat(path, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_simple_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals_reach_the_vmm_thread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thousand_on_one_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_burst, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifty_concurrent_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vanishing_and_garbage_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_that_never_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_close_and_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_file_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
