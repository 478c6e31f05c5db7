/* Token bucket tests with injected time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/rate_limiter.h"

#define MS 1000000ULL
#define T0 (1000 * MS)

static struct cfg_rate_limiter mk(uint64_t bw, uint64_t burst, uint64_t ops, uint64_t ms)
{
	struct cfg_rate_limiter c;

	memset(&c, 0, sizeof(c));
	c.bandwidth.set = bw != 0;
	c.bandwidth.size = bw;
	c.bandwidth.one_time_burst = burst;
	c.bandwidth.refill_time_ms = ms;
	c.ops.set = ops != 0;
	c.ops.size = ops;
	c.ops.refill_time_ms = ms;
	return c;
}

static void test_unlimited(void **state)
{
	struct rate_limiter rl;
	struct cfg_rate_limiter c = mk(0, 0, 0, 0);
	uint64_t w = 77;

	(void)state;
	rl_init(&rl, NULL, T0);
	assert_true(rl_unlimited(&rl));
	assert_true(rl_consume(&rl, UINT64_MAX, UINT64_MAX, T0, &w));
	assert_int_equal(w, 0);
	c.bandwidth.set = true; /* size 0 still means no limit */
	c.bandwidth.refill_time_ms = 100;
	rl_init(&rl, &c, T0);
	assert_true(rl_unlimited(&rl));
}

static void test_bandwidth_refill(void **state)
{
	struct rate_limiter rl;
	struct cfg_rate_limiter c = mk(1000, 0, 0, 1000); /* 1000 B/s */
	uint64_t w;

	(void)state;
	rl_init(&rl, &c, T0);
	assert_false(rl_unlimited(&rl));
	assert_true(rl_consume(&rl, 1000, 1, T0, &w)); /* starts full */
	assert_false(rl_consume(&rl, 1, 1, T0, &w));
	assert_int_equal(w, 1 * MS); /* one byte per ms */
	assert_false(rl_consume(&rl, 1, 1, T0 + MS - 1, &w));
	assert_int_equal(w, 1);
	assert_true(rl_consume(&rl, 1, 1, T0 + MS, &w));
	/* partial refill: 400 earned, 600 wanted -> 200 ms more */
	assert_false(rl_consume(&rl, 600, 1, T0 + 401 * MS, &w));
	assert_int_equal(w, 200 * MS);
	assert_true(rl_consume(&rl, 600, 1, T0 + 601 * MS, &w));
	/* never more than a full bucket, however long we wait */
	assert_true(rl_consume(&rl, 1000, 1, T0 + 100000 * MS, &w));
	assert_false(rl_consume(&rl, 1, 1, T0 + 100000 * MS, &w));
}

static void test_fractions_not_lost(void **state)
{
	struct rate_limiter rl;
	struct cfg_rate_limiter c = mk(3, 0, 0, 1000); /* 1 token per 333.33 ms */
	uint64_t w, got = 0;

	(void)state;
	rl_init(&rl, &c, T0);
	assert_true(rl_consume(&rl, 3, 0, T0, &w));
	/* poll every 100 ms for 3 s: exactly 9 tokens earned */
	for (uint64_t t = 100; t <= 3000; t += 100)
		while (rl_consume(&rl, 1, 0, T0 + t * MS, &w))
			got++;
	assert_int_equal(got, 9);
}

static void test_one_time_burst(void **state)
{
	struct rate_limiter rl;
	struct cfg_rate_limiter c = mk(100, 1000, 0, 1000);
	uint64_t w;

	(void)state;
	rl_init(&rl, &c, T0);
	assert_true(rl_consume(&rl, 1100, 0, T0, &w));
	assert_false(rl_consume(&rl, 1, 0, T0, &w));
	assert_int_equal(w, 10 * MS);
	/* the burst never comes back */
	assert_true(rl_consume(&rl, 100, 0, T0 + 5000 * MS, &w));
	assert_false(rl_consume(&rl, 1, 0, T0 + 5000 * MS, &w));
}

static void test_oversized_request(void **state)
{
	struct rate_limiter rl;
	struct cfg_rate_limiter c = mk(100, 0, 0, 1000);
	uint64_t w;

	(void)state;
	rl_init(&rl, &c, T0);
	assert_true(rl_consume(&rl, 250, 0, T0, &w)); /* full bucket: overdraw */
	assert_false(rl_consume(&rl, 1, 0, T0, &w));
	assert_int_equal(w, 1510 * MS); /* 150 debt + 1 at 10 ms each */
	assert_false(rl_consume(&rl, 1, 0, T0 + 1500 * MS, &w));
	assert_true(rl_consume(&rl, 1, 0, T0 + 1510 * MS, &w));
	/* oversized while not full waits for a full bucket */
	assert_false(rl_consume(&rl, 500, 0, T0 + 1510 * MS, &w));
	assert_int_equal(w, 1000 * MS);
}

static void test_both_or_neither(void **state)
{
	struct rate_limiter rl;
	struct cfg_rate_limiter c = mk(1000, 0, 2, 1000);
	uint64_t w;

	(void)state;
	rl_init(&rl, &c, T0);
	assert_true(rl_consume(&rl, 10, 1, T0, &w));
	assert_true(rl_consume(&rl, 10, 1, T0, &w));
	assert_false(rl_consume(&rl, 10, 1, T0, &w)); /* ops empty */
	assert_int_equal(w, 500 * MS);
	/* the refused request took no bandwidth: 980 bytes still there */
	assert_true(rl_consume(&rl, 980, 0, T0, &w));
	assert_false(rl_consume(&rl, 1, 0, T0, &w));
}

static void test_clock_backwards_and_extremes(void **state)
{
	struct rate_limiter rl;
	struct cfg_rate_limiter c = mk(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
	uint64_t w;

	(void)state;
	rl_init(&rl, &c, T0);
	assert_true(rl_consume(&rl, UINT64_MAX, UINT64_MAX, T0, &w));
	assert_true(rl_consume(&rl, UINT64_MAX, 0, T0 - 5, &w));
	assert_false(rl_consume(&rl, UINT64_MAX, 0, T0 - 10, &w));
	assert_true(w > 0);
	c = mk(1, 0, 0, 1);
	rl_init(&rl, &c, UINT64_MAX - 10);
	assert_true(rl_consume(&rl, UINT64_MAX, 0, UINT64_MAX - 10, &w));
	assert_false(rl_consume(&rl, 1, 0, UINT64_MAX - 10, &w));
	assert_true(w > 0);
	assert_false(rl_consume(&rl, 1, 0, UINT64_MAX, &w));
}

static void test_timer_arm(void **state)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	uint64_t ticks = 0;
	uint64_t t0 = rl_now_ns();

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(rl_timer_arm(fd, 2 * MS), 0);
	assert_int_equal(read(fd, &ticks, sizeof(ticks)), sizeof(ticks));
	assert_int_equal(ticks, 1);
	assert_true(rl_now_ns() - t0 >= 2 * MS);
	assert_int_equal(rl_timer_arm(fd, 0), 0);
	assert_int_equal(read(fd, &ticks, sizeof(ticks)), sizeof(ticks));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_bandwidth_refill),
	    cmocka_unit_test(test_fractions_not_lost),
	    cmocka_unit_test(test_one_time_burst),
	    cmocka_unit_test(test_oversized_request),
	    cmocka_unit_test(test_both_or_neither),
	    cmocka_unit_test(test_clock_backwards_and_extremes),
	    cmocka_unit_test(test_timer_arm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
