/* seccomp_gen: flint's per-thread system call allowlists, compiled to BPF
 * with libseccomp at build time. Run by the Makefile; prints a C file
 * (build/gen/seccomp_filters.c) holding one `static const struct
 * sock_filter` program per thread kind, for release and sanitized builds,
 * and a table of system call names for the SIGSYS report. flint itself
 * never links libseccomp.
 *
 * Every rule says why the thread needs the call. Rules for one system call
 * are alternatives: a call is allowed if any of them matches. Anything not
 * listed traps (SECCOMP_RET_TRAP) into flint's SIGSYS handler, which logs
 * and exits with 148. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <linux/fs.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/seccomp.h"

struct rule {
	int nr;
	int arg; /* -1: no condition */
	enum scmp_compare op;
	uint64_t a, b; /* EQ: a; MASKED_EQ: (arg & a) == b */
	const char *why;
	bool both; /* and also (argument arg2 & mask2) == a2 */
	int arg2;
	uint64_t mask2, a2;
};

#define ALLOW(name, why)                                                                           \
	{                                                                                          \
		SCMP_SYS(name), -1, SCMP_CMP_EQ, 0, 0, why                                         \
	}
#define ALLOW_IF(name, n, val, why)                                                                \
	{                                                                                          \
		SCMP_SYS(name), n, SCMP_CMP_EQ, (uint64_t)(val), 0, why                            \
	}
/* For an int argument: only its low 32 bits are compared. The register
 * holding an int need not be sign-extended (glibc's syscall macros keep the
 * int type, so AT_FDCWD arrives as 0x00000000ffffff9c), and the kernel reads
 * only those bits anyway. */
#define INT_BITS 0xffffffffu
#define ALLOW_IF32(name, n, val, why)                                                              \
	{                                                                                          \
		SCMP_SYS(name), n, SCMP_CMP_MASKED_EQ, INT_BITS, (uint32_t)(val), why              \
	}
/* Two int arguments must both match. */
#define ALLOW_IF32_2(name, n, val, m, val2, why)                                                   \
	{                                                                                          \
		SCMP_SYS(name), n, SCMP_CMP_MASKED_EQ, INT_BITS, (uint32_t)(val), why, true, m,    \
		    INT_BITS, (uint32_t)(val2)                                                     \
	}
#define ALLOW_WITHOUT(name, n, bits, why)                                                          \
	{                                                                                          \
		SCMP_SYS(name), n, SCMP_CMP_MASKED_EQ, (uint64_t)(bits), 0, why                    \
	}
#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))
#define IOCTL(req, why) ALLOW_IF(ioctl, 1, req, why)

/* The vCPU kick signal (vmm/vcpu.c: SIGRTMIN + 1). glibc's SIGRTMIN is a
 * function; it is 34 on every glibc flint builds with (two real-time
 * signals are reserved for its own threads). main() checks it. */
#define KICK_SIGNAL 35

/* Every thread kind. */
static const struct rule common_rules[] = {
    ALLOW(write, "log lines (one write per line), the SIGSYS report, eventfd signals"),
    ALLOW(futex, "pthread mutexes and condition variables: logger lock, vCPU states, "
		 "API channel"),
    ALLOW_IF(prctl, 0, PR_GET_NAME, "the logger and the SIGSYS report print the thread name"),
    ALLOW(clock_gettime, "log timestamps, latencies (the vDSO's fallback)"),
    ALLOW(gettid, "the logger names the main thread \"main\" (gettid() == getpid())"),
    ALLOW(getpid, "the logger (above); pthread_kill's tgkill(getpid(), ...)"),
    ALLOW(exit_group, "ending flint, including the SIGSYS handler's exit 148"),
    ALLOW(rt_sigreturn, "returning from a signal handler (the vCPU kick)"),
    ALLOW(rt_sigprocmask, "glibc blocks signals around pthread_kill and thread exit"),
    ALLOW(restart_syscall, "a futex wait interrupted by a stop/continue signal resumes"),
    ALLOW(brk, "malloc: its one arena (vmm/seccomp.c sets M_ARENA_MAX to 1)"),
    ALLOW_WITHOUT(mmap, 2, PROT_EXEC, "malloc: large blocks; thread stacks; never executable"),
    ALLOW_WITHOUT(mprotect, 2, PROT_EXEC,
		  "thread stacks (mapped without access, then opened but for the guard page); "
		  "never executable"),
    ALLOW(munmap, "free of large blocks; the VMM unmaps guest memory at exit"),
    ALLOW(mremap, "realloc of large blocks (HTTP and metrics buffers)"),
    ALLOW_IF(madvise, 2, MADV_DONTNEED, "glibc releases a finished thread's stack"),
};

static const struct rule vcpu_rules[] = {
    IOCTL(KVM_RUN, "running the guest"),
    IOCTL(KVM_IRQ_LINE, "serial and i8042 raise their interrupt lines from the exit handlers"),
    IOCTL(KVM_GET_REGS, "naming the guest's rip when KVM cannot emulate an instruction"),
    ALLOW(exit, "the vCPU thread ends when the VM stops"),
};

static const struct rule api_rules[] = {
    ALLOW(epoll_wait, "the API thread's own poll loop"),
    ALLOW(epoll_pwait, "epoll_wait on kernels/libcs that route it through epoll_pwait"),
    ALLOW(epoll_ctl, "watching clients for input and output"),
    ALLOW_IF32(accept4, 3, SOCK_NONBLOCK | SOCK_CLOEXEC,
	       "new API clients on the listening socket, with the flags api/server.c passes"),
    ALLOW(recvfrom, "reading requests (recv)"),
    ALLOW(sendto, "writing answers (send)"),
    ALLOW(read, "draining the channel's eventfds"),
    ALLOW(close, "closing client connections"),
    ALLOW(exit, "the API thread ends at shutdown"),
};

static const struct rule vmm_rules[] = {
    /* The event loop and the devices' data paths. */
    ALLOW(epoll_wait, "the VMM event loop"),
    ALLOW(epoll_pwait, "epoll_wait on kernels/libcs that route it through epoll_pwait"),
    ALLOW(epoll_ctl, "devices add and remove fds (vsock connections, rate-limit pauses)"),
    ALLOW(read, "eventfds, timerfds, console input, vsock sockets"),
    ALLOW(readv, "tap receive (virtio-net rx)"),
    ALLOW(writev, "tap transmit, console output"),
    ALLOW(preadv, "virtio-blk reads"),
    ALLOW(pwritev, "virtio-blk writes"),
    ALLOW(pwrite64, "snapshot memory file"),
    ALLOW(fdatasync, "virtio-blk flush"),
    ALLOW(fsync, "virtio-blk flush, snapshot files"),
    ALLOW(io_uring_enter, "virtio-blk io_engine Async: submitting to and waiting on the drive's "
			  "ring (set up before this filter; the ring's own reads and writes are "
			  "not system calls of this thread)"),
    ALLOW(getrandom, "virtio-rng"),
    ALLOW(timerfd_settime, "rate limiters, the metrics timer, vsock retries"),
    ALLOW(close, "vsock connections, replaced drive images, shutdown"),
    ALLOW(recvfrom, "vsock host sockets (recv, MSG_PEEK for hang-ups)"),
    ALLOW(sendto, "vsock connect replies (send)"),
    ALLOW(sendmsg, "vsock data to host sockets, tap transmit on a socket back-end"),
    ALLOW(shutdown, "vsock half-close towards the host"),
    ALLOW_IF32(accept4, 3, SOCK_NONBLOCK | SOCK_CLOEXEC,
	       "vsock: host-initiated connections on the muxer's Unix socket; only with the "
	       "flags vmux_accept passes"),
    ALLOW_IF32_2(socket, 0, AF_UNIX, 1, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 "vsock: guest-initiated connections to <uds_path>_<port>; only the non-blocking "
		 "Unix stream socket vsock_mux.c makes: no IP, netlink or packet sockets, no "
		 "datagrams"),
    /* connect(2) stays unconditional: the address family is in the sockaddr its
     * second argument points at, and seccomp sees only the pointer. What keeps
     * it to Unix sockets is the socket() rule above and that every socket the
     * VMM thread can hold is AF_UNIX (API listener, vsock muxer and its
     * connections, the page-fault handler's socket). */
    ALLOW(connect, "vsock: guest-initiated connections (socket() is AF_UNIX only)"),
    ALLOW_IF32(fcntl, 1, F_GETFL, "tap: reading the flags before adding O_NONBLOCK"),
    ALLOW_IF32(fcntl, 1, F_SETFL, "tap: O_NONBLOCK; no F_SETOWN/F_SETSIG, F_DUPFD or locks"),
    /* API handlers that run after boot. openat(2)'s path is a pointer, so the
     * rules pin what can be pinned: relative to the working directory only,
     * and exactly the flag sets these open(2) calls pass (glibc's open() is
     * openat(AT_FDCWD, ...), and O_LARGEFILE is 0 on x86-64). No O_PATH,
     * O_DIRECTORY, O_TMPFILE, O_NOFOLLOW games, and O_CREAT only with
     * O_WRONLY. */
    ALLOW_IF32_2(openat, 0, AT_FDCWD, 2, O_RDONLY | O_CLOEXEC,
		 "PATCH /drives: a read-only image (disk_open); diff snapshot: /proc/self/pagemap"),
    ALLOW_IF32_2(openat, 0, AT_FDCWD, 2, O_RDWR | O_CLOEXEC,
		 "PATCH /drives: a writable image (disk_open)"),
    ALLOW_IF32_2(openat, 0, AT_FDCWD, 2, O_RDONLY | O_CLOEXEC | O_NONBLOCK,
		 "PATCH /drives: the new path is checked first (cfg_check_file, read-only drive)"),
    ALLOW_IF32_2(openat, 0, AT_FDCWD, 2, O_RDWR | O_CLOEXEC | O_NONBLOCK,
		 "PATCH /drives: the new path is checked first (cfg_check_file, writable drive)"),
    ALLOW_IF32_2(openat, 0, AT_FDCWD, 2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		 "snapshot create: the state file and a Full snapshot's memory file"),
    ALLOW_IF32_2(openat, 0, AT_FDCWD, 2, O_WRONLY | O_CREAT | O_CLOEXEC,
		 "snapshot create: a Diff snapshot's memory file, written over the base"),
    ALLOW(fstat, "sizing a new drive image or snapshot file"),
    ALLOW(newfstatat, "fstat in glibc >= 2.33; stat of a metrics/log path"),
    ALLOW(ftruncate, "snapshot create: sizing the memory file"),
    ALLOW(lseek, "snapshot files"),
    /* Pausing vCPUs: pthread_kill(SIGRTMIN + 1) with immediate_exit. */
    ALLOW_IF(tgkill, 2, KICK_SIGNAL, "kicking a vCPU out of KVM_RUN; only the kick signal"),
    /* Shutdown. unlink(2) stays unconditional: its only argument is the path
     * pointer. unlinkat() relative to a directory fd opened before the filter
     * would not help either: the fd's number is known only at run time, and
     * these programs are compiled at build time. In a jail it reaches only
     * names in the jail root that uid may remove. */
    ALLOW(unlink, "removing the API and vsock sockets at exit"),
    IOCTL(TCGETS, "restoring the console's terminal mode at exit"),
    IOCTL(TCSETS, "restoring the console's terminal mode at exit"),
    /* Devices. */
    IOCTL(KVM_IRQ_LINE, "legacy devices' interrupts (serial input)"),
    IOCTL(KVM_IRQFD, "virtio-mmio: interrupts assigned/unassigned on device reset"),
    IOCTL(KVM_IOEVENTFD, "virtio-mmio: queue notifiers assigned/unassigned on reset"),
    IOCTL(TUNSETOFFLOAD, "virtio-net: offloads follow the guest's acked features"),
    IOCTL(TUNSETVNETHDRSZ, "virtio-net: the vnet header size"),
    IOCTL(FIONREAD, "metrics: bytes queued in the metrics FIFO"),
    IOCTL(BLKGETSIZE64, "PATCH /drives: size of a block-device image"),
    /* Snapshots, taken and restored with the vCPUs paused. */
    IOCTL(KVM_GET_DIRTY_LOG, "diff snapshots"),
    IOCTL(KVM_GET_REGS, "snapshot: vCPU state"),
    IOCTL(KVM_SET_REGS, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_SREGS, "snapshot: vCPU state"),
    IOCTL(KVM_SET_SREGS, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_FPU, "snapshot: vCPU state"),
    IOCTL(KVM_SET_FPU, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_XSAVE, "snapshot: vCPU state"),
    IOCTL(KVM_SET_XSAVE, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_XCRS, "snapshot: vCPU state"),
    IOCTL(KVM_SET_XCRS, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_MSRS, "snapshot: vCPU state"),
    IOCTL(KVM_SET_MSRS, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_LAPIC, "snapshot: vCPU state"),
    IOCTL(KVM_SET_LAPIC, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_MP_STATE, "snapshot: vCPU state"),
    IOCTL(KVM_SET_MP_STATE, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_VCPU_EVENTS, "snapshot: vCPU state"),
    IOCTL(KVM_SET_VCPU_EVENTS, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_DEBUGREGS, "snapshot: vCPU state"),
    IOCTL(KVM_SET_DEBUGREGS, "snapshot restore: vCPU state"),
    IOCTL(KVM_GET_CPUID2, "snapshot: vCPU state"),
    IOCTL(KVM_GET_MSR_INDEX_LIST, "snapshot: which MSRs to save (on the /dev/kvm fd)"),
    IOCTL(KVM_GET_TSC_KHZ, "snapshot: the TSC frequency to restore"),
    IOCTL(KVM_SET_TSC_KHZ, "snapshot restore: the TSC frequency"),
    IOCTL(KVM_GET_IRQCHIP, "snapshot: PIC and IOAPIC state"),
    IOCTL(KVM_SET_IRQCHIP, "snapshot restore: PIC and IOAPIC state"),
    IOCTL(KVM_GET_PIT2, "snapshot: PIT state"),
    IOCTL(KVM_SET_PIT2, "snapshot restore: PIT state"),
    IOCTL(KVM_GET_CLOCK, "snapshot: kvmclock"),
    IOCTL(KVM_SET_CLOCK, "snapshot restore: kvmclock"),
};

/* Sanitized builds only (ASan/UBSan and FLINT_TEST_HOOKS, never release):
 * what the sanitizer runtimes call on their own. */
static const struct rule san_rules[] = {
    ALLOW(madvise, "ASan's allocator releases and tags shadow and chunk memory"),
    ALLOW(sched_yield, "sanitizer spin locks"),
    ALLOW(sigaltstack, "ASan's alternate signal stack set-up and tear-down per thread"),
    ALLOW(rt_sigaction, "the leak checker's tracer installs handlers"),
    ALLOW(prctl, "the leak checker (PR_SET_PTRACER, PR_GET_DUMPABLE, ...)"),
    ALLOW(clone, "the leak checker runs a tracer task at exit"),
    ALLOW(ptrace, "the leak checker stops and inspects threads"),
    ALLOW(wait4, "the leak checker waits for its tracer"),
    ALLOW(openat, "the leak checker reads /proc/self/maps and /proc/self/task"),
    ALLOW(read, "sanitizer runtime reading /proc files"),
    ALLOW(close, "sanitizer runtime closing /proc files"),
    ALLOW(getdents64, "the leak checker lists threads"),
    ALLOW(getdents, "the leak checker lists threads (its raw x86-64 call)"),
    ALLOW(open, "the leak checker opens /proc files (its raw x86-64 call)"),
    ALLOW(newfstatat, "sanitizer runtime file sizes"),
    ALLOW(fstat, "sanitizer runtime file sizes"),
    ALLOW(lseek, "sanitizer runtime reading /proc files"),
    ALLOW(readlink, "sanitizer reports name the binary"),
    ALLOW(tgkill, "abort() after a fatal sanitizer report"),
    ALLOW(exit, "the leak checker's tracer ends"),
    ALLOW(getppid, "the leak checker's tracer checks its parent is alive"),
    ALLOW(kill, "the leak checker's tracer stops and resumes threads"),
    ALLOW(getrusage, "sanitizer statistics"),
    ALLOW(sched_getaffinity, "sanitizer runtime CPU count"),
    ALLOW(arch_prctl, "the leak checker reads thread pointers"),
};

/* Sanitized builds only: a report's stack is symbolized by a helper the
 * sanitizers start (pipe, fork, execve). Refused with EPERM, the report
 * still completes, with raw addresses, instead of ending in SIGSYS. */
static const int san_refused[] = {SCMP_SYS(pipe),  SCMP_SYS(pipe2),  SCMP_SYS(fork),
				  SCMP_SYS(vfork), SCMP_SYS(execve), SCMP_SYS(execveat)};

struct thread_kind {
	const char *name; /* C identifier suffix and filter-file key */
	const struct rule *rules;
	size_t n;
};

#define KIND(nm, r)                                                                                \
	{                                                                                          \
		nm, r, sizeof(r) / sizeof((r)[0])                                                  \
	}
static const struct thread_kind kinds[] = {
    KIND("vmm", vmm_rules),
    KIND("api", api_rules),
    KIND("vcpu", vcpu_rules),
};

static int add_rules(scmp_filter_ctx ctx, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp c[2] = {
		    {.arg = (unsigned)r[i].arg,
		     .op = r[i].op,
		     .datum_a = r[i].a,
		     .datum_b = r[i].b},
		    {.arg = (unsigned)r[i].arg2,
		     .op = SCMP_CMP_MASKED_EQ,
		     .datum_a = r[i].mask2,
		     .datum_b = r[i].a2},
		};
		int err = r[i].arg < 0 ? seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, r[i].nr, 0)
				       : seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, r[i].nr,
								      r[i].both ? 2 : 1, c);

		/* -EEXIST: the same unconditional rule twice (common + own). */
		if (err && err != -EEXIST) {
			fprintf(stderr, "seccomp_gen: rule %zu (syscall %d, %s): %s\n", i, r[i].nr,
				r[i].why, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* An unconditional rule for a call makes its conditional ones moot, and
 * libseccomp refuses to mix them: drop conditional rules whose call is
 * allowed outright elsewhere in the same program. */
static bool allowed_outright(const struct rule *const *sets, const size_t *ns, size_t nsets, int nr)
{
	for (size_t s = 0; s < nsets; s++)
		for (size_t i = 0; i < ns[s]; i++)
			if (sets[s][i].nr == nr && sets[s][i].arg < 0)
				return true;
	return false;
}

static int add_set(scmp_filter_ctx ctx, const struct rule *const *sets, const size_t *ns,
		   size_t nsets)
{
	for (size_t s = 0; s < nsets; s++) {
		for (size_t i = 0; i < ns[s]; i++) {
			const struct rule *r = &sets[s][i];

			if (r->arg >= 0 && allowed_outright(sets, ns, nsets, r->nr))
				continue;
			if (add_rules(ctx, r, 1) != 0)
				return -1;
		}
	}
	return 0;
}

struct sock_filter_raw {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

static long export_bpf(scmp_filter_ctx ctx, struct sock_filter_raw **out)
{
	FILE *tmp = tmpfile();
	long size, n = -1;

	if (!tmp || seccomp_export_bpf(ctx, fileno(tmp)) != 0)
		goto done;
	size = lseek(fileno(tmp), 0, SEEK_END);
	if (size <= 0 || size % 8 || lseek(fileno(tmp), 0, SEEK_SET) != 0)
		goto done;
	*out = malloc((size_t)size);
	if (*out && read(fileno(tmp), *out, (size_t)size) == size)
		n = size / 8;
done:
	if (tmp)
		fclose(tmp);
	return n;
}

/* Compile one thread kind's rules (plus the common ones, plus the
 * sanitizer's if san) into raw BPF in *out. Returns the instruction count. */
static long compile(const struct thread_kind *k, bool san, struct sock_filter_raw **out)
{
	const struct rule *sets[] = {common_rules, k->rules, san_rules};
	const size_t ns[] = {sizeof(common_rules) / sizeof(common_rules[0]), k->n,
			     sizeof(san_rules) / sizeof(san_rules[0])};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	long n = -1;

	if (!ctx)
		return -1;
	/* A call made through another ABI (int 0x80, x32) traps as well. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP) != 0)
		goto done;
	/* A binary search over system call numbers: a short path for each. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) != 0)
		goto done;
	for (size_t i = 0; san && i < ARRAY_LEN(san_refused); i++)
		if (seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(EPERM), san_refused[i], 0) != 0)
			goto done;
	if (add_set(ctx, sets, ns, san ? 3 : 2) == 0)
		n = export_bpf(ctx, out);
done:
	seccomp_release(ctx);
	return n;
}

static int emit_program(const struct thread_kind *k, bool san)
{
	struct sock_filter_raw *insns = NULL;
	long n = compile(k, san, &insns);

	if (n <= 0 || n > 4096) {
		fprintf(stderr, "seccomp_gen: compiling the %s filter failed\n", k->name);
		free(insns);
		return -1;
	}
	printf("static const struct sock_filter %s_prog[%ld] = {\n", k->name, n);
	for (long i = 0; i < n; i++)
		printf("\t{0x%04x, %u, %u, 0x%08x},\n", insns[i].code, insns[i].jt, insns[i].jf,
		       insns[i].k);
	printf("};\n\n");
	free(insns);
	return 0;
}

static int emit_variant(bool san)
{
	printf("#if %sFLINT_SECCOMP_SANITIZED\n\n", san ? "" : "!");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (emit_program(&kinds[i], san) != 0)
			return -1;
	printf("#endif\n\n");
	return 0;
}

static void emit_names(void)
{
	printf("const char *const seccomp_syscall_names[SECCOMP_SYSCALL_NAMES] = {\n");
	for (int nr = 0; nr < SECCOMP_SYSCALL_NAMES; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name)
			printf("\t[%d] = \"%s\",\n", nr, name);
		free(name);
	}
	printf("};\n");
}

/* vmm/seccomp.c's test hook makes this call to prove a filter traps: it
 * must stay out of every list. */
static bool hook_call_listed(void)
{
	const struct rule *sets[] = {common_rules, vmm_rules, api_rules, vcpu_rules, san_rules};
	const size_t ns[] = {ARRAY_LEN(common_rules), ARRAY_LEN(vmm_rules), ARRAY_LEN(api_rules),
			     ARRAY_LEN(vcpu_rules), ARRAY_LEN(san_rules)};

	for (size_t s = 0; s < ARRAY_LEN(sets); s++)
		for (size_t i = 0; i < ns[s]; i++)
			if (sets[s][i].nr == SCMP_SYS(getpgrp))
				return true;
	return false;
}

int main(void)
{
	if (hook_call_listed()) {
		fprintf(stderr, "seccomp_gen: getpgrp (the test hook's call) must not be listed\n");
		return 1;
	}
	if (SIGRTMIN + 1 != KICK_SIGNAL) {
		fprintf(stderr, "seccomp_gen: SIGRTMIN + 1 is %d, not %d\n", SIGRTMIN + 1,
			KICK_SIGNAL);
		return 1;
	}
	printf("/* Generated by tools/seccomp_gen.c at build time: do not edit. */\n"
	       "#include \"vmm/seccomp.h\"\n\n");
	if (emit_variant(false) != 0 || emit_variant(true) != 0)
		return 1;
	printf("const struct seccomp_prog seccomp_builtin[SECCOMP_THREAD_COUNT] = {\n"
	       "\t[SECCOMP_THREAD_VMM] = {vmm_prog, sizeof(vmm_prog) / sizeof(vmm_prog[0])},\n"
	       "\t[SECCOMP_THREAD_API] = {api_prog, sizeof(api_prog) / sizeof(api_prog[0])},\n"
	       "\t[SECCOMP_THREAD_VCPU] = {vcpu_prog, sizeof(vcpu_prog) / "
	       "sizeof(vcpu_prog[0])},\n};\n\n");
	emit_names();
	return 0;
}
