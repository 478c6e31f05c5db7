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

int main(int argc, char *argv[])
{
	struct jail_config *cfg = calloc(1, sizeof(*cfg));
	struct jail_err err;

	if (!cfg) {
		fprintf(stderr, "flint-jailer: out of memory\n");
		return 1;
	}
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
	/* Modes below are given explicitly; keep the caller's umask out. */
	umask(022);
	return jail_run(cfg);
}
