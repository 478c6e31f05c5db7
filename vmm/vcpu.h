/* vCPUs: one thread each, a small state machine (paused, running, stopped)
 * driven by other threads through vcpu_set_state(), which kicks the thread
 * out of KVM_RUN (immediate_exit + a signal) and waits for it to settle.
 * vCPU threads only decode exits: port I/O and MMIO go to the buses; a
 * guest reset, shutdown or fatal error goes to env->end_vm. */
#ifndef FLINT_VMM_VCPU_H
#define FLINT_VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/log.h"

enum vcpu_state { VCPU_PAUSED, VCPU_RUNNING, VCPU_STOPPED };

/* Exit status flint ends with (Firecracker's FcExitCode values). */
enum flint_exit {
	FLINT_EXIT_OK = 0,	      /* guest reset, shutdown or triple fault */
	FLINT_EXIT_GENERIC = 1,	      /* internal failure, logged */
	FLINT_EXIT_UNEXPECTED = 2,    /* a vCPU exit flint cannot handle */
	FLINT_EXIT_BAD_SYSCALL = 148, /* seccomp */
	FLINT_EXIT_BAD_CONFIG = 152,
	FLINT_EXIT_ARG_PARSING = 153,
};

struct seccomp_policy;

/* What every vCPU shares: set up before the threads start, read-only after. */
struct vcpu_env {
	const struct bus *pio;
	const struct bus *mmio;
	struct logger *log;
	/* Ask the VMM to end the VM with this status (first caller wins). */
	void (*end_vm)(void *ctx, int status, const char *why);
	void *ctx;
	const struct seccomp_policy *seccomp; /* installed before the first KVM_RUN */
};

struct vcpu_counters {
	_Atomic uint64_t exits_io_in, exits_io_out, exits_mmio_read, exits_mmio_write;
	_Atomic uint64_t failures;
};

struct vcpu {
	int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	const struct vcpu_env *env;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vcpu_state want;  /* what the controller asked for */
	enum vcpu_state state; /* where the thread is */
	struct vcpu_counters counters;
};

/* Create vCPU index on vm_fd and map its kvm_run. Start-up only. */
int vcpu_create(struct vcpu *v, int vm_fd, int index, size_t run_size, const struct vcpu_env *env,
		struct fault *f);
/* CPUID (filtered copy of supported), boot MSRs, FPU, LAPIC LINT0/1. */
int vcpu_configure(struct vcpu *v, const struct kvm_cpuid2 *supported, int ncpus, bool smt,
		   struct fault *f);
/* Start the thread in state initial (RUNNING or PAUSED). */
int vcpu_start(struct vcpu *v, enum vcpu_state initial);
/* Ask the thread to move to state and wait until it has (or has stopped). */
void vcpu_set_state(struct vcpu *v, enum vcpu_state state);
/* The two halves of vcpu_set_state, for a caller that has work to do while
 * it waits: ask (returns at once), then wait up to ms for the thread to be
 * in state or stopped (true once it is). */
void vcpu_request_state(struct vcpu *v, enum vcpu_state state);
bool vcpu_wait_state(struct vcpu *v, enum vcpu_state state, unsigned ms);
/* Stop and join the thread, unmap and close. */
void vcpu_destroy(struct vcpu *v);
/* Install the (empty) kick signal handler; once per process. */
int vcpu_install_kick_signal(void);

#endif
