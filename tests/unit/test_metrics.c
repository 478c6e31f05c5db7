/* Metrics writer tests: object shape, counters as deltas, string escaping,
 * an object too big for its buffer, a FIFO nobody reads. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/metrics.h"

struct fixture {
	char dir[64];
	char path[96];
	struct metrics m;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "/tmp/flint-metrics-XXXXXX");
	if (!mkdtemp(x->dir)) {
		free(x);
		return -1;
	}
	snprintf(x->path, sizeof(x->path), "%s/m", x->dir);
	metrics_init(&x->m);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	metrics_close(&x->m);
	unlink(x->path);
	rmdir(x->dir);
	free(x);
	return 0;
}

/* The whole content of path (static buffer, NUL-terminated). */
static const char *slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int flush(struct metrics *m, uint64_t a, uint64_t g)
{
	char buf[512];
	struct metrics_out o;

	metrics_begin(&o, m, buf, sizeof(buf));
	metrics_group(&o, "grp");
	metrics_counter(&o, "a", a);
	metrics_gauge(&o, "g", g);
	metrics_group(&o, "other");
	metrics_counter(&o, "a", 7);
	return metrics_end(&o);
}

static void test_counters_are_deltas(void **state)
{
	struct fixture *x = *state;
	char buf[2048];
	const char *s, *second;

	assert_int_equal(metrics_open(&x->m, x->path), 0);
	assert_false(x->m.fifo);
	assert_int_equal(flush(&x->m, 5, 100), 0);
	assert_int_equal(flush(&x->m, 12, 100), 0);
	assert_int_equal(flush(&x->m, 12, 3), 0);
	s = slurp(x->path, buf, sizeof(buf));
	assert_non_null(strstr(s, "\"grp\":{\"a\":5,\"g\":100},\"other\":{\"a\":7}}\n"));
	second = strchr(s, '\n') + 1;
	assert_non_null(strstr(second, "\"grp\":{\"a\":7,\"g\":100},\"other\":{\"a\":0}}\n"));
	assert_non_null(strstr(strchr(second, '\n') + 1, "\"grp\":{\"a\":0,\"g\":3}"));
	assert_int_equal(strncmp(s, "{\"utc_timestamp_ms\":", 20), 0);
	assert_int_equal(x->m.flushes, 3);
}

static void test_string_escaped(void **state)
{
	struct fixture *x = *state;
	char buf[512], out[512];
	struct metrics_out o;

	assert_int_equal(metrics_open(&x->m, x->path), 0);
	metrics_begin(&o, &x->m, buf, sizeof(buf));
	metrics_string(&o, "id", "a\"b\\c\n");
	metrics_group(&o, "g");
	metrics_gauge(&o, "v", 1);
	assert_int_equal(metrics_end(&o), 0);
	assert_non_null(strstr(slurp(x->path, out, sizeof(out)),
			       ",\"id\":\"a\\\"b\\\\c\\u000a\",\"g\":{\"v\":1}}\n"));
}

static void test_string_map(void **state)
{
	struct fixture *x = *state;
	const char *keys[] = {"team", "k\"q"}, *values[] = {"blue", "x\ty"};
	char buf[512], out[512];
	struct metrics_out o;

	assert_int_equal(metrics_open(&x->m, x->path), 0);
	metrics_begin(&o, &x->m, buf, sizeof(buf));
	metrics_group(&o, "g");
	metrics_gauge(&o, "v", 1);
	metrics_string_map(&o, "properties", keys, values, 2);
	metrics_group(&o, "h");
	metrics_gauge(&o, "w", 2);
	assert_int_equal(metrics_end(&o), 0);
	assert_non_null(
	    strstr(slurp(x->path, out, sizeof(out)),
		   ",\"g\":{\"v\":1},\"properties\":{\"team\":\"blue\",\"k\\\"q\":\"x\\u0009y\"},"
		   "\"h\":{\"w\":2}}\n"));
}

static void test_too_big_is_a_failure_not_a_torn_write(void **state)
{
	struct fixture *x = *state;
	char buf[40], out[64];
	struct metrics_out o;

	assert_int_equal(metrics_open(&x->m, x->path), 0);
	metrics_begin(&o, &x->m, buf, sizeof(buf));
	metrics_group(&o, "a_long_group_name");
	metrics_gauge(&o, "a_long_key_name", UINT64_MAX);
	assert_int_equal(metrics_end(&o), -ENOSPC);
	assert_int_equal(x->m.fails, 1);
	assert_string_equal(slurp(x->path, out, sizeof(out)), "");
}

/* Everything queued in the FIFO at path: counts lines, returns the last byte. */
static char drain_fifo(const char *path, int *lines)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	char chunk[4096], last = 0;
	ssize_t n;

	assert_true(fd >= 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			*lines += chunk[i] == '\n';
		last = chunk[n - 1];
	}
	close(fd);
	return last;
}

static int flush_big(struct metrics *m, char *big, size_t cap)
{
	struct metrics_out o;

	metrics_begin(&o, m, big, cap);
	metrics_group(&o, "g");
	for (int k = 0; k < 300; k++)
		metrics_gauge(&o, "padding", (uint64_t)k);
	return metrics_end(&o);
}

static void test_fifo_nobody_reads(void **state)
{
	struct fixture *x = *state;
	char big[8192];
	int ok = 0, missed = 0, lines = 0;

	assert_int_equal(mkfifo(x->path, 0600), 0);
	/* Nobody has the FIFO open for reading: open must not block or fail. */
	assert_int_equal(metrics_open(&x->m, x->path), 0);
	assert_true(x->m.fifo);
	/* Objects of ~4 KiB, above PIPE_BUF: a full pipe takes part of one. */
	for (int i = 0; i < 64; i++) {
		if (flush_big(&x->m, big, sizeof(big)) == 0)
			ok++;
		else
			missed++;
	}
	assert_true(ok > 0 && missed > 0);
	assert_int_equal(x->m.missed_flushes, (uint64_t)missed);
	assert_non_null(x->m.pending);
	/* A reader drains the pipe: the cut object's rest goes out first at the
	 * next flush, then that flush's own object. */
	drain_fifo(x->path, &lines);
	assert_int_equal(flush_big(&x->m, big, sizeof(big)), 0);
	assert_null(x->m.pending);
	assert_int_equal(drain_fifo(x->path, &lines), '\n');
	assert_int_equal(lines, ok + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_counters_are_deltas, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_string_escaped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_string_map, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_big_is_a_failure_not_a_torn_write, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_nobody_reads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
