/* flint: entry point. Parses the command line, sets up logging, builds the
 * microVM from --config-file, runs the VMM event loop on this thread and
 * exits with the VM's status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "devices/boot_timer.h"
#include "api/handlers.h"
#include "api/server.h"
#include "snapshot/format.h"
#include "vmm/args.h"
#include "vmm/config.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
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

/* Load --config-file into the VMM's configuration, applying its logger
 * section at once so the rest of the boot logs where it says. */
static int config_from_file(struct vmm *v, const char *path, struct fault *f)
{
	const struct cfg_logger *l = &v->cfg.logger;
	int err = cfg_load_file(&v->cfg, path, f);

	if (!err && l->set)
		err = log_apply(v->log, l->log_path, l->level[0] ? l->level : NULL, l->show_level,
				l->show_log_origin, l->module[0] ? l->module : NULL, f);
	if (!err && v->cfg.metrics.set)
		err = vmm_apply_metrics(v, f);
	/* A file that cannot boot is a configuration error, like a bad field. */
	if (!err)
		err = cfg_validate_for_boot(&v->cfg, f);
	return err;
}

static void on_api_request(void *ctx, uint32_t events)
{
	(void)events;
	api_server_serve(ctx);
}

static int start_api(struct vmm *v, struct api_server *srv, const struct flint_args *a)
{
	int err = api_server_start_filtered(srv, a->api_sock, (size_t)a->max_payload, &api_vmm_ops,
					    v, v->opt.seccomp);

	if (err) {
		fprintf(stderr, "flint: cannot serve the API on %s: %s\n", a->api_sock,
			strerror(-err));
		return err;
	}
	err = ev_add(&v->loop, api_server_fd(srv), EPOLLIN, on_api_request, srv);
	if (!err)
		LOG_INFO(v->log, "API server listening on %s", a->api_sock);
	return err;
}

static int start_metrics(struct vmm *v, const char *path)
{
	struct fault f = {""};

	v->cfg.metrics.set = true;
	snprintf(v->cfg.metrics.metrics_path, sizeof(v->cfg.metrics.metrics_path), "%s", path);
	if (vmm_apply_metrics(v, &f) != 0) {
		fprintf(stderr, "flint: %s\n", f.msg);
		return -EINVAL;
	}
	return 0;
}

/* Set up from the command line; returns an exit status, or -1 to run. */
static int setup(struct vmm *v, struct api_server *srv, const struct flint_args *a)
{
	struct fault f = {""};

	if (a->metrics_path && start_metrics(v, a->metrics_path) != 0)
		return FLINT_EXIT_BAD_CONFIG;
	if (!a->no_api && start_api(v, srv, a) != 0)
		return FLINT_EXIT_GENERIC;
	v->startup_wall_us = clock_mono_us() - v->opt.start_wall_us;
	v->startup_cpu_us = clock_cpu_us() - v->opt.start_cpu_us;
	if (!a->config_file)
		return -1;
	if (config_from_file(v, a->config_file, &f) != 0) {
		LOG_ERROR(v->log, "Configuration error: %s", f.msg);
		fprintf(stderr, "flint: %s: %s\n", a->config_file, f.msg);
		return FLINT_EXIT_BAD_CONFIG;
	}
	if (vmm_start_instance(v, &f) != 0) {
		LOG_ERROR(v->log, "Building the microVM failed: %s", f.msg);
		fprintf(stderr, "flint: %s\n", f.msg);
		return FLINT_EXIT_GENERIC;
	}
	return -1;
}

static int run(const struct flint_args *a, struct logger *lg, const struct vm_options *opt)
{
	struct console_mode console;
	struct api_server srv;
	struct vmm *v = calloc(1, sizeof(*v));
	int status;

	memset(&srv, 0, sizeof(srv));
	srv.listen_fd = srv.epfd = srv.stop_efd = -1;
	if (!v || vmm_init(v, lg, opt, a->id) != 0) {
		fprintf(stderr, "flint: out of memory\n");
		free(v);
		return FLINT_EXIT_GENERIC;
	}
	status = setup(v, &srv, a);
	if (status < 0) {
		console_make_raw(&console);
		status = vmm_run(v);
		console_restore(&console);
	}
	if (!a->no_api)
		api_server_stop(&srv);
	vmm_destroy(v);
	free(v);
	return status;
}

/* Before any thread exists: every thread installs its filter from sp. */
static int setup_seccomp(struct seccomp_policy *sp, const struct flint_args *a, struct logger *lg)
{
	struct fault f = {""};

	if (seccomp_policy_init(sp, a->no_seccomp, a->seccomp_filter, lg, &f) != 0) {
		fprintf(stderr, "flint: --seccomp-filter %s: %s\n", a->seccomp_filter, f.msg);
		return -EINVAL;
	}
	if (seccomp_prepare(lg) != 0) {
		fprintf(stderr, "flint: cannot install the SIGSYS handler\n");
		return -EINVAL;
	}
	return 0;
}

/* --describe-snapshot: the state file's format version, as Firecracker
 * prints it ("v1.0.0"). Only the header is read: a file too new for this
 * flint still says what it is. */
static int describe_snapshot(const char *path)
{
	struct fault f = {""};
	uint8_t *buf = NULL;
	size_t len = 0;
	uint16_t major, minor;

	if (snap_read_file(path, &buf, &len, &f) != 0 ||
	    snap_peek_version(buf, len, &major, &minor, &f) != 0) {
		fprintf(stderr, "flint: %s\n", f.msg);
		free(buf);
		return FLINT_EXIT_GENERIC;
	}
	printf("v%u.%u.0\n", major, minor);
	free(buf);
	return FLINT_EXIT_OK;
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
	if (log_apply(&lg, args.log_path, args.level, args.show_level, args.show_log_origin,
		      args.module, &f) != 0) {
		fprintf(stderr, "flint: %s\n", f.msg);
		return FLINT_EXIT_ARG_PARSING;
	}
	/* Benchmarks split spawn-to-KVM_RUN here: before is fork and exec. */
	LOG_DEBUG(&lg, "main entered at monotonic %llu us, process CPU %llu us",
		  (unsigned long long)start_wall, (unsigned long long)start_cpu);
	if (args.describe_snapshot) {
		log_destroy(&lg);
		return describe_snapshot(args.describe_snapshot);
	}
	struct seccomp_policy sp;
	if (setup_seccomp(&sp, &args, &lg) != 0) {
		seccomp_policy_destroy(&sp);
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
	    .seccomp = &sp,
	};
	status = run(&args, &lg, &opt);
	seccomp_policy_destroy(&sp);
	log_destroy(&lg);
	return status;
}
