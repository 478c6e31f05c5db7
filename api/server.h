/* The API server: Firecracker's HTTP API on a Unix socket, served by its own
 * thread ("fc_api"), which never touches VM state. Requests go to the VMM
 * thread through an api_channel (a locked queue plus two eventfds), and the
 * answers come back the same way.
 *
 * Threads:
 * - api_server_start() / api_server_stop(): the thread that owns the VMM
 *   (main, or the VMM thread itself), never concurrently with
 *   api_server_serve();
 * - the API thread: accepts clients, parses HTTP (api/http), resolves routes
 *   (api/routes), answers malformed requests itself, queues the rest (also
 *   those refused for a bad {id}, so that the VMM thread, which alone owns
 *   the metrics, counts them as Firecracker does); one
 *   request per connection is in flight at a time, so pipelined requests are
 *   answered in order, and other clients keep being served meanwhile;
 * - the VMM thread: watches api_server_fd() in its event loop and calls
 *   api_server_serve() when it is readable; the ops run there. */
#ifndef FLINT_API_SERVER_H
#define FLINT_API_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "api/routes.h"

#define API_MAX_CONNS 64 /* more clients at once are answered 503 and closed */

/* One request, as handed to the VMM thread. */
struct api_request {
	enum route_id route;
	char id[ROUTE_ID_MAX + 1]; /* {drive_id}, {iface_id}, {id}; "" if none */
	const char *body;	   /* NUL-terminated copy, body_len bytes; "" if none */
	size_t body_len;
	/* status != 0: refused before any handler, for its {id} (by the API
	 * thread) or the VM state (by the VMM thread); what ops->refused sees */
	struct route_error refusal;
	/* private to the server */
	uint32_t conn;
	uint64_t gen;
	int status;
	char *resp_body;
	size_t resp_len;
	struct api_request *next;
};

/* What the handler fills in. */
struct api_response {
	int status; /* 200, 204, 400...; 0 is answered as 500 */
	char *body; /* malloc'd JSON (freed by the server) or NULL */
	size_t body_len;
	/* Refused for what the request itself says (a body that does not
	 * parse, ids that disagree), as Firecracker's request parser refuses:
	 * the requests its *_fails metrics count. */
	bool bad_request;
};

struct api_ops {
	/* VMM thread: the VM's state now, for the pre/post-boot rules. NULL:
	 * no state check (the handler does it). */
	enum route_vm_state (*vm_state)(void *ctx);
	/* VMM thread: run one request that passed the state check. Use
	 * http_fault_json() for error bodies. */
	void (*handle)(void *ctx, const struct api_request *req, struct api_response *resp);
	/* VMM thread, optional: a request of a known route was refused before
	 * its handler (req->refusal says why; resp is the answer). For
	 * accounting: Firecracker counts these in the route's metrics. */
	void (*refused)(void *ctx, const struct api_request *req, const struct api_response *resp);
};

/* Request queue between the API thread and the VMM thread. */
struct api_channel {
	pthread_mutex_t lock;
	int req_efd;  /* readable when requests wait: the VMM thread polls it */
	int done_efd; /* readable when answers wait: the API thread polls it */
	struct api_request *todo, **todo_tail;
	struct api_request *done, **done_tail;
};

int api_channel_init(struct api_channel *ch);
/* Frees requests still queued. No thread may use ch any more. */
void api_channel_destroy(struct api_channel *ch);
/* API thread: queue r (ownership passes to the channel). 0 or -errno. */
int api_channel_submit(struct api_channel *ch, struct api_request *r);
/* VMM thread: run ops on every queued request and hand the answers back.
 * Returns how many were served. */
int api_channel_serve(struct api_channel *ch, const struct api_ops *ops, void *ctx);
/* API thread: the answered requests, oldest first (the caller frees them). */
struct api_request *api_channel_take_done(struct api_channel *ch);

struct api_conn;

struct api_server {
	int listen_fd;
	int epfd;
	int stop_efd;
	pthread_t thread;
	bool running;
	char sock_path[108];
	size_t max_payload;
	const struct api_ops *ops;
	void *ops_ctx;
	struct api_channel ch;
	struct api_conn *conns;		      /* API_MAX_CONNS slots, API thread only */
	const struct seccomp_policy *seccomp; /* the API thread's filter; NULL: none */
	uint64_t next_gen;
	/* Counters, written by the API thread; read them after api_server_stop(). */
	uint64_t n_requests;
	uint64_t n_refused; /* answered by the API thread itself (4xx, 503) */
	uint64_t n_dropped; /* connections closed with an answer still pending */
};

/* Create the socket at sock_path (a stale socket there is replaced; any
 * other file is refused with -EEXIST), mode 0600, and start the API thread.
 * max_payload: 0 means HTTP_MAX_PAYLOAD_DEFAULT. 0 or -errno. */
int api_server_start(struct api_server *s, const char *sock_path, size_t max_payload,
		     const struct api_ops *ops, void *ops_ctx);
/* The same, and the API thread installs sp's API filter before it accepts
 * anything (sp outlives the server). */
struct seccomp_policy;
int api_server_start_filtered(struct api_server *s, const char *sock_path, size_t max_payload,
			      const struct api_ops *ops, void *ops_ctx,
			      const struct seccomp_policy *sp);
/* Stop and join the API thread, close every connection, unlink the socket,
 * free queued requests. Safe on a server that failed to start. */
void api_server_stop(struct api_server *s);
/* The fd the VMM thread polls (EPOLLIN) for requests. */
int api_server_fd(const struct api_server *s);
/* VMM thread: serve every queued request. Returns how many. */
int api_server_serve(struct api_server *s);

#endif
