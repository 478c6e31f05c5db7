/* The fixed sequence, the optional supervising parent (--daemonize,
 * --new-pid-ns) and the final exec. */
#include "jailer/run.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* FLINT_TEST_HOOKS builds fail the step named by FLINT_JAILER_FAIL_STEP with
 * EIO, so the tests can check the clean-up after every step. */
static int step_hook(struct jail_ctx *ctx, const char *name)
{
#ifdef FLINT_TEST_HOOKS
	if (ctx->fail_step && !strcmp(ctx->fail_step, name))
		return jail_fail(&ctx->err, EIO, "%s: injected failure", name);
#else
	(void)ctx;
	(void)name;
#endif
	return 0;
}

static int step(struct jail_ctx *ctx, const char *name, int (*fn)(struct jail_ctx *))
{
	int rc = step_hook(ctx, name);

	return rc ? rc : fn(ctx);
}

static int join_netns(struct jail_ctx *ctx)
{
	int fd, rc = 0;

	if (!ctx->cfg->netns)
		return 0;
	fd = open(ctx->cfg->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return jail_fail(&ctx->err, errno, "netns: cannot open %s", ctx->cfg->netns);
	if (setns(fd, CLONE_NEWNET))
		rc = jail_fail(&ctx->err, errno, "netns: cannot join %s", ctx->cfg->netns);
	close(fd);
	return rc;
}

/* Our pid as the host sees it: /proc is still the host's, and its "self"
 * is translated into the pid namespace of that /proc mount. */
static int write_pid_file(struct jail_ctx *ctx)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
	long pid = getpid();

	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, NULL, 10);
	}
	return jail_fs_write_pid(ctx, ctx->plan->root_dir, (pid_t)pid);
}

static int daemonize(struct jail_ctx *ctx)
{
	int fd = ctx->devnull_fd;

	if (fd < 0)
		return 0;
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return jail_fail(&ctx->err, errno, "daemonize: dup2 /dev/null");
	close(fd);
	ctx->devnull_fd = -1;
	return 0;
}

static int close_fds(struct jail_ctx *ctx)
{
	return jail_close_fds(ctx, ctx->status_fd);
}

/* /<exec name> --id <id> --start-time-us <us> --start-time-cpu-us <us>
 * --parent-cpu-time-us <us> <extra args>, with an empty environment. */
static int exec_target(struct jail_ctx *ctx)
{
	const struct jail_config *cfg = ctx->cfg;
	char path[NAME_MAX + 2], t[24], cpu[24], parent[24];
	char *envp[] = {NULL};
	char **argv = calloc((size_t)cfg->n_extra + 10, sizeof(*argv));
	int n = 0;

	if (!argv)
		return jail_fail(&ctx->err, ENOMEM, "exec");
	snprintf(path, sizeof(path), "/%s", ctx->plan->exec_name);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)ctx->start_us);
	snprintf(cpu, sizeof(cpu), "%llu", (unsigned long long)clock_us(CLOCK_PROCESS_CPUTIME_ID));
	snprintf(parent, sizeof(parent), "%llu", (unsigned long long)ctx->parent_cpu_us);
	argv[n++] = path;
	argv[n++] = "--id";
	argv[n++] = (char *)cfg->id;
	argv[n++] = "--start-time-us";
	argv[n++] = t;
	argv[n++] = "--start-time-cpu-us";
	argv[n++] = cpu;
	argv[n++] = "--parent-cpu-time-us";
	argv[n++] = parent;
	for (int i = 0; i < cfg->n_extra; i++)
		argv[n++] = cfg->extra_args[i];
	execve(path, argv, envp);
	free(argv);
	return jail_fail(&ctx->err, errno, "exec: %s", path);
}

/* Everything from the cgroups on; returns only on failure. */
static int run_steps(struct jail_ctx *ctx)
{
	static const struct {
		const char *name;
		int (*fn)(struct jail_ctx *);
	} steps[] = {
	    {"cgroup", jail_cg_setup},	       {"netns", join_netns},
	    {"pidfile", write_pid_file},       {"mount", jail_fs_enter},
	    {"devices", jail_fs_make_devices}, {"rlimits", jail_set_rlimits},
	    {"privileges", jail_drop_privs},   {"daemonize", daemonize},
	    {"close-fds", close_fds},	       {"exec", exec_target},
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !rc; i++)
		rc = step(ctx, steps[i].name, steps[i].fn);
	return rc;
}

/* In the jailer's own process: get back to the host's mount namespace and
 * undo. Impossible once the privileges are gone. */
static int fail_in_process(struct jail_ctx *ctx)
{
	fprintf(stderr, "flint-jailer: %s\n", ctx->err.msg);
	if (ctx->dropped) {
		fprintf(stderr,
			"flint-jailer: no clean-up after dropping privileges: %s is left behind\n",
			ctx->plan->id_dir);
		return 1;
	}
	if (ctx->in_jail && setns(ctx->orig_mnt_fd, CLONE_NEWNS)) {
		fprintf(stderr, "flint-jailer: cannot clean up (%s): %s is left behind\n",
			strerror(errno), ctx->plan->id_dir);
		return 1;
	}
	jail_undo_run(ctx->undo);
	return 1;
}

/* A child's failure: the message goes to the supervising parent, which
 * cleans up once we are gone. */
static void __attribute__((noreturn)) fail_in_child(struct jail_ctx *ctx)
{
	ssize_t n = write(ctx->status_fd, ctx->err.msg, strlen(ctx->err.msg) + 1);

	(void)n;
	_exit(1);
}

static void __attribute__((noreturn)) run_child(struct jail_ctx *ctx, int rd, int wr)
{
	close(rd);
	ctx->status_fd = wr;
	run_steps(ctx);
	fail_in_child(ctx);
}

/* --daemonize: fork, setsid, fork again so the worker is no session leader
 * and can never get a controlling terminal. With --new-pid-ns the second
 * fork starts the new namespace. Returns the first child's pid. */
static pid_t spawn_daemon(struct jail_ctx *ctx, int rd, int wr)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid < 0 ? -errno : pid;
	ctx->status_fd = wr;
	if (setsid() < 0)
		jail_fail(&ctx->err, errno, "daemonize: setsid");
	else if (ctx->cfg->new_pid_ns && unshare(CLONE_NEWPID))
		jail_fail(&ctx->err, errno, "pid namespace: unshare");
	else if ((pid = fork()) == 0)
		run_child(ctx, rd, wr);
	else if (pid > 0)
		_exit(0);
	else
		jail_fail(&ctx->err, errno, "daemonize: fork");
	fail_in_child(ctx);
}

static pid_t spawn_pid_ns(struct jail_ctx *ctx, int rd, int wr)
{
	bool leader = getsid(0) == getpid();
	pid_t pid;

	if (unshare(CLONE_NEWPID))
		return -errno;
	pid = fork();
	if (pid == 0) {
		/* When the jailer leads a session, its exit would send SIGHUP to
		 * the new pid 1: give the child its own session. */
		if (leader && setsid() < 0) {
			ctx->status_fd = wr;
			jail_fail(&ctx->err, errno, "pid namespace: setsid");
			fail_in_child(ctx);
		}
		run_child(ctx, rd, wr);
	}
	return pid < 0 ? -errno : pid;
}

/* Read the child's report: nothing before EOF means it reached exec. */
static int read_report(int rd, struct jail_err *err)
{
	size_t got = 0;
	ssize_t n;

	while ((n = read(rd, err->msg + got, sizeof(err->msg) - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
		if (got == sizeof(err->msg) - 1)
			break;
	}
	err->msg[got] = '\0';
	return got ? -EIO : 0;
}

static int supervise(struct jail_ctx *ctx)
{
	int fds[2], status, rc;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC)) {
		jail_fail(&ctx->err, errno, "spawn: pipe");
		return fail_in_process(ctx);
	}
	ctx->parent_cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	pid = ctx->cfg->daemonize ? spawn_daemon(ctx, fds[0], fds[1])
				  : spawn_pid_ns(ctx, fds[0], fds[1]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		jail_fail(&ctx->err, (int)-pid, "spawn: fork");
		return fail_in_process(ctx);
	}
	rc = read_report(fds[0], &ctx->err);
	close(fds[0]);
	/* The daemon's first child exits at once; a pid-ns child must still be
	 * alive after exec. Reap it if it died to tell a crash from exec. */
	if (ctx->cfg->daemonize || rc)
		waitpid(pid, &status, 0);
	else if (waitpid(pid, &status, WNOHANG) == pid)
		rc = jail_fail(&ctx->err, 0, "spawn: the jailed process died before exec");
	if (!rc)
		return 0;
	if (!ctx->err.msg[0])
		jail_fail(&ctx->err, -rc, "spawn: reading the child's report");
	return fail_in_process(ctx);
}

static int ctx_init(struct jail_ctx *ctx, const struct jail_config *cfg)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->start_us = clock_us(CLOCK_MONOTONIC);
	ctx->status_fd = -1;
	ctx->devnull_fd = -1;
	ctx->orig_mnt_fd = -1;
#ifdef FLINT_TEST_HOOKS
	ctx->fail_step = getenv("FLINT_JAILER_FAIL_STEP");
#endif
	ctx->plan = calloc(1, sizeof(*ctx->plan));
	ctx->undo = mmap(NULL, sizeof(*ctx->undo), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!ctx->plan || ctx->undo == MAP_FAILED)
		return -ENOMEM;
	ctx->orig_mnt_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	return ctx->orig_mnt_fd < 0 ? -errno : 0;
}

static void ctx_free(struct jail_ctx *ctx)
{
	free(ctx->plan);
	if (ctx->undo && ctx->undo != MAP_FAILED)
		munmap(ctx->undo, sizeof(*ctx->undo));
	if (ctx->orig_mnt_fd >= 0)
		close(ctx->orig_mnt_fd);
}

static int run_all(struct jail_ctx *ctx)
{
	if (jail_validate(ctx->cfg, ctx->plan, &ctx->err)) {
		fprintf(stderr, "flint-jailer: %s\n", ctx->err.msg);
		return 1; /* nothing was created */
	}
	if (step(ctx, "jail", jail_fs_create))
		return fail_in_process(ctx);
	if (ctx->cfg->daemonize || ctx->cfg->new_pid_ns)
		return supervise(ctx);
	run_steps(ctx);
	return fail_in_process(ctx);
}

int jail_run(const struct jail_config *cfg)
{
	struct jail_ctx ctx;
	int rc = ctx_init(&ctx, cfg);

	if (rc)
		fprintf(stderr, "flint-jailer: start: %s\n", strerror(-rc));
	else
		rc = run_all(&ctx);
	ctx_free(&ctx);
	return rc ? 1 : 0;
}
