/* The VMM thread's epoll loop. Every device fd (ioeventfds, tap, sockets,
 * timerfds, stdin) is registered here; callbacks run on the VMM thread, so
 * device state touched only from callbacks needs no lock. Registration is
 * allowed from the VMM thread (or before the loop runs). */
#ifndef FLINT_VMM_EVENT_LOOP_H
#define FLINT_VMM_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EV_MAX_HANDLERS 256

struct ev_handler {
	int fd;
	void (*cb)(void *opaque, uint32_t events); /* events: EPOLLIN etc. */
	void *opaque;
};

struct ev_loop {
	int epfd;
	struct ev_handler handlers[EV_MAX_HANDLERS];
	bool stop;
};

int ev_init(struct ev_loop *l);
void ev_destroy(struct ev_loop *l);
/* Watch fd for events (EPOLLIN, EPOLLOUT...), level-triggered. 0 or -errno. */
int ev_add(struct ev_loop *l, int fd, uint32_t events, void (*cb)(void *, uint32_t), void *opaque);
int ev_modify(struct ev_loop *l, int fd, uint32_t events);
int ev_del(struct ev_loop *l, int fd);
/* Wait up to timeout_ms (-1 forever) and run ready callbacks. 0 or -errno. */
int ev_run_once(struct ev_loop *l, int timeout_ms);
/* Run until ev_stop() is called from a callback. */
int ev_run(struct ev_loop *l);
void ev_stop(struct ev_loop *l);

#endif
