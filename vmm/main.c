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

static int config_from_file(struct vm_config *cfg, struct logger *lg, const char *path,
			    struct fault *f)
{
	const struct cfg_logger *l = &cfg->logger;
	int err;

	cfg_init(cfg);
	err = cfg_load_file(cfg, path, f);
	if (!err && l->set)
		err = logger_apply(lg, l->log_path, l->level[0] ? l->level : NULL, l->show_level,
				   l->show_log_origin, l->module[0] ? l->module : NULL, f);
	if (!err)
		err = cfg_validate_for_boot(cfg, f);
	return err;
}

static int run_vm(const struct vm_config *cfg, const struct flint_args *a, struct logger *lg,
		  uint64_t start_wall, uint64_t start_cpu)
{
	struct vm_options opt = {
		.kvm_path = a->kvm_path,
		.serial_in_fd = STDIN_FILENO,
		.serial_out_fd = STDOUT_FILENO,
		.start_wall_us = start_wall,
		.start_cpu_us = start_cpu,
		.prefer_pvh = strcmp(a->boot_protocol, "pvh") == 0,
		.boot_timer = a->boot_timer,
	};
	struct console_mode console;
	struct ev_loop loop;
	struct fault f = {""};
	struct vm *vm = calloc(1, sizeof(*vm));
	int status = FLINT_EXIT_GENERIC;

	if (!vm || ev_init(&loop) != 0) {
		LOG_ERROR(lg, "out of memory");
		free(vm);
		return FLINT_EXIT_GENERIC;
	}
	if (vm_build(vm, cfg, &opt, lg, &loop, &f) != 0 || vm_start(vm, &f) != 0) {
		LOG_ERROR(lg, "Building the microVM failed: %s", f.msg);
		fprintf(stderr, "flint: %s\n", f.msg);
		goto out;
	}
	console_make_raw(&console);
	LOG_INFO(lg, "Running microVM with %d vCPU(s) and %llu MiB", vm->nvcpus,
		 (unsigned long long)cfg->machine.mem_size_mib);
	ev_run(&loop);
	console_restore(&console);
	if (vm_ended(vm, &status))
		LOG_INFO(lg, "microVM ended: %s (exit status %d)", vm->end_reason, status);
out:
	vm_destroy(vm);
	ev_destroy(&loop);
	free(vm);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t start_wall = clock_mono_us(), start_cpu = clock_cpu_us();
	struct flint_args args;
	struct fault f = {""};
	struct logger lg;
	struct vm_config *cfg;
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
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return FLINT_EXIT_GENERIC;
	if (config_from_file(cfg, &lg, args.config_file, &f) != 0) {
		LOG_ERROR(&lg, "Configuration error: %s", f.msg);
		fprintf(stderr, "flint: %s: %s\n", args.config_file, f.msg);
		status = FLINT_EXIT_BAD_CONFIG;
	} else {
		status = run_vm(cfg, &args, &lg, start_wall, start_cpu);
	}
	free(cfg);
	log_destroy(&lg);
	return status;
}
