/* Metrics in Firecracker's shape: one JSON object per flush, written to a
 * file or a named pipe (non-blocking: a full pipe loses that flush and
 * counts it), every 60 seconds and on FlushMetrics. Counters are reported
 * as the increase since the previous flush, as Firecracker does; gauges
 * (start-up times) as their value. VMM thread only. */
#ifndef FLINT_VMM_METRICS_H
#define FLINT_VMM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_PERIOD_S  60
#define METRICS_MAX_KEYS  512

/* One counter as last reported, to compute the next delta. */
struct metrics_prev {
	char key[160];
	uint64_t value;
};

struct metrics {
	int fd;       /* -1 until configured */
	int timer_fd; /* periodic flush */
	uint64_t flushes, missed_flushes;
	struct metrics_prev prev[METRICS_MAX_KEYS];
	int nprev;
};

/* A JSON object under construction: groups of "name": number. */
struct metrics_out {
	char *buf;
	size_t len, cap;
	bool in_group, first_in_group;
	char group[96];
	struct metrics *m;
};

void metrics_init(struct metrics *m);
/* Open path (file: created/appended; FIFO: non-blocking) and arm the
 * periodic timer. 0 or -errno. */
int metrics_open(struct metrics *m, const char *path);
void metrics_close(struct metrics *m);

/* Building one flush: begin, then groups with counters/gauges, then end,
 * which writes the object and a newline. */
int metrics_begin(struct metrics_out *o, struct metrics *m, char *buf, size_t cap);
void metrics_group(struct metrics_out *o, const char *name);
/* A monotonically increasing counter: writes value - previously reported. */
void metrics_counter(struct metrics_out *o, const char *name, uint64_t value);
void metrics_gauge(struct metrics_out *o, const char *name, uint64_t value);
int metrics_end(struct metrics_out *o);

#endif
