/* Token buckets with an injected clock. 128-bit intermediates keep
 * tokens * time products exact for any configured size. */
#include "devices/rate_limiter.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

#define NS_PER_MS 1000000ULL

typedef unsigned __int128 u128;

static void rl_bucket_init(struct rl_bucket *b, const struct cfg_token_bucket *c, uint64_t now)
{
	memset(b, 0, sizeof(*b));
	if (!c || !c->set || c->size == 0 || c->refill_time_ms == 0)
		return; /* unlimited */
	b->size = c->size;
	if (__builtin_mul_overflow(c->refill_time_ms, NS_PER_MS, &b->refill_ns))
		b->refill_ns = UINT64_MAX;
	b->burst = c->one_time_burst;
	b->budget = c->size;
	b->last_ns = now;
}

void rl_init(struct rate_limiter *rl, const struct cfg_rate_limiter *cfg, uint64_t now_ns)
{
	rl_bucket_init(&rl->bw, cfg ? &cfg->bandwidth : NULL, now_ns);
	rl_bucket_init(&rl->ops, cfg ? &cfg->ops : NULL, now_ns);
}

void rl_update(struct rate_limiter *rl, const struct cfg_rate_limiter *cfg, uint64_t now_ns)
{
	if (cfg->bandwidth.set)
		rl_bucket_init(&rl->bw, &cfg->bandwidth, now_ns);
	if (cfg->ops.set)
		rl_bucket_init(&rl->ops, &cfg->ops, now_ns);
}

bool rl_unlimited(const struct rate_limiter *rl)
{
	return rl->bw.size == 0 && rl->ops.size == 0;
}

/* Credit the tokens earned since last_ns: first to the debt, then to the
 * budget. frac carries the part of a token earned but not yet whole, so
 * polling often loses nothing. */
static void rl_refill(struct rl_bucket *b, uint64_t now)
{
	u128 room = (u128)b->debt + (b->size - b->budget);
	u128 acc, add;

	if (now <= b->last_ns)
		return; /* clock did not move (or went back): nothing earned */
	acc = (u128)(now - b->last_ns) * b->size + b->frac; /* < 2^128: frac < refill_ns */
	add = acc / b->refill_ns;
	b->last_ns = now;
	if (add >= room) {
		b->debt = 0;
		b->budget = b->size;
		b->frac = 0;
		return;
	}
	b->frac = (uint64_t)(acc % b->refill_ns);
	if (add <= b->debt) {
		b->debt -= (uint64_t)add;
	} else {
		b->budget += (uint64_t)(add - b->debt);
		b->debt = 0;
	}
}

/* 0 if n tokens can be taken now, else the nanoseconds until they can. */
static uint64_t rl_wait(const struct rl_bucket *b, uint64_t n, uint64_t now)
{
	uint64_t need;
	u128 missing, t;

	if (b->size == 0 || n == 0)
		return 0;
	need = n - (n <= b->burst ? n : b->burst);
	if (b->debt == 0 && need <= b->budget)
		return 0;
	/* Oversized: wait for a full bucket, then overdraw it. */
	if (need > b->size) {
		if (b->debt == 0 && b->budget == b->size)
			return 0;
		need = b->size;
	}
	missing = (u128)b->debt + need - b->budget;
	if (missing > UINT64_MAX)
		missing = UINT64_MAX; /* keeps missing * refill_ns within 128 bits */
	/* token-nanoseconds still to earn, beyond the fraction already held */
	t = (missing * b->refill_ns - b->frac + b->size - 1) / b->size;
	if (b->last_ns + t <= now)
		return 1;
	t = b->last_ns + t - now;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

static void rl_take(struct rl_bucket *b, uint64_t n)
{
	uint64_t from_burst = n <= b->burst ? n : b->burst;

	if (b->size == 0)
		return;
	b->burst -= from_burst;
	n -= from_burst;
	if (n <= b->budget) {
		b->budget -= n;
	} else {
		b->debt = n - b->budget;
		b->budget = 0;
	}
}

bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns,
		uint64_t *wait_ns)
{
	uint64_t w_bw, w_ops;

	if (rl->bw.size)
		rl_refill(&rl->bw, now_ns);
	if (rl->ops.size)
		rl_refill(&rl->ops, now_ns);
	w_bw = rl_wait(&rl->bw, bytes, now_ns);
	w_ops = rl_wait(&rl->ops, ops, now_ns);
	if (w_bw || w_ops) {
		*wait_ns = w_bw > w_ops ? w_bw : w_ops;
		return false;
	}
	rl_take(&rl->bw, bytes);
	rl_take(&rl->ops, ops);
	*wait_ns = 0;
	return true;
}

uint64_t rl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rl_timer_arm(int timer_fd, uint64_t wait_ns)
{
	struct itimerspec its = {0};

	if (wait_ns == 0)
		wait_ns = 1; /* 0 would disarm */
	its.it_value.tv_sec = (time_t)(wait_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(wait_ns % 1000000000ULL);
	return timerfd_settime(timer_fd, 0, &its, NULL) ? -errno : 0;
}
