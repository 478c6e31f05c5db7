/* epoll wrapper for the VMM thread. */
#include "vmm/event_loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int ev_init(struct ev_loop *l)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < EV_MAX_HANDLERS; i++)
		l->handlers[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void ev_destroy(struct ev_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static struct ev_handler *ev_slot(struct ev_loop *l, int fd)
{
	for (int i = 0; i < EV_MAX_HANDLERS; i++)
		if (l->handlers[i].fd == fd)
			return &l->handlers[i];
	return NULL;
}

int ev_add(struct ev_loop *l, int fd, uint32_t events, void (*cb)(void *, uint32_t), void *opaque)
{
	struct ev_handler *h;
	struct epoll_event ev = {.events = events};

	if (fd < 0 || ev_slot(l, fd))
		return -EEXIST;
	h = ev_slot(l, -1);
	if (!h)
		return -ENOSPC;
	ev.data.ptr = h;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -errno;
	h->fd = fd;
	h->cb = cb;
	h->opaque = opaque;
	return 0;
}

int ev_modify(struct ev_loop *l, int fd, uint32_t events)
{
	struct ev_handler *h = ev_slot(l, fd);
	struct epoll_event ev = {.events = events};

	if (fd < 0 || !h)
		return -ENOENT;
	ev.data.ptr = h;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 ? -errno : 0;
}

int ev_del(struct ev_loop *l, int fd)
{
	struct ev_handler *h = ev_slot(l, fd);

	if (fd < 0 || !h)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	h->fd = -1;
	h->cb = NULL;
	h->opaque = NULL;
	return 0;
}

int ev_run_once(struct ev_loop *l, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(l->epfd, evs, 32, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = evs[i].data.ptr;
		/* A callback earlier in this batch may have removed this fd. */
		if (h->fd >= 0 && h->cb)
			h->cb(h->opaque, evs[i].events);
	}
	return 0;
}

int ev_run(struct ev_loop *l)
{
	while (!l->stop) {
		int err = ev_run_once(l, -1);
		if (err)
			return err;
	}
	return 0;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = true;
}
