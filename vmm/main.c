/* flint: entry point. Parses the command line, sets up logging, builds the
 * microVM from --config-file, runs the VMM event loop on this thread and
 * exits with the VM's status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "devices/boot_timer.h"
#include "vmm/args.h"
#include "vmm/config.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

struct console_mode {
	bool raw;
	struct termios saved;
};

/* An interactive console passes keys to the guest as they are typed. */
static void console_make_raw(struct console_mode *c)
{
	struct termios t;

	c->raw = false;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved) != 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep our own log lines readable */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		c->raw = true;
}

static void console_restore(const struct console_mode *c)
{
	if (c->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
}

static int logger_apply(struct logger *lg, const char *path, const char *level, bool show_level,
			bool show_origin, const char *module, struct fault *f)
{
	enum log_level lvl;

	if (level && log_level_parse(level, &lvl) != 0) {
		fault_set(f, "invalid log level '%s'", level);
		return -EINVAL;
	}
	if (path && path[0] && log_set_path(lg, path) != 0) {
		fault_set(f, "cannot open log file %s: %s", path, strerror(errno));
		return -EIO;
	}
	if (level)
		lg->level = lvl;
	lg->show_level = lg->show_level || show_level;
	lg->show_origin = lg->show_origin || show_origin;
	if (module)
		snprintf(lg->module, sizeof(lg->module), "%s", module);
	return 0;
}

/* Load --config-file into the VMM's configuration, applying its logger
 * section at once so the rest of the boot logs where it says. */
static int config_from_file(struct vmm *v, const char *path, struct fault *f)
{
	const struct cfg_logger *l = &v->cfg.logger;
	int err = cfg_load_file(&v->cfg, path, f);

	if (!err && l->set)
		err = logger_apply(v->log, l->log_path, l->level[0] ? l->level : NULL,
				   l->show_level, l->show_log_origin, l->module[0] ? l->module : NULL,
				   f);
	return err;
}

static int run_from_config_file(const struct flint_args *a, struct logger *lg,
				const struct vm_options *opt)
{
	struct console_mode console;
	struct fault f = {""};
	struct vmm *v = calloc(1, sizeof(*v));
	int status = FLINT_EXIT_GENERIC;

	if (!v || vmm_init(v, lg, opt, a->id) != 0) {
		fprintf(stderr, "flint: out of memory\n");
		free(v);
		return FLINT_EXIT_GENERIC;
	}
	if (config_from_file(v, a->config_file, &f) != 0) {
		LOG_ERROR(lg, "Configuration error: %s", f.msg);
		fprintf(stderr, "flint: %s: %s\n", a->config_file, f.msg);
		status = FLINT_EXIT_BAD_CONFIG;
	} else if (vmm_start_instance(v, &f) != 0) {
		LOG_ERROR(lg, "Building the microVM failed: %s", f.msg);
		fprintf(stderr, "flint: %s\n", f.msg);
	} else {
		console_make_raw(&console);
		status = vmm_run(v);
		console_restore(&console);
	}
	vmm_destroy(v);
	free(v);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t start_wall = clock_mono_us(), start_cpu = clock_cpu_us();
	struct flint_args args;
	struct fault f = {""};
	struct logger lg;
	int status;

	if (args_parse(&args, argc, argv, &f) != 0) {
		fprintf(stderr, "flint: %s\n", f.msg);
		return FLINT_EXIT_ARG_PARSING;
	}
	if (args.help || args.version) {
		fputs(args.help ? args_usage() : "flint v" FLINT_VERSION "\n", stdout);
		return 0;
	}
	if (args.has_start_time)
		start_wall = args.start_time_us, start_cpu = args.start_time_cpu_us;
	log_init(&lg, args.id);
	log_set_thread_name("fc_vmm");
	if (logger_apply(&lg, args.log_path, args.level, args.show_level, args.show_log_origin,
			 args.module, &f) != 0) {
		fprintf(stderr, "flint: %s\n", f.msg);
		return FLINT_EXIT_ARG_PARSING;
	}
	if (!args.no_api || args.describe_snapshot || args.seccomp_filter || args.metrics_path) {
		fprintf(stderr, "flint: not yet supported: the HTTP API, snapshots, seccomp "
				"filters and metrics arrive later; use --no-api --config-file\n");
		log_destroy(&lg);
		return FLINT_EXIT_ARG_PARSING;
	}
	if (vcpu_install_kick_signal() != 0) {
		fprintf(stderr, "flint: cannot install the vCPU kick signal\n");
		return FLINT_EXIT_GENERIC;
	}
	struct vm_options opt = {
		.kvm_path = args.kvm_path,
		.serial_in_fd = STDIN_FILENO,
		.serial_out_fd = STDOUT_FILENO,
		.start_wall_us = start_wall,
		.start_cpu_us = start_cpu,
		.prefer_pvh = strcmp(args.boot_protocol, "pvh") == 0,
		.boot_timer = args.boot_timer,
	};
	status = run_from_config_file(&args, &lg, &opt);
	log_destroy(&lg);
	return status;
}
