/* One function run on a short-lived thread while the caller goes on, then
 * joined. VM set-up uses it for the KVM calls that mostly wait rather than
 * work (the first memory slot waits for an SRCU grace period, the PIT for
 * kthreadd to start its worker): run beside the kernel loading, their
 * waits leave the start-up's critical path.
 *
 * Start-up only, before any seccomp filter (the thread inherits the
 * caller's, and the VMM's allows no clone). */
#ifndef FLINT_VMM_BG_TASK_H
#define FLINT_VMM_BG_TASK_H

#include <pthread.h>
#include <stdbool.h>

#include "vmm/config.h"

typedef int (*bg_task_fn)(void *arg, struct fault *f);

struct bg_task {
	pthread_t thread;
	bool started; /* on its thread; must be joined */
	bg_task_fn fn;
	void *arg;
	int err;
	struct fault fault;
};

/* Run fn(arg) on a new thread; if no thread can be made, run it here. */
void bg_task_start(struct bg_task *t, bg_task_fn fn, void *arg);
/* Wait for it: fn's result, with f set to fn's fault when it failed. A
 * zeroed task that was never started, or one already joined, gives 0. */
int bg_task_join(struct bg_task *t, struct fault *f);

#endif
