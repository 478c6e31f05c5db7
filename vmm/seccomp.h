/* Per-thread seccomp filters. flint has three thread kinds (API, VMM,
 * vCPU); each installs its own allowlist before it handles any client or
 * guest input. The allowlists are tables in tools/seccomp_gen.c, compiled
 * to BPF with libseccomp at build time into build/gen/seccomp_filters.c, so
 * flint does not link libseccomp and installing a filter is one seccomp(2)
 * call.
 *
 * A system call outside the list traps (SECCOMP_RET_TRAP): a SIGSYS handler
 * logs one line naming the system call and the thread, and ends flint with
 * status 148 (FLINT_EXIT_BAD_SYSCALL, Firecracker's BadSyscall).
 *
 * Threads: seccomp_policy_init() and seccomp_prepare() run once on
 * main's thread before any other thread exists; seccomp_install() runs on
 * the thread it filters; the policy is read-only once threads exist. */
#ifndef FLINT_VMM_SECCOMP_H
#define FLINT_VMM_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sanitized builds (ASan/UBSan, FLINT_TEST_HOOKS) get the sanitizer
 * runtime's extra system calls in every list; release builds do not. */
#if defined(FLINT_TEST_HOOKS) || defined(__SANITIZE_ADDRESS__)
#define FLINT_SECCOMP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLINT_SECCOMP_SANITIZED 1
#endif
#endif
#ifndef FLINT_SECCOMP_SANITIZED
#define FLINT_SECCOMP_SANITIZED 0
#endif

/* The kernel's limit on one classic BPF program (BPF_MAXINSNS). */
#define SECCOMP_MAX_INSNS 4096

enum seccomp_thread {
	SECCOMP_THREAD_VMM = 0,
	SECCOMP_THREAD_API,
	SECCOMP_THREAD_VCPU,
	SECCOMP_THREAD_COUNT,
};

/* One BPF program; len 0 means "install nothing on this thread". */
struct seccomp_prog {
	const struct sock_filter *insns;
	size_t len;
};

/* The programs generated at build time, one per thread kind, for this
 * build's variant (sanitized or not). Defined in build/gen/seccomp_filters.c. */
extern const struct seccomp_prog seccomp_builtin[SECCOMP_THREAD_COUNT];

/* System call names by number, for the SIGSYS report (NULL: unknown). */
#define SECCOMP_SYSCALL_NAMES 512
extern const char *const seccomp_syscall_names[SECCOMP_SYSCALL_NAMES];

enum seccomp_mode {
	SECCOMP_MODE_BUILTIN = 0, /* the generated allowlists (default) */
	SECCOMP_MODE_NONE,	  /* --no-seccomp */
	SECCOMP_MODE_USER,	  /* --seccomp-filter FILE */
};

struct logger;
struct fault;

/* What each thread installs. Owned by main; outlives every thread. */
struct seccomp_policy {
	enum seccomp_mode mode;
	struct seccomp_prog progs[SECCOMP_THREAD_COUNT];
	struct sock_filter *user_insns; /* malloc'd copy of the user's file */
	struct logger *log;
	int test_violation; /* FLINT_TEST_HOOKS: thread kind to misbehave, or -1 */
};

/* Set p up from the command line: no_seccomp, or user_file (NULL: the
 * built-in lists). A user file is either Firecracker's compiled filter (a
 * bincode map of thread name -> BPF program with "vmm", "api" and "vcpu")
 * or a file of raw struct sock_filter instructions applied to every thread.
 * 0, or -errno with f saying why. */
int seccomp_policy_init(struct seccomp_policy *p, bool no_seccomp, const char *user_file,
			struct logger *log, struct fault *f);
/* Parse a user filter file's bytes into p (pure; used by the above and by
 * the unit tests). 0 or -EINVAL with f set. */
int seccomp_policy_parse(struct seccomp_policy *p, const uint8_t *buf, size_t len, struct fault *f);
void seccomp_policy_destroy(struct seccomp_policy *p);

/* Install the SIGSYS handler that logs a trapped system call to log's fd
 * and exits with 148, and have glibc do now the file reads it otherwise
 * does lazily on a later thread (the time zone, malloc's overcommit mode).
 * Once, on main's thread, before any other thread and any filter. */
int seccomp_prepare(struct logger *log);

/* Calling thread: set no_new_privs and install p's program for kind t (no
 * program: nothing). p NULL means no filtering. 0 or -errno. */
int seccomp_install(const struct seccomp_policy *p, enum seccomp_thread t);

/* seccomp_install(), and on failure log why and end flint: a thread must
 * never run unfiltered when a filter was asked for. */
void seccomp_install_or_exit(const struct seccomp_policy *p, enum seccomp_thread t);

/* The thread kind's name in filter files and log lines: "vmm", "api", "vcpu". */
const char *seccomp_thread_name(enum seccomp_thread t);

/* Trapped system calls recorded before flint exited (for the seccomp
 * metrics' num_faults; the handler exits, so a flush after it never comes). */
uint64_t seccomp_num_faults(void);

#endif
