/* vmm/log.c: the line format and how log_apply changes the logger. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/log.h"

struct fx {
	struct logger lg;
	char path[64];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	int fd;

	strcpy(x->path, "/tmp/flint_test_log.XXXXXX");
	fd = mkstemp(x->path);
	assert_true(fd >= 0);
	close(fd);
	log_init(&x->lg, "vm1");
	assert_int_equal(log_set_path(&x->lg, x->path), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	log_destroy(&x->lg);
	unlink(x->path);
	free(x);
	return 0;
}

/* The bracketed prefix of the last line written: "vm1:thread:...". */
static void last_prefix(const struct fx *x, char *out, size_t size)
{
	char line[512] = "", *open, *close;
	FILE *fp = fopen(x->path, "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		;
	fclose(fp);
	open = strchr(line, '[');
	close = open ? strchr(open, ']') : NULL;
	assert_non_null(close);
	snprintf(out, size, "%.*s", (int)(close - open - 1), open + 1);
}

static void log_one(struct fx *x, char *prefix, size_t size)
{
	LOG_INFO(&x->lg, "hello");
	last_prefix(x, prefix, size);
}

static void test_show_flags_on_and_off(void **state)
{
	struct fx *x = *state;
	struct fault f;
	char p[256];

	log_one(x, p, sizeof(p));
	assert_null(strstr(p, ":INFO"));
	assert_int_equal(log_apply(&x->lg, NULL, NULL, CFG_TRUE, CFG_TRUE, NULL, &f), 0);
	log_one(x, p, sizeof(p));
	assert_non_null(strstr(p, ":INFO:tests/unit/test_log.c:"));
	/* Absent leaves both as they are. */
	assert_int_equal(log_apply(&x->lg, NULL, "Info", CFG_ABSENT, CFG_ABSENT, NULL, &f), 0);
	log_one(x, p, sizeof(p));
	assert_non_null(strstr(p, ":INFO:tests/unit/test_log.c:"));
	/* An explicit false turns one off, and only that one. */
	assert_int_equal(log_apply(&x->lg, NULL, NULL, CFG_FALSE, CFG_ABSENT, NULL, &f), 0);
	log_one(x, p, sizeof(p));
	assert_null(strstr(p, ":INFO"));
	assert_non_null(strstr(p, ":tests/unit/test_log.c:"));
	assert_int_equal(log_apply(&x->lg, NULL, NULL, CFG_ABSENT, CFG_FALSE, NULL, &f), 0);
	log_one(x, p, sizeof(p));
	assert_null(strstr(p, "test_log.c"));
	assert_non_null(strstr(p, "vm1:"));
}

/* A command-line flag is a bool: true turns the flag on, false (not given)
 * leaves what an earlier configuration set. */
static void test_cli_bool_converts(void **state)
{
	struct fx *x = *state;
	struct fault f;
	bool given = true, not_given = false;
	char p[256];

	assert_int_equal(log_apply(&x->lg, NULL, NULL, given, not_given, NULL, &f), 0);
	log_one(x, p, sizeof(p));
	assert_non_null(strstr(p, ":INFO"));
	assert_null(strstr(p, "test_log.c"));
	assert_int_equal(log_apply(&x->lg, NULL, NULL, not_given, not_given, NULL, &f), 0);
	log_one(x, p, sizeof(p));
	assert_non_null(strstr(p, ":INFO"));
}

static void test_bad_level_changes_nothing(void **state)
{
	struct fx *x = *state;
	struct fault f = {""};

	assert_int_equal(log_apply(&x->lg, NULL, "Loud", CFG_TRUE, CFG_ABSENT, NULL, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "Invalid log level"));
	assert_false(x->lg.show_level);
	assert_int_equal(x->lg.level, LOG_LEVEL_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_show_flags_on_and_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_bool_converts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_level_changes_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
