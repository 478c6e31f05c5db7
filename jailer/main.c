/* flint-jailer: isolate flint the way Firecracker's jailer isolates
 * Firecracker, with the same command line. See jailer/README.md. */
#include "jailer/jail.h"
#include "jailer/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef FLINT_VERSION
#define FLINT_VERSION "unknown"
#endif

/* Parse and answer --help/--version; -1 means go on and jail. */
static int jailer_front(struct jail_config *cfg, int argc, char *argv[])
{
	struct jail_err err;

	if (jail_parse_args(argc, argv, cfg, &err)) {
		fprintf(stderr, "flint-jailer: %s\n", err.msg);
		return 1;
	}
	if (cfg->help) {
		fputs(jail_usage(), stdout);
		return 0;
	}
	if (cfg->version) {
		printf("flint-jailer v%s\n", FLINT_VERSION);
		return 0;
	}
	return -1;
}

int main(int argc, char *argv[])
{
	struct jail_config *cfg = calloc(1, sizeof(*cfg));
	int status;

	if (!cfg) {
		fprintf(stderr, "flint-jailer: out of memory\n");
		return 1;
	}
	status = jailer_front(cfg, argc, argv);
	if (status < 0) {
		/* Modes below are given explicitly; keep the caller's umask out. */
		umask(022);
		status = jail_run(cfg); /* returns only if jailing failed */
	}
	free(cfg);
	return status;
}
