/* Metrics writer. */
#include "vmm/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

void metrics_init_zeroed(struct metrics *m)
{
	m->fd = -1;
	m->timer_fd = -1;
}

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	metrics_init_zeroed(m);
}

int metrics_open(struct metrics *m, const char *path)
{
	struct itimerspec its = {.it_interval = {METRICS_PERIOD_S, 0},
				 .it_value = {METRICS_PERIOD_S, 0}};
	struct stat st;
	int flags = O_WRONLY | O_APPEND | O_CLOEXEC;
	int fd, tfd;

	/* A FIFO is opened read-write: open(2) neither blocks nor fails
	 * (ENXIO) while nobody reads, writes never raise SIGPIPE, and a full
	 * pipe costs a flush (counted), never the VMM thread's progress. */
	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
		flags = O_RDWR | O_NONBLOCK | O_CLOEXEC;
	else
		flags |= O_CREAT;
	fd = open(path, flags, 0600);
	if (fd < 0)
		return -errno;
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) != 0) {
		int err = -errno;
		close(fd);
		if (tfd >= 0)
			close(tfd);
		return err;
	}
	metrics_close(m);
	m->fd = fd;
	m->timer_fd = tfd;
	m->fifo = (flags & O_RDWR) != 0;
	return 0;
}

void metrics_close(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->fd = m->timer_fd = -1;
	free(m->pending);
	m->pending = NULL;
	m->pending_len = m->pending_off = 0;
}

static void out_printf(struct metrics_out *o, const char *fmt, ...)
{
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = room ? vsnprintf(o->buf + o->len, room, fmt, ap) : -1;
	va_end(ap);
	o->len = n < 0 ? o->cap : (o->len + (size_t)n > o->cap ? o->cap : o->len + (size_t)n);
}

int metrics_begin(struct metrics_out *o, struct metrics *m, char *buf, size_t cap)
{
	struct timespec ts;

	memset(o, 0, sizeof(*o));
	o->buf = buf;
	o->cap = cap;
	o->m = m;
	clock_gettime(CLOCK_REALTIME, &ts);
	out_printf(o, "{\"utc_timestamp_ms\":%llu",
		   (unsigned long long)ts.tv_sec * 1000ULL +
		       (unsigned long long)ts.tv_nsec / 1000000);
	return 0;
}

void metrics_group(struct metrics_out *o, const char *name)
{
	if (o->in_group)
		out_printf(o, "}");
	out_printf(o, ",\"%s\":{", name);
	snprintf(o->group, sizeof(o->group), "%s", name);
	o->in_group = true;
	o->first_in_group = true;
}

static void metrics_field(struct metrics_out *o, const char *name, uint64_t v)
{
	out_printf(o, "%s\"%s\":%llu", o->first_in_group ? "" : ",", name, (unsigned long long)v);
	o->first_in_group = false;
}

/* The previous report of "group.name" (the key is built by the caller). */
static struct metrics_prev *metrics_prev_slot(struct metrics *m, const char *key)
{
	for (int i = 0; i < m->nprev; i++)
		if (strcmp(m->prev[i].key, key) == 0)
			return &m->prev[i];
	if (m->nprev == METRICS_MAX_KEYS)
		return NULL;
	snprintf(m->prev[m->nprev].key, sizeof(m->prev[0].key), "%s", key);
	m->prev[m->nprev].value = 0;
	return &m->prev[m->nprev++];
}

void metrics_counter(struct metrics_out *o, const char *name, uint64_t value)
{
	char key[sizeof(((struct metrics_prev *)0)->key)];
	struct metrics_prev *p;

	snprintf(key, sizeof(key), "%s.%s", o->group, name);
	p = metrics_prev_slot(o->m, key);
	metrics_field(o, name, p && value >= p->value ? value - p->value : value);
	if (p)
		p->value = value;
}

void metrics_gauge(struct metrics_out *o, const char *name, uint64_t value)
{
	metrics_field(o, name, value);
}

/* A JSON string, escaped: values come from clients. */
static void out_json_str(struct metrics_out *o, const char *s)
{
	out_printf(o, "\"");
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			out_printf(o, "\\%c", *c);
		else if ((unsigned char)*c < 0x20)
			out_printf(o, "\\u%04x", (unsigned)*c);
		else
			out_printf(o, "%c", *c);
	}
	out_printf(o, "\"");
}

static void out_top_level_key(struct metrics_out *o, const char *name)
{
	if (o->in_group)
		out_printf(o, "}");
	o->in_group = false;
	out_printf(o, ",");
	out_json_str(o, name);
	out_printf(o, ":");
}

void metrics_string(struct metrics_out *o, const char *name, const char *value)
{
	out_top_level_key(o, name);
	out_json_str(o, value);
}

void metrics_string_map(struct metrics_out *o, const char *name, const char *const *keys,
			const char *const *values, int n)
{
	out_top_level_key(o, name);
	out_printf(o, "{");
	for (int i = 0; i < n; i++) {
		if (i)
			out_printf(o, ",");
		out_json_str(o, keys[i]);
		out_printf(o, ":");
		out_json_str(o, values[i]);
	}
	out_printf(o, "}");
}

/* A write above PIPE_BUF to a non-blocking pipe may be cut short (a pipe
 * fills by page slots, so its free bytes do not say what fits). The rest of
 * the object is kept and written first at the next flush: a reader sees it
 * late, never torn. 0 once nothing is pending, else -EAGAIN or -errno. */
static int metrics_write_pending(struct metrics *m)
{
	while (m->pending_off < m->pending_len) {
		ssize_t n =
		    write(m->fd, m->pending + m->pending_off, m->pending_len - m->pending_off);

		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		m->pending_off += (size_t)n;
	}
	free(m->pending);
	m->pending = NULL;
	m->pending_len = m->pending_off = 0;
	return 0;
}

static int metrics_write(struct metrics *m, const char *buf, size_t len)
{
	ssize_t n = write(m->fd, buf, len);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		return -errno; /* nothing written: the object is lost */
	m->pending = malloc(len - (size_t)n);
	if (!m->pending)
		return -ENOMEM; /* cannot happen often: a torn line is then possible */
	memcpy(m->pending, buf + n, len - (size_t)n);
	m->pending_len = len - (size_t)n;
	m->pending_off = 0;
	return 0;
}

int metrics_end(struct metrics_out *o)
{
	int err;

	if (o->in_group)
		out_printf(o, "}");
	out_printf(o, "}\n");
	if (o->len >= o->cap) {
		o->m->fails++;
		return -ENOSPC;
	}
	if (o->m->fd < 0)
		return -EBADF;
	err = metrics_write_pending(o->m);
	if (!err && o->m->pending)
		err = -EAGAIN; /* the previous object is still going out */
	if (!err)
		err = metrics_write(o->m, o->buf, o->len);
	if (err) {
		o->m->missed_flushes++;
		return err;
	}
	o->m->flushes++;
	return 0;
}
