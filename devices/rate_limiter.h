/* Firecracker-shaped token-bucket rate limiter: a bandwidth bucket (tokens
 * are bytes) and an operations bucket (tokens are requests). The clock is
 * passed in (now_ns, CLOCK_MONOTONIC in production) so tests drive time.
 *
 * Semantics per bucket: it starts full; it refills continuously at `size`
 * tokens per `refill_time`; `one_time_burst` extra tokens are spent first
 * and never refill. A request larger than the whole bucket is let through
 * once the bucket is full and leaves a debt that refills pay back before new
 * tokens become usable, so the long-run rate still holds. A bucket with size
 * or refill_time 0 (or not set) does not limit.
 *
 * Plain state, no locks: owned by the device's thread (the VMM thread). */
#ifndef FLINT_DEVICES_RATE_LIMITER_H
#define FLINT_DEVICES_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/config.h"

struct rl_bucket {
	uint64_t size;	    /* tokens in a full bucket; 0 = unlimited */
	uint64_t refill_ns; /* time to refill `size` tokens from empty */
	uint64_t burst;	    /* one-time burst tokens left */
	uint64_t budget;    /* tokens available now (<= size) */
	uint64_t debt;	    /* tokens owed by an oversized request */
	uint64_t last_ns;   /* time up to which refill has been accounted */
	uint64_t frac;	    /* token fraction earned, in size-per-refill_ns units */
};

struct rate_limiter {
	struct rl_bucket bw;  /* bytes */
	struct rl_bucket ops; /* operations */
};

/* Set up from the configuration model (cfg NULL = unlimited). */
void rl_init(struct rate_limiter *rl, const struct cfg_rate_limiter *cfg, uint64_t now_ns);
/* Replace the buckets that cfg sets (Firecracker's PATCH semantics: a bucket
 * not given is kept, one given with size 0 stops limiting). */
void rl_update(struct rate_limiter *rl, const struct cfg_rate_limiter *cfg, uint64_t now_ns);
/* True if neither bucket limits anything. */
bool rl_unlimited(const struct rate_limiter *rl);
/* Take bytes from the bandwidth bucket and ops from the operations bucket,
 * both or neither. Returns true if allowed; false with *wait_ns set to the
 * time after which the same request would be allowed. */
bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns,
		uint64_t *wait_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rl_now_ns(void);
/* Arm a timerfd (one shot) to fire after wait_ns (at least 1 ns). 0 or -errno. */
int rl_timer_arm(int timer_fd, uint64_t wait_ns);

#endif
