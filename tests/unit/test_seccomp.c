/* Seccomp: the generated programs (through a small classic-BPF evaluator
 * and loaded for real in forked children), the SIGSYS report, and the user
 * filter file parser. Built sanitized, so the programs checked are the
 * sanitized variant: checks that differ in release builds say so. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/audit.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"

/* --- a classic BPF evaluator over struct seccomp_data --- */

static uint32_t data_word(const struct seccomp_data *d, uint32_t off)
{
	uint32_t w;

	assert_true(off % 4 == 0 && off + 4 <= sizeof(*d));
	memcpy(&w, (const uint8_t *)d + off, 4);
	return w;
}

static uint32_t alu(uint16_t op, uint32_t a, uint32_t v)
{
	switch (op) {
	case BPF_ADD:
		return a + v;
	case BPF_SUB:
		return a - v;
	case BPF_AND:
		return a & v;
	case BPF_OR:
		return a | v;
	case BPF_LSH:
		return a << (v & 31);
	case BPF_RSH:
		return a >> (v & 31);
	default:
		fail_msg("ALU op %#x not handled", op);
	}
	return 0;
}

static bool jump_taken(uint16_t op, uint32_t a, uint32_t v)
{
	switch (op) {
	case BPF_JEQ:
		return a == v;
	case BPF_JGT:
		return a > v;
	case BPF_JGE:
		return a >= v;
	case BPF_JSET:
		return (a & v) != 0;
	default:
		fail_msg("JMP op %#x not handled", op);
	}
	return false;
}

/* Run prog on d; returns the SECCOMP_RET_* value. */
static uint32_t bpf_run(const struct seccomp_prog *prog, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};

	for (size_t pc = 0; pc < prog->len; pc++) {
		const struct sock_filter *i = &prog->insns[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			a = BPF_MODE(i->code) == BPF_ABS   ? data_word(d, i->k)
			    : BPF_MODE(i->code) == BPF_MEM ? mem[i->k % BPF_MEMWORDS]
							   : i->k;
			break;
		case BPF_LDX:
			x = BPF_MODE(i->code) == BPF_MEM ? mem[i->k % BPF_MEMWORDS] : i->k;
			break;
		case BPF_ST:
			mem[i->k % BPF_MEMWORDS] = a;
			break;
		case BPF_STX:
			mem[i->k % BPF_MEMWORDS] = x;
			break;
		case BPF_ALU:
			a = alu(BPF_OP(i->code), a, src);
			break;
		case BPF_JMP:
			if (BPF_OP(i->code) == BPF_JA)
				pc += i->k;
			else
				pc += jump_taken(BPF_OP(i->code), a, src) ? i->jt : i->jf;
			break;
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? a : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		default:
			fail_msg("BPF class %#x not handled", BPF_CLASS(i->code));
		}
	}
	fail_msg("program fell off its end");
	return 0;
}

static uint32_t verdict4(enum seccomp_thread t, int nr, uint64_t a0, uint64_t a1, uint64_t a2,
			 uint64_t a3)
{
	struct seccomp_data d = {
	    .nr = nr, .arch = AUDIT_ARCH_X86_64, .args = {a0, a1, a2, a3, 0, 0}};

	return bpf_run(&seccomp_builtin[t], &d) & SECCOMP_RET_ACTION_FULL;
}

static uint32_t verdict(enum seccomp_thread t, int nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	return verdict4(t, nr, a0, a1, a2, 0);
}

#define ALLOWED(t, nr, a0, a1, a2) assert_int_equal(verdict(t, nr, a0, a1, a2), SECCOMP_RET_ALLOW)
#define TRAPPED(t, nr, a0, a1, a2) assert_int_equal(verdict(t, nr, a0, a1, a2), SECCOMP_RET_TRAP)
/* A syscall's int argument as the kernel sees it: glibc sign-extends it. */
#define SX(v)	     ((uint64_t)(int64_t)(int)(v))
#define ACCEPT_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

static void test_every_thread_has_a_program(void **state)
{
	(void)state;
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
		assert_non_null(seccomp_builtin[t].insns);
		assert_true(seccomp_builtin[t].len > 4);
		assert_true(seccomp_builtin[t].len <= SECCOMP_MAX_INSNS);
	}
}

static void test_common_calls_allowed_everywhere(void **state)
{
	(void)state;
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
		ALLOWED(t, SYS_write, 2, 0, 0);
		ALLOWED(t, SYS_futex, 0, 0, 0);
		ALLOWED(t, SYS_exit_group, 148, 0, 0);
		ALLOWED(t, SYS_prctl, PR_GET_NAME, 0, 0);
		ALLOWED(t, SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE);
		ALLOWED(t, SYS_mprotect, 0, 4096, PROT_READ);
	}
}

static void test_dangerous_calls_trapped_everywhere(void **state)
{
	(void)state;
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
#if FLINT_SECCOMP_SANITIZED /* so a sanitizer report's symbolizer fails softly */
		assert_int_equal(verdict(t, SYS_execve, 0, 0, 0), SECCOMP_RET_ERRNO);
#else
		TRAPPED(t, SYS_execve, 0, 0, 0);
#endif
		TRAPPED(t, SYS_getpgrp, 0, 0, 0); /* the test hook's call */
		TRAPPED(t, SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC);
		TRAPPED(t, SYS_mprotect, 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
		TRAPPED(t, SYS_ioctl, 3, KVM_CREATE_VM, 0);
		TRAPPED(t, SYS_ioctl, 3, KVM_SET_USER_MEMORY_REGION, 0);
		TRAPPED(t, SYS_socket, AF_INET, SOCK_STREAM, 0);
		TRAPPED(t, SYS_mount, 0, 0, 0);
		TRAPPED(t, SYS_bpf, 0, 0, 0);
	}
}

static void test_foreign_abi_trapped(void **state)
{
	struct seccomp_data d = {.nr = 4 /* i386 write */, .arch = AUDIT_ARCH_I386};
	struct seccomp_data x32 = {.nr = 0x40000000 | SYS_write, .arch = AUDIT_ARCH_X86_64};

	(void)state;
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
		assert_int_equal(bpf_run(&seccomp_builtin[t], &d) & SECCOMP_RET_ACTION_FULL,
				 SECCOMP_RET_TRAP);
		assert_int_not_equal(bpf_run(&seccomp_builtin[t], &x32) & SECCOMP_RET_ACTION_FULL,
				     SECCOMP_RET_ALLOW);
	}
}

static void test_vcpu_list(void **state)
{
	(void)state;
	ALLOWED(SECCOMP_THREAD_VCPU, SYS_ioctl, 10, KVM_RUN, 0);
	ALLOWED(SECCOMP_THREAD_VCPU, SYS_ioctl, 10, KVM_IRQ_LINE, 0);
	TRAPPED(SECCOMP_THREAD_VCPU, SYS_ioctl, 10, KVM_SET_REGS, 0);
	TRAPPED(SECCOMP_THREAD_VCPU, SYS_ioctl, 10, TUNSETOFFLOAD, 0);
	TRAPPED(SECCOMP_THREAD_VCPU, SYS_accept4, 3, 0, 0);
	TRAPPED(SECCOMP_THREAD_VCPU, SYS_connect, 3, 0, 0);
	TRAPPED(SECCOMP_THREAD_VCPU, SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	TRAPPED(SECCOMP_THREAD_VCPU, SYS_pwritev, 3, 0, 0);
}

static void test_api_list(void **state)
{
	(void)state;
	assert_int_equal(verdict4(SECCOMP_THREAD_API, SYS_accept4, 3, 0, 0, ACCEPT_FLAGS),
			 SECCOMP_RET_ALLOW);
	/* Only the flags api/server.c passes: a blocking accept is refused. */
	assert_int_equal(verdict4(SECCOMP_THREAD_API, SYS_accept4, 3, 0, 0, 0), SECCOMP_RET_TRAP);
	assert_int_equal(verdict4(SECCOMP_THREAD_API, SYS_accept4, 3, 0, 0, SOCK_CLOEXEC),
			 SECCOMP_RET_TRAP);
	ALLOWED(SECCOMP_THREAD_API, SYS_epoll_wait, 3, 0, 0);
	ALLOWED(SECCOMP_THREAD_API, SYS_recvfrom, 3, 0, 0);
	ALLOWED(SECCOMP_THREAD_API, SYS_sendto, 3, 0, 0);
	TRAPPED(SECCOMP_THREAD_API, SYS_ioctl, 3, KVM_RUN, 0);
	TRAPPED(SECCOMP_THREAD_API, SYS_ioctl, 3, KVM_IRQ_LINE, 0);
	TRAPPED(SECCOMP_THREAD_API, SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	TRAPPED(SECCOMP_THREAD_API, SYS_connect, 3, 0, 0);
	TRAPPED(SECCOMP_THREAD_API, SYS_pwritev, 3, 0, 0);
	TRAPPED(SECCOMP_THREAD_API, SYS_getrandom, 0, 0, 0);
}

static void test_vmm_list(void **state)
{
	(void)state;
	ALLOWED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, KVM_IRQ_LINE, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, KVM_IRQFD, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, KVM_GET_DIRTY_LOG, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, KVM_GET_REGS, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, KVM_SET_XSAVE, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, TUNSETOFFLOAD, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_socket, AF_UNIX, SOCK_STREAM | ACCEPT_FLAGS, 0);
	assert_int_equal(verdict4(SECCOMP_THREAD_VMM, SYS_accept4, 3, 0, 0, ACCEPT_FLAGS),
			 SECCOMP_RET_ALLOW);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_fcntl, 3, F_GETFL, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_fcntl, 3, F_SETFL, O_NONBLOCK);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_preadv, 3, 0, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_getrandom, 0, 0, 0);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_tgkill, 1, 2, SIGRTMIN + 1);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, KVM_RUN, 0);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, KVM_CREATE_VCPU, 0);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_ioctl, 3, TUNSETIFF, 0);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_socket, AF_INET6, SOCK_STREAM, 0);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_socket, AF_NETLINK, SOCK_RAW, 0);
	/* Unix sockets: only the non-blocking stream socket vsock makes. */
	TRAPPED(SECCOMP_THREAD_VMM, SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_socket, AF_UNIX, SOCK_DGRAM | ACCEPT_FLAGS, 0);
	assert_int_equal(verdict4(SECCOMP_THREAD_VMM, SYS_accept4, 3, 0, 0, 0), SECCOMP_RET_TRAP);
	/* fcntl: flags only; no fd duplication, owner/signal or locks. */
	TRAPPED(SECCOMP_THREAD_VMM, SYS_fcntl, 3, F_DUPFD, 100);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_fcntl, 3, F_SETOWN, 1);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_fcntl, 3, F_SETLK, 0);
#if !FLINT_SECCOMP_SANITIZED /* the sanitizers' abort() may tgkill anything */
	TRAPPED(SECCOMP_THREAD_VMM, SYS_tgkill, 1, 2, SIGKILL);
#endif
}

/* openat on the VMM thread: the exact flag sets of PATCH /drives and
 * snapshot create, relative to the working directory. Sanitized builds let
 * the leak checker open anything, so there only the release lists are
 * narrow; the integration tests run the release binary through every path. */
static void test_vmm_openat(void **state)
{
	static const int ok[] = {
	    O_RDONLY | O_CLOEXEC,
	    O_RDWR | O_CLOEXEC,
	    O_RDONLY | O_CLOEXEC | O_NONBLOCK,
	    O_RDWR | O_CLOEXEC | O_NONBLOCK,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    O_WRONLY | O_CREAT | O_CLOEXEC,
	};
	static const int bad[] = {
	    O_RDONLY,
	    O_PATH | O_CLOEXEC,
	    O_RDWR | O_CREAT | O_CLOEXEC,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC,
	    O_TMPFILE | O_RDWR | O_CLOEXEC,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ALLOWED(SECCOMP_THREAD_VMM, SYS_openat, SX(AT_FDCWD), 0, ok[i]);
		/* Never on the API or vCPU threads. */
		if (!FLINT_SECCOMP_SANITIZED) {
			TRAPPED(SECCOMP_THREAD_API, SYS_openat, SX(AT_FDCWD), 0, ok[i]);
			TRAPPED(SECCOMP_THREAD_VCPU, SYS_openat, SX(AT_FDCWD), 0, ok[i]);
		}
	}
	if (FLINT_SECCOMP_SANITIZED)
		return;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TRAPPED(SECCOMP_THREAD_VMM, SYS_openat, SX(AT_FDCWD), 0, bad[i]);
	/* Relative to some other directory fd. */
	TRAPPED(SECCOMP_THREAD_VMM, SYS_openat, 5, 0, O_RDONLY | O_CLOEXEC);
	/* An int argument counts by its low 32 bits, as the kernel reads it:
	 * glibc leaves AT_FDCWD zero-extended in the register. */
	ALLOWED(SECCOMP_THREAD_VMM, SYS_openat, (uint32_t)AT_FDCWD, 0, O_RDONLY | O_CLOEXEC);
	TRAPPED(SECCOMP_THREAD_VMM, SYS_openat, 0xffffff9c00000005ull, 0, O_RDONLY | O_CLOEXEC);
	ALLOWED(SECCOMP_THREAD_VMM, SYS_openat, SX(AT_FDCWD), 0,
		0xffffffff00000000ull | (O_RDWR | O_CLOEXEC));
	TRAPPED(SECCOMP_THREAD_VMM, SYS_open, 0, O_RDONLY | O_CLOEXEC, 0);
}

/* --- loaded for real --- */

static int child_status(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static struct seccomp_policy builtin_policy(struct logger *lg)
{
	struct seccomp_policy p;
	struct fault f = {""};

	assert_int_equal(seccomp_policy_init(&p, false, NULL, lg, &f), 0);
	return p;
}

/* In a child, install kind t and make call nr; the child exits 0 if the
 * call returned. Raw exit: no sanitizer exit handlers run after the filter. */
static int run_in_filtered_child(enum seccomp_thread t, long nr)
{
	struct seccomp_policy p = builtin_policy(NULL);
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSYS, SIG_DFL); /* cmocka catches it */
		if (seccomp_install(&p, t) != 0)
			syscall(SYS_exit_group, 99);
		syscall(nr, 0, 0, 0);
		syscall(SYS_exit_group, 0);
	}
	return child_status(pid);
}

static void test_kernel_accepts_and_enforces(void **state)
{
	(void)state;
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
		int ok = run_in_filtered_child(t, SYS_getpid);
		int bad = run_in_filtered_child(t, SYS_getpgrp);

		assert_true(WIFEXITED(ok) && WEXITSTATUS(ok) == 0);
		/* No SIGSYS handler in the child: the default action kills it. */
		assert_true(WIFSIGNALED(bad) && WTERMSIG(bad) == SIGSYS);
	}
}

static void *violating_vcpu(void *arg)
{
	prctl(PR_SET_NAME, "fc_vcpu 3", 0, 0, 0);
	if (seccomp_install(arg, SECCOMP_THREAD_VCPU) != 0)
		syscall(SYS_exit_group, 98);
	syscall(SYS_getpgrp);
	return NULL;
}

/* The handler logs one line naming the call and the thread, exits 148. */
static void test_sigsys_report(void **state)
{
	struct logger lg;
	char buf[512] = "";
	int pfd[2];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	log_init(&lg, "unit-vm");
	lg.fd = pfd[1];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct seccomp_policy p = builtin_policy(&lg);
		pthread_t th = 0;

		if (seccomp_prepare(&lg) != 0 || pthread_create(&th, NULL, violating_vcpu, &p) != 0)
			syscall(SYS_exit_group, 99);
		pthread_join(th, NULL);
		syscall(SYS_exit_group, 0);
	}
	close(pfd[1]);
	int st = child_status(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 148);
	assert_true(read(pfd[0], buf, sizeof(buf) - 1) > 0);
	close(pfd[0]);
	assert_non_null(strstr(buf, "[unit-vm:fc_vcpu 3:ERROR]"));
	assert_non_null(strstr(buf, "system call 111 (getpgrp)"));
	assert_non_null(strchr(buf, '\n'));
	log_destroy(&lg);
}

static void test_no_seccomp_installs_nothing(void **state)
{
	struct seccomp_policy p;
	struct fault f = {""};
	pid_t pid;

	(void)state;
	assert_int_equal(seccomp_policy_init(&p, true, NULL, NULL, &f), 0);
	assert_int_equal(p.mode, SECCOMP_MODE_NONE);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		seccomp_install(&p, SECCOMP_THREAD_VCPU);
		syscall(SYS_exit_group, prctl(PR_GET_SECCOMP) == 0 ? 0 : 1);
	}
	int st = child_status(pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(seccomp_install(NULL, SECCOMP_THREAD_VMM), 0);
}

/* --- the user filter file --- */

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void put_le(struct buf *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void put_insn(struct buf *b, uint16_t code, uint32_t k)
{
	put_le(b, code, 2);
	put_le(b, 0, 2);
	put_le(b, k, 4);
}

static void put_entry(struct buf *b, const char *name, int ninsns)
{
	put_le(b, strlen(name), 8);
	memcpy(b->b + b->n, name, strlen(name));
	b->n += strlen(name);
	put_le(b, (uint64_t)ninsns, 8);
	for (int i = 0; i < ninsns; i++)
		put_insn(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
}

static int parse(const struct buf *b, struct seccomp_policy *p)
{
	struct fault f = {""};

	memset(p, 0, sizeof(*p));
	return seccomp_policy_parse(p, b->b, b->n, &f);
}

static void test_user_map(void **state)
{
	struct seccomp_policy p;
	struct buf b = {.n = 0};

	(void)state;
	put_le(&b, 3, 8);
	put_entry(&b, "vcpu", 2);
	put_entry(&b, "vmm", 1);
	put_entry(&b, "api", 0); /* empty: no filter for the API thread */
	assert_int_equal(parse(&b, &p), 0);
	assert_int_equal(p.mode, SECCOMP_MODE_USER);
	assert_int_equal(p.progs[SECCOMP_THREAD_VCPU].len, 2);
	assert_int_equal(p.progs[SECCOMP_THREAD_VMM].len, 1);
	assert_int_equal(p.progs[SECCOMP_THREAD_API].len, 0);
	assert_int_equal(p.progs[SECCOMP_THREAD_VMM].insns[0].k, SECCOMP_RET_ALLOW);
	seccomp_policy_destroy(&p);
}

static void test_user_raw(void **state)
{
	struct seccomp_policy p;
	struct buf b = {.n = 0};

	(void)state;
	put_insn(&b, BPF_LD | BPF_W | BPF_ABS, 0);
	put_insn(&b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	assert_int_equal(parse(&b, &p), 0);
	for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
		assert_int_equal(p.progs[t].len, 2);
		assert_int_equal(p.progs[t].insns[0].code, BPF_LD | BPF_W | BPF_ABS);
	}
	seccomp_policy_destroy(&p);
}

static void test_user_hostile_files(void **state)
{
	struct seccomp_policy p;
	struct buf b;

	(void)state;
	b.n = 0; /* empty */
	assert_int_equal(parse(&b, &p), -EINVAL);
	seccomp_policy_destroy(&p);
	b.n = 0; /* not a multiple of 8, not a map */
	put_le(&b, 1, 3);
	assert_int_equal(parse(&b, &p), -EINVAL);
	seccomp_policy_destroy(&p);
	b.n = 0; /* raw, too long */
	for (int i = 0; i < SECCOMP_MAX_INSNS + 1 && b.n + 8 <= sizeof(b.b); i++)
		put_insn(&b, BPF_RET | BPF_K, 0);
	if (b.n / 8 > SECCOMP_MAX_INSNS) {
		assert_int_equal(parse(&b, &p), -EINVAL);
		seccomp_policy_destroy(&p);
	}
	b.n = 0; /* a map with a huge name length: read as raw (3 instructions) */
	put_le(&b, 3, 8);
	put_le(&b, UINT64_MAX, 8);
	put_le(&b, 0, 8);
	assert_int_equal(parse(&b, &p), 0);
	assert_int_equal(p.progs[SECCOMP_THREAD_VMM].len, 3);
	seccomp_policy_destroy(&p);
	b.n = 0; /* a map with a huge program length, odd size: refused */
	put_le(&b, 3, 8);
	put_entry(&b, "vmm", 0);
	b.n -= 8;
	put_le(&b, UINT64_MAX / 8, 8);
	put_le(&b, 0, 1);
	assert_int_equal(parse(&b, &p), -EINVAL);
	seccomp_policy_destroy(&p);
}

static void test_user_map_names_checked(void **state)
{
	struct seccomp_policy p;
	struct buf b = {.n = 0};

	(void)state;
	/* Duplicate "vmm", no "api"; padded to an odd size so it is not raw. */
	put_le(&b, 3, 8);
	put_entry(&b, "vmm", 1);
	put_entry(&b, "vmm", 1);
	put_entry(&b, "vcpu", 1);
	put_le(&b, 0, 1);
	assert_int_equal(parse(&b, &p), -EINVAL);
	seccomp_policy_destroy(&p);
	b.n = 0; /* unknown thread name */
	put_le(&b, 3, 8);
	put_entry(&b, "vmm", 1);
	put_entry(&b, "gpu", 1);
	put_entry(&b, "vcpu", 1);
	put_le(&b, 0, 1);
	assert_int_equal(parse(&b, &p), -EINVAL);
	seccomp_policy_destroy(&p);
}

static void test_user_file_errors(void **state)
{
	struct seccomp_policy p;
	struct fault f = {""};

	(void)state;
	assert_int_equal(seccomp_policy_init(&p, false, "/nonexistent/filter.bpf", NULL, &f),
			 -ENOENT);
	assert_non_null(strstr(f.msg, "/nonexistent/filter.bpf"));
	seccomp_policy_destroy(&p);
	assert_int_equal(seccomp_policy_init(&p, false, "/dev/null", NULL, &f), -EFBIG);
	seccomp_policy_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_thread_has_a_program),
	    cmocka_unit_test(test_common_calls_allowed_everywhere),
	    cmocka_unit_test(test_dangerous_calls_trapped_everywhere),
	    cmocka_unit_test(test_foreign_abi_trapped),
	    cmocka_unit_test(test_vcpu_list),
	    cmocka_unit_test(test_api_list),
	    cmocka_unit_test(test_vmm_list),
	    cmocka_unit_test(test_vmm_openat),
	    cmocka_unit_test(test_kernel_accepts_and_enforces),
	    cmocka_unit_test(test_sigsys_report),
	    cmocka_unit_test(test_no_seccomp_installs_nothing),
	    cmocka_unit_test(test_user_map),
	    cmocka_unit_test(test_user_raw),
	    cmocka_unit_test(test_user_hostile_files),
	    cmocka_unit_test(test_user_map_names_checked),
	    cmocka_unit_test(test_user_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
