/* Logger: Firecracker's line format
 *   <RFC3339 timestamp> [<instance id>:<thread>(:<LEVEL>)(:<file>:<line>)] <message>
 * Writes are one write(2) per line so lines from different threads never
 * interleave; a FIFO is opened non-blocking so a slow reader costs lines,
 * never VMM progress. */
#include "vmm/log.h"

#include "vmm/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static const char *const level_names[] = {
    [LOG_LEVEL_OFF] = "Off",   [LOG_LEVEL_ERROR] = "Error", [LOG_LEVEL_WARN] = "Warning",
    [LOG_LEVEL_INFO] = "Info", [LOG_LEVEL_DEBUG] = "Debug", [LOG_LEVEL_TRACE] = "Trace",
};

/* The upper-case form Firecracker prints with show_level. */
static const char *const level_tags[] = {
    [LOG_LEVEL_OFF] = "OFF",   [LOG_LEVEL_ERROR] = "ERROR", [LOG_LEVEL_WARN] = "WARN",
    [LOG_LEVEL_INFO] = "INFO", [LOG_LEVEL_DEBUG] = "DEBUG", [LOG_LEVEL_TRACE] = "TRACE",
};

void log_init(struct logger *lg, const char *instance_id)
{
	memset(lg, 0, sizeof(*lg));
	pthread_mutex_init(&lg->lock, NULL);
	lg->fd = STDERR_FILENO;
	lg->level = LOG_LEVEL_INFO;
	snprintf(lg->instance_id, sizeof(lg->instance_id), "%s", instance_id);
}

void log_destroy(struct logger *lg)
{
	if (lg->own_fd)
		close(lg->fd);
	lg->fd = STDERR_FILENO;
	lg->own_fd = false;
	pthread_mutex_destroy(&lg->lock);
}

int log_set_path(struct logger *lg, const char *path)
{
	struct stat st;
	int flags = O_WRONLY | O_APPEND | O_CLOEXEC;
	int fd;

	/* A FIFO must not block us, neither at open nor on write: read-write,
	 * so open(2) does not wait for (or, non-blocking, fail without) a
	 * reader and a reader that goes away raises no SIGPIPE; non-blocking,
	 * so a full pipe drops the line. */
	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
		flags = O_RDWR | O_NONBLOCK | O_CLOEXEC;
	else
		flags |= O_CREAT;
	fd = open(path, flags, 0600);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&lg->lock);
	if (lg->own_fd)
		close(lg->fd);
	lg->fd = fd;
	lg->own_fd = true;
	pthread_mutex_unlock(&lg->lock);
	return 0;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "Warn") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level lvl)
{
	return lvl <= LOG_LEVEL_TRACE ? level_names[lvl] : "Unknown";
}

void log_set_thread_name(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}

static size_t log_prefix(struct logger *lg, char *buf, size_t cap, enum log_level lvl,
			 const char *file, int line)
{
	struct timespec ts;
	struct tm tm;
	char thread[17] = "";
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* Firecracker's VMM runs on the process's main thread, which its log
	 * lines call "main" (Rust's name for it); other threads by name. */
	if (gettid() == getpid())
		snprintf(thread, sizeof(thread), "main");
	else
		prctl(PR_GET_NAME, thread, 0, 0, 0);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, cap - n, ".%09ld [%s:%s", ts.tv_nsec, lg->instance_id,
			      thread);
	if (lg->show_level && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, ":%s", level_tags[lvl]);
	if (lg->show_origin && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, ":%s:%d", file, line);
	if (n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "] ");
	return n < cap ? n : cap - 1;
}

void log_vwrite(struct logger *lg, enum log_level lvl, const char *file, int line, const char *fmt,
		va_list ap)
{
	char buf[LOG_LINE_MAX];
	size_t n;
	int m;

	if (!lg || lvl == LOG_LEVEL_OFF)
		return;
	pthread_mutex_lock(&lg->lock);
	if (lvl > lg->level ||
	    (lg->module[0] && strncmp(file, lg->module, strlen(lg->module)) != 0)) {
		pthread_mutex_unlock(&lg->lock);
		return;
	}
	n = log_prefix(lg, buf, sizeof(buf) - 1, lvl, file, line);
	m = vsnprintf(buf + n, sizeof(buf) - 1 - n, fmt, ap);
	n = m < 0 ? n : (n + (size_t)m < sizeof(buf) - 1 ? n + (size_t)m : sizeof(buf) - 2);
	buf[n++] = '\n';
	if (write(lg->fd, buf, n) == (ssize_t)n)
		lg->lines_written++;
	else
		lg->lines_dropped++;
	pthread_mutex_unlock(&lg->lock);
}

void log_write(struct logger *lg, enum log_level lvl, const char *file, int line, const char *fmt,
	       ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(lg, lvl, file, line, fmt, ap);
	va_end(ap);
}

int log_apply(struct logger *lg, const char *path, const char *level, enum cfg_opt_bool show_level,
	      enum cfg_opt_bool show_origin, const char *module, struct fault *f)
{
	enum log_level lvl = LOG_LEVEL_INFO;
	int err;

	if (level && log_level_parse(level, &lvl) != 0) {
		fault_set(f, "Invalid log level: '%s'", level);
		return -EINVAL;
	}
	if (path && path[0] && (err = log_set_path(lg, path)) != 0) {
		fault_set(f, "Cannot open the log file %s: %s", path, strerror(-err));
		return err;
	}
	pthread_mutex_lock(&lg->lock);
	if (level)
		lg->level = lvl;
	if (show_level != CFG_ABSENT)
		lg->show_level = show_level == CFG_TRUE;
	if (show_origin != CFG_ABSENT)
		lg->show_origin = show_origin == CFG_TRUE;
	if (module)
		snprintf(lg->module, sizeof(lg->module), "%s", module);
	pthread_mutex_unlock(&lg->lock);
	return 0;
}
