/* Condition variables that wait on CLOCK_MONOTONIC, so a timed wait is not
 * stretched or cut short when the wall clock is set. */
#ifndef FLINT_VMM_COND_H
#define FLINT_VMM_COND_H

#include <pthread.h>
#include <time.h>

/* pthread_cond_init with the monotonic clock. */
void cond_init_monotonic(pthread_cond_t *c);
/* The monotonic time ms milliseconds from now, for pthread_cond_timedwait
 * on a cond_init_monotonic condition. */
struct timespec cond_deadline_ms(unsigned ms);

#endif
