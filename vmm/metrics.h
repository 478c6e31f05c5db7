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

#define METRICS_PERIOD_S 60
#define METRICS_MAX_KEYS 512

/* API requests counted by kind, Firecracker's get_api_requests,
 * put_api_requests and patch_api_requests keys (vmm_metrics.c names them). */
enum metrics_req {
	METRICS_GET_INSTANCE_INFO = 0,
	METRICS_GET_MACHINE_CFG,
	METRICS_GET_MMDS,
	METRICS_GET_VMM_VERSION,
	METRICS_GET_HOTPLUG_MEMORY,
	METRICS_PUT_ACTIONS,
	METRICS_PUT_BOOT_SOURCE,
	METRICS_PUT_DRIVE,
	METRICS_PUT_LOGGER,
	METRICS_PUT_MACHINE_CFG,
	METRICS_PUT_CPU_CFG,
	METRICS_PUT_METRICS,
	METRICS_PUT_NETWORK,
	METRICS_PUT_MMDS,
	METRICS_PUT_VSOCK,
	METRICS_PUT_PMEM,
	METRICS_PUT_SERIAL,
	METRICS_PUT_HOTPLUG_MEMORY,
	METRICS_PATCH_DRIVE,
	METRICS_PATCH_NETWORK,
	METRICS_PATCH_MACHINE_CFG,
	METRICS_PATCH_MMDS,
	METRICS_PATCH_HOTPLUG_MEMORY,
	METRICS_REQ_COUNT,
	METRICS_REQ_NONE = -1, /* a request kind Firecracker does not count */
};

/* What the VMM thread records between flushes besides device counters. */
struct metrics_api {
	uint64_t count[METRICS_REQ_COUNT]; /* requests whose route was known */
	uint64_t fails[METRICS_REQ_COUNT]; /* ... refused by the request parser
					    * (body, ids), as in Firecracker */
	uint64_t sync_response_fails;	   /* answered 5xx (an internal error) */
	/* latencies_us, the last value (Firecracker's store metrics) */
	uint64_t pause_vm_us, resume_vm_us;	    /* whole request */
	uint64_t vmm_pause_vm_us, vmm_resume_vm_us; /* the VMM's part */
};

/* One counter as last reported, to compute the next delta. */
struct metrics_prev {
	char key[160];
	uint64_t value;
};

struct metrics {
	int fd;	      /* -1 until configured */
	int timer_fd; /* periodic flush */
	bool fifo;    /* fd is a named pipe */
	/* The unwritten tail of an object a full pipe cut short (malloc'd). */
	char *pending;
	size_t pending_len, pending_off;
	uint64_t flushes;
	uint64_t missed_flushes; /* the write failed or the pipe was full */
	uint64_t fails;		 /* the object did not fit the buffer */
	struct metrics_api api;
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
/* The same for a struct that is already all zero (calloc): the counters
 * are 80 KiB, and writing zeros over fresh pages would fault each in. */
void metrics_init_zeroed(struct metrics *m);
/* Open path (file: created/appended; FIFO: non-blocking, and read-write so
 * that opening never waits for, nor fails without, a reader) and arm the
 * periodic timer. 0 or -errno. */
int metrics_open(struct metrics *m, const char *path);
void metrics_close(struct metrics *m);

/* Building one flush: begin, then groups with counters/gauges, then end,
 * which writes the object and a newline in one write(2). If a full pipe
 * takes only part of it, the rest goes out first at the next flush (that
 * flush's own object is then lost if the rest still does not fit): readers
 * never see an object torn; lost objects are counted (missed_flushes). */
int metrics_begin(struct metrics_out *o, struct metrics *m, char *buf, size_t cap);
void metrics_group(struct metrics_out *o, const char *name);
/* A monotonically increasing counter: writes value - previously reported. */
void metrics_counter(struct metrics_out *o, const char *name, uint64_t value);
void metrics_gauge(struct metrics_out *o, const char *name, uint64_t value);
/* A top-level "name": "value" field outside any group (value is escaped). */
void metrics_string(struct metrics_out *o, const char *name, const char *value);
/* A top-level "name": {"key": "value", ...} (keys and values escaped). */
void metrics_string_map(struct metrics_out *o, const char *name, const char *const *keys,
			const char *const *values, int n);
int metrics_end(struct metrics_out *o);

#endif
