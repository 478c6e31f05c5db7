/* flint's logger: Firecracker's line format and levels, output to stderr, a
 * file or a named pipe. A full pipe never blocks the caller: the line is
 * dropped and counted. Thread-safe; one instance, owned by main and reached
 * through the structs that need it. */
#ifndef FLINT_VMM_LOG_H
#define FLINT_VMM_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/config.h" /* struct fault, enum cfg_opt_bool */

enum log_level {
	LOG_LEVEL_OFF = 0,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

struct logger {
	pthread_mutex_t lock;
	int fd;	     /* stderr until configured */
	bool own_fd; /* fd was opened by log_set_path */
	enum log_level level;
	bool show_level;
	bool show_origin;
	char module[128]; /* only lines whose origin file starts with this */
	char instance_id[65];
	uint64_t lines_written;
	uint64_t lines_dropped; /* pipe full or write failed */
};

void log_init(struct logger *lg, const char *instance_id);
void log_destroy(struct logger *lg);
/* Open path (a file, appended to, or a FIFO, opened non-blocking). 0 or -errno. */
int log_set_path(struct logger *lg, const char *path);
/* Parse "Error", "Warning", "Info", "Debug", "Trace", "Off" (any case). */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level lvl);

/* Apply a logger configuration: any NULL argument leaves that setting as
 * it is, and so does a show flag that is CFG_ABSENT (a command-line bool
 * converts: true is CFG_TRUE, false is CFG_ABSENT). 0, or -errno with f
 * set. */
int log_apply(struct logger *lg, const char *path, const char *level, enum cfg_opt_bool show_level,
	      enum cfg_opt_bool show_origin, const char *module, struct fault *f);

/* Name the calling thread in log lines (fc_vcpu 0, fc_api, ...). The
 * process's main thread (the VMM thread) is always "main" in log lines, as
 * in Firecracker's. */
void log_set_thread_name(const char *name);

void log_write(struct logger *lg, enum log_level lvl, const char *file, int line, const char *fmt,
	       ...) __attribute__((format(printf, 5, 6)));
void log_vwrite(struct logger *lg, enum log_level lvl, const char *file, int line, const char *fmt,
		va_list ap);

#define LOG_ERROR(lg, ...) log_write((lg), LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_WARN(lg, ...)  log_write((lg), LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_INFO(lg, ...)  log_write((lg), LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_DEBUG(lg, ...) log_write((lg), LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
