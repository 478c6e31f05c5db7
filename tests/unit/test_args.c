/* flint's command line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/args.h"

#define PARSE(a, f, ...)                                                                           \
	args_parse((a), (int)(sizeof((char *[]){"flint", __VA_ARGS__}) / sizeof(char *)),          \
		   (char *[]){"flint", __VA_ARGS__}, (f))

static void defaults(void **state)
{
	struct flint_args a;
	struct fault f = {""};
	char *argv[] = {"flint"};

	(void)state;
	assert_int_equal(args_parse(&a, 1, argv, &f), 0);
	assert_string_equal(a.api_sock, "/run/firecracker.socket");
	assert_string_equal(a.id, "anonymous-instance");
	assert_int_equal(a.max_payload, 51200);
	assert_false(a.no_api);
}

static void both_value_forms(void **state)
{
	struct flint_args a;
	struct fault f = {""};

	(void)state;
	assert_int_equal(PARSE(&a, &f, "--no-api", "--config-file", "vm.json", "--id=vm-1",
			       "--boot-timer", "--level", "Debug", "--start-time-us=12"),
			 0);
	assert_true(a.no_api);
	assert_true(a.boot_timer);
	assert_string_equal(a.config_file, "vm.json");
	assert_string_equal(a.id, "vm-1");
	assert_string_equal(a.level, "Debug");
	assert_true(a.has_start_time);
	assert_int_equal(a.start_time_us, 12);
}

static void refusals(void **state)
{
	struct flint_args a;
	struct fault f = {""};

	(void)state;
	assert_int_equal(PARSE(&a, &f, "--bogus"), -EINVAL);
	assert_non_null(strstr(f.msg, "unknown argument"));
	assert_int_equal(PARSE(&a, &f, "--config-file"), -EINVAL);
	assert_non_null(strstr(f.msg, "needs a value"));
	assert_int_equal(PARSE(&a, &f, "--id", "bad_id!"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--id",
			       "a1234567890123456789012345678901234567890123456789012345678901234"),
			 -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--no-api"), -EINVAL); /* nothing to configure with */
	assert_int_equal(PARSE(&a, &f, "--http-api-max-payload-size", "-5"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--http-api-max-payload-size", "12x"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--http-api-max-payload-size", "0"), -EINVAL);
	/* strtoull alone takes these; " -5" would be 2^64 - 5 */
	assert_int_equal(PARSE(&a, &f, "--http-api-max-payload-size", " -5"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--start-time-us", " 5"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--start-time-us", "+5"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--start-time-us", ""), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--start-time-us", "18446744073709551616"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--start-time-us", "18446744073709551615"), 0);
	assert_true(a.start_time_us == UINT64_MAX);
	assert_int_equal(PARSE(&a, &f, "--no-api=1"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "--boot-protocol", "bios"), -EINVAL);
	assert_int_equal(PARSE(&a, &f, "stray"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(both_value_forms),
	    cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
