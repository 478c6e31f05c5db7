/* Per-thread seccomp filters: the policy, the user filter file, installing
 * a program, and the SIGSYS report. See seccomp.h. */
#include "vmm/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"

/* A user filter file is read whole; Firecracker's for three threads is a
 * few KiB. */
#define SECCOMP_FILE_MAX (3 * (SECCOMP_MAX_INSNS * 8 + 64) + 8)

/* The one piece of global state: a SIGSYS handler gets no argument, yet
 * must find the log fd. Set once on main's thread before any filter is
 * installed (so before any trap can happen); the handler only reads it.
 * faults counts the traps it saw, for the seccomp metrics. */
static struct {
	struct logger *_Atomic log;
	atomic_uint_fast64_t faults;
} sigsys_state;

static const char *const thread_names[SECCOMP_THREAD_COUNT] = {
    [SECCOMP_THREAD_VMM] = "vmm",
    [SECCOMP_THREAD_API] = "api",
    [SECCOMP_THREAD_VCPU] = "vcpu",
};

const char *seccomp_thread_name(enum seccomp_thread t)
{
	return (unsigned)t < SECCOMP_THREAD_COUNT ? thread_names[t] : "?";
}

uint64_t seccomp_num_faults(void)
{
	return atomic_load(&sigsys_state.faults);
}

/* --- the SIGSYS report: async-signal-safe, formatted by hand --- */

static size_t put_str(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n < cap)
		buf[n++] = *s++;
	return n;
}

static size_t put_dec(char *buf, size_t n, size_t cap, long v)
{
	char tmp[24];
	size_t i = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0 && n < cap)
		buf[n++] = '-';
	while (i > 0 && n < cap)
		buf[n++] = tmp[--i];
	return n;
}

static void seccomp_on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	struct logger *lg = atomic_load(&sigsys_state.log);
	int nr = si->si_syscall, fd = lg ? lg->fd : STDERR_FILENO;
	char name[17] = "", line[256];
	size_t n = 0, cap = sizeof(line) - 1;

	(void)sig;
	(void)uctx;
	atomic_fetch_add(&sigsys_state.faults, 1);
	/* Raw system calls: no libc or sanitizer wrapper runs in between.
	 * The VMM (main) thread is "main", as in the logger's lines. */
	if (syscall(SYS_gettid) == syscall(SYS_getpid))
		memcpy(name, "main", 5);
	else
		syscall(SYS_prctl, PR_GET_NAME, name, 0, 0, 0);
	n = put_str(line, n, cap, "[");
	n = put_str(line, n, cap, lg ? lg->instance_id : "flint");
	n = put_str(line, n, cap, ":");
	n = put_str(line, n, cap, name);
	n = put_str(line, n, cap, ":ERROR] seccomp: thread ");
	n = put_str(line, n, cap, name);
	n = put_str(line, n, cap, " made system call ");
	n = put_dec(line, n, cap, nr);
	if (nr >= 0 && nr < SECCOMP_SYSCALL_NAMES && seccomp_syscall_names[nr]) {
		n = put_str(line, n, cap, " (");
		n = put_str(line, n, cap, seccomp_syscall_names[nr]);
		n = put_str(line, n, cap, ")");
	}
	if (si->si_arch != AUDIT_ARCH_X86_64)
		n = put_str(line, n, cap, " through a foreign ABI");
	n = put_str(line, n, cap, ", which its filter does not allow; exiting with status 148");
	line[n++] = '\n';
	syscall(SYS_write, fd, line, n);
	syscall(SYS_exit_group, FLINT_EXIT_BAD_SYSCALL);
}

#if !FLINT_SECCOMP_SANITIZED
/* glibc's malloc reads /proc/sys/vm/overcommit_memory the first time it
 * shrinks a thread arena's heap; a filtered thread would trap on that
 * open. With one arena there are no thread heaps to shrink: every thread
 * allocates from the main arena (brk), which flint's few threads share
 * without contention, and no thread start maps and trims a 64 MiB arena.
 * (ASan has its own allocator.) */
static void warm_libc(void)
{
	mallopt(M_ARENA_MAX, 1);
}
#else
static void warm_libc(void)
{
}
#endif

int seccomp_prepare(struct logger *log)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = seccomp_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	atomic_store(&sigsys_state.log, log);
	/* glibc reads the time zone file on the first gmtime_r (every log
	 * line's timestamp): do it now, so no filtered thread ever opens it. */
	tzset();
	warm_libc();
	return sigaction(SIGSYS, &sa, NULL) != 0 ? -errno : 0;
}

/* --- installing --- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int seccomp_load(const struct seccomp_prog *prog)
{
	struct sock_fprog fp = {.len = (unsigned short)prog->len,
				.filter = (struct sock_filter *)prog->insns};

	/* Without CAP_SYS_ADMIN the kernel wants no_new_privs first; it
	 * also keeps an exec'd helper from shedding the filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) != 0 ? -errno : 0;
}

#ifdef FLINT_TEST_HOOKS
/* FLINT_TEST_SECCOMP_VIOLATION=<kind>: that thread, right after its
 * filter, makes a call none of the lists allow (getpgrp: harmless when
 * nothing is filtered, so --no-seccomp survives it). */
static void seccomp_test_violation(const struct seccomp_policy *p, enum seccomp_thread t)
{
	if (p->test_violation == (int)t)
		syscall(SYS_getpgrp);
}

static int seccomp_test_kind(void)
{
	const char *want = getenv("FLINT_TEST_SECCOMP_VIOLATION");

	for (int t = 0; want && t < SECCOMP_THREAD_COUNT; t++)
		if (strcmp(want, thread_names[t]) == 0)
			return t;
	return -1;
}
#else
static void seccomp_test_violation(const struct seccomp_policy *p, enum seccomp_thread t)
{
	(void)p;
	(void)t;
}

static int seccomp_test_kind(void)
{
	return -1;
}
#endif

int seccomp_install(const struct seccomp_policy *p, enum seccomp_thread t)
{
	const struct seccomp_prog *prog;
	uint64_t t0, t1;
	int err;

	if (!p || (unsigned)t >= SECCOMP_THREAD_COUNT)
		return p ? -EINVAL : 0;
	prog = &p->progs[t];
	if (p->mode != SECCOMP_MODE_NONE && prog->len > 0) {
		t0 = now_ns();
		err = seccomp_load(prog);
		t1 = now_ns();
		if (err)
			return err;
		/* bench/bench_seccomp.py reads this line. */
		LOG_DEBUG(p->log, "seccomp: %s filter installed (%zu instructions) in %llu ns",
			  thread_names[t], prog->len, (unsigned long long)(t1 - t0));
	}
	seccomp_test_violation(p, t);
	return 0;
}

void seccomp_install_or_exit(const struct seccomp_policy *p, enum seccomp_thread t)
{
	int err = seccomp_install(p, t);

	if (err) {
		LOG_ERROR(p->log, "seccomp: cannot install the %s thread's filter: %s",
			  seccomp_thread_name(t), strerror(-err));
		_exit(FLINT_EXIT_GENERIC);
	}
}

/* --- the policy and the user's filter file --- */

static uint64_t get_le(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = (v << 8) | b[i];
	return v;
}

/* A cursor over the file's bytes; every read is bounds-checked. */
struct cursor {
	const uint8_t *buf;
	size_t len, off;
};

static int cur_u64(struct cursor *c, uint64_t *v)
{
	if (c->len - c->off < 8)
		return -EINVAL;
	*v = get_le(c->buf + c->off, 8);
	c->off += 8;
	return 0;
}

/* Copy n instructions from the cursor into dst (host order). */
static int cur_insns(struct cursor *c, uint64_t n, struct sock_filter *dst)
{
	if (n > (c->len - c->off) / 8)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++, c->off += 8) {
		dst[i].code = (uint16_t)get_le(c->buf + c->off, 2);
		dst[i].jt = c->buf[c->off + 2];
		dst[i].jf = c->buf[c->off + 3];
		dst[i].k = (uint32_t)get_le(c->buf + c->off + 4, 4);
	}
	return 0;
}

static int thread_by_name(const uint8_t *s, uint64_t len)
{
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
		if (strlen(thread_names[t]) == len && memcmp(s, thread_names[t], len) == 0)
			return t;
	return -1;
}

/* One map entry: a name (u64 length + bytes), then a program (u64 count
 * + count 8-byte instructions), stored at *next in p->user_insns. */
static int parse_entry(struct seccomp_policy *p, struct cursor *c, size_t *next, bool *seen)
{
	uint64_t nlen, ninsns;
	int t;

	if (cur_u64(c, &nlen) != 0 || nlen > c->len - c->off)
		return -EINVAL;
	t = thread_by_name(c->buf + c->off, nlen);
	c->off += nlen;
	if (t < 0 || seen[t] || cur_u64(c, &ninsns) != 0 || ninsns > SECCOMP_MAX_INSNS)
		return -EINVAL;
	if (cur_insns(c, ninsns, p->user_insns + *next) != 0)
		return -EINVAL;
	seen[t] = true;
	p->progs[t] = (struct seccomp_prog){ninsns ? p->user_insns + *next : NULL, ninsns};
	*next += ninsns;
	return 0;
}

/* Firecracker's format: bincode of a map thread name -> Vec<sock_filter>,
 * every integer little-endian, lengths as u64. Must name every thread
 * kind once and nothing else, and use every byte. */
static int parse_map(struct seccomp_policy *p, const uint8_t *buf, size_t len)
{
	struct cursor c = {buf, len, 0};
	bool seen[SECCOMP_THREAD_COUNT] = {false};
	uint64_t count;
	size_t next = 0;

	if (cur_u64(&c, &count) != 0 || count != SECCOMP_THREAD_COUNT)
		return -EINVAL;
	for (uint64_t i = 0; i < count; i++)
		if (parse_entry(p, &c, &next, seen) != 0)
			return -EINVAL;
	return c.off == len ? 0 : -EINVAL;
}

/* Raw struct sock_filter instructions (host order), for every thread. */
static int parse_raw(struct seccomp_policy *p, const uint8_t *buf, size_t len)
{
	struct cursor c = {buf, len, 0};

	if (len == 0 || len % 8 || len / 8 > SECCOMP_MAX_INSNS)
		return -EINVAL;
	if (cur_insns(&c, len / 8, p->user_insns) != 0)
		return -EINVAL;
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
		p->progs[t] = (struct seccomp_prog){p->user_insns, len / 8};
	return 0;
}

int seccomp_policy_parse(struct seccomp_policy *p, const uint8_t *buf, size_t len, struct fault *f)
{
	free(p->user_insns);
	p->user_insns = NULL;
	if (!buf || len == 0) {
		fault_set(f, "the filter file is empty");
		return -EINVAL;
	}
	p->user_insns = calloc(len / 8 + 1, sizeof(struct sock_filter));
	if (!p->user_insns) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	p->mode = SECCOMP_MODE_USER;
	if (parse_map(p, buf, len) == 0 || parse_raw(p, buf, len) == 0)
		return 0;
	fault_set(f,
		  "neither a Firecracker filter map (vmm, api, vcpu) nor raw BPF instructions "
		  "(a multiple of 8 bytes, at most %d instructions)",
		  SECCOMP_MAX_INSNS);
	return -EINVAL;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_size > SECCOMP_FILE_MAX)
		err = -EFBIG;
	else if (!(*out = malloc((size_t)st.st_size + 1)))
		err = -ENOMEM;
	else if (read(fd, *out, (size_t)st.st_size) != st.st_size)
		err = -EIO;
	*len = err ? 0 : (size_t)st.st_size;
	close(fd);
	return err;
}

/* Have the kernel check prog in a throwaway child, so a filter it refuses
 * is reported at start-up rather than by a thread that cannot run without
 * it. The child reports a refusal as its exit status (the errno); once the
 * filter is in, whatever the filter does to the child is fine. Main's
 * thread, before any other thread exists. 0 or -errno. */
static int seccomp_kernel_check(const struct seccomp_prog *prog)
{
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int err = seccomp_load(prog);

		syscall(SYS_exit_group, err ? -err : 0);
		for (;;) /* the user's filter refused exit_group: wait to be killed */
			;
	}
	for (int i = 0; i < 1000 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(1000);
	if (kill(pid, SIGKILL) == 0)
		waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) ? -WEXITSTATUS(st) : 0;
}

static int seccomp_user_check(const struct seccomp_policy *p, struct fault *f)
{
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
		int err = p->progs[t].len ? seccomp_kernel_check(&p->progs[t]) : 0;

		if (err) {
			fault_set(f, "the kernel refuses the %s thread's filter: %s",
				  thread_names[t], strerror(-err));
			return err;
		}
	}
	return 0;
}

int seccomp_policy_init(struct seccomp_policy *p, bool no_seccomp, const char *user_file,
			struct logger *log, struct fault *f)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	memset(p, 0, sizeof(*p));
	p->log = log;
	p->test_violation = seccomp_test_kind();
	if (no_seccomp) {
		p->mode = SECCOMP_MODE_NONE;
		return 0;
	}
	if (!user_file) {
		memcpy(p->progs, seccomp_builtin, sizeof(p->progs));
		return 0;
	}
	err = read_file(user_file, &buf, &len);
	if (err) {
		fault_set(f, "cannot read the seccomp filter %s: %s", user_file, strerror(-err));
		free(buf);
		return err;
	}
	err = seccomp_policy_parse(p, buf, len, f);
	free(buf);
	return err ? err : seccomp_user_check(p, f);
}

void seccomp_policy_destroy(struct seccomp_policy *p)
{
	struct logger *lg = p->log;

	/* The logger may go next: from now on a report goes to stderr. */
	atomic_compare_exchange_strong(&sigsys_state.log, &lg, NULL);
	free(p->user_insns);
	p->user_insns = NULL;
}
