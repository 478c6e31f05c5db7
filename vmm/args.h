/* flint's command line, with Firecracker's flag names. Pure parsing: no
 * side effects, so it is unit-tested. */
#ifndef FLINT_VMM_ARGS_H
#define FLINT_VMM_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/config.h"

struct flint_args {
	const char *api_sock; /* default /run/firecracker.socket */
	const char *id;	      /* default anonymous-instance */
	const char *config_file;
	bool no_api;
	bool boot_timer;
	const char *log_path;
	const char *level;
	const char *module;
	bool show_level;
	bool show_log_origin;
	const char *metrics_path;
	uint64_t max_payload; /* --http-api-max-payload-size, default 51200 */
	bool no_seccomp;
	const char *seccomp_filter;
	uint64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
	bool has_start_time;
	const char *describe_snapshot;
	const char *boot_protocol; /* flint extension: "pvh" (default) or "linux" */
	const char *kvm_path;	   /* flint extension for tests: default /dev/kvm */
	bool help;
	bool version;
};

/* Parse argv. 0, or -EINVAL with f saying what is wrong. */
int args_parse(struct flint_args *a, int argc, char *const argv[], struct fault *f);
/* The --help text. */
const char *args_usage(void);

#endif
