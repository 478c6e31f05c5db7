/* Unit tests for api/routes: every path and method of the Firecracker spec,
 * ids, Firecracker's refusals, and the pre/post-boot rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/routes.h"

struct spec_route {
	const char *method;
	const char *path;
	enum route_id id;
	const char *res_id;
};

/* Every (method, path) in shared/spec/firecracker-api.yaml. */
static const struct spec_route spec[] = {
    {"GET", "/", ROUTE_GET_INSTANCE_INFO, ""},
    {"PUT", "/actions", ROUTE_PUT_ACTIONS, ""},
    {"GET", "/balloon", ROUTE_GET_BALLOON, ""},
    {"PUT", "/balloon", ROUTE_PUT_BALLOON, ""},
    {"PATCH", "/balloon", ROUTE_PATCH_BALLOON, ""},
    {"GET", "/balloon/statistics", ROUTE_GET_BALLOON_STATS, ""},
    {"PATCH", "/balloon/statistics", ROUTE_PATCH_BALLOON_STATS, ""},
    {"PATCH", "/balloon/hinting/start", ROUTE_PATCH_BALLOON_HINT_START, ""},
    {"GET", "/balloon/hinting/status", ROUTE_GET_BALLOON_HINT_STATUS, ""},
    {"PATCH", "/balloon/hinting/stop", ROUTE_PATCH_BALLOON_HINT_STOP, ""},
    {"PUT", "/boot-source", ROUTE_PUT_BOOT_SOURCE, ""},
    {"PUT", "/cpu-config", ROUTE_PUT_CPU_CONFIG, ""},
    {"PUT", "/drives/rootfs", ROUTE_PUT_DRIVE, "rootfs"},
    {"PATCH", "/drives/scratch_1", ROUTE_PATCH_DRIVE, "scratch_1"},
    {"PUT", "/pmem/pm0", ROUTE_PUT_PMEM, "pm0"},
    {"PATCH", "/pmem/pm0", ROUTE_PATCH_PMEM, "pm0"},
    {"PUT", "/logger", ROUTE_PUT_LOGGER, ""},
    {"GET", "/machine-config", ROUTE_GET_MACHINE_CONFIG, ""},
    {"PUT", "/machine-config", ROUTE_PUT_MACHINE_CONFIG, ""},
    {"PATCH", "/machine-config", ROUTE_PATCH_MACHINE_CONFIG, ""},
    {"PUT", "/metrics", ROUTE_PUT_METRICS, ""},
    {"PUT", "/mmds", ROUTE_PUT_MMDS, ""},
    {"PATCH", "/mmds", ROUTE_PATCH_MMDS, ""},
    {"GET", "/mmds", ROUTE_GET_MMDS, ""},
    {"PUT", "/mmds/config", ROUTE_PUT_MMDS_CONFIG, ""},
    {"PUT", "/entropy", ROUTE_PUT_ENTROPY, ""},
    {"PUT", "/serial", ROUTE_PUT_SERIAL, ""},
    {"PUT", "/hotplug/memory", ROUTE_PUT_HOTPLUG_MEMORY, ""},
    {"PATCH", "/hotplug/memory", ROUTE_PATCH_HOTPLUG_MEMORY, ""},
    {"GET", "/hotplug/memory", ROUTE_GET_HOTPLUG_MEMORY, ""},
    {"PUT", "/network-interfaces/eth0", ROUTE_PUT_NET, "eth0"},
    {"PATCH", "/network-interfaces/eth0", ROUTE_PATCH_NET, "eth0"},
    {"PUT", "/snapshot/create", ROUTE_PUT_SNAPSHOT_CREATE, ""},
    {"PUT", "/snapshot/load", ROUTE_PUT_SNAPSHOT_LOAD, ""},
    {"GET", "/version", ROUTE_GET_VERSION, ""},
    {"PATCH", "/vm", ROUTE_PATCH_VM, ""},
    {"GET", "/vm/config", ROUTE_GET_VM_CONFIG, ""},
    {"PUT", "/vsock", ROUTE_PUT_VSOCK, ""},
};

#define N_SPEC (sizeof(spec) / sizeof(spec[0]))

static void test_table_consistent(void **state)
{
	const struct route *t = routes_table();
	size_t i;

	(void)state;
	assert_int_equal(N_SPEC, ROUTE_COUNT);
	for (i = 0; i < ROUTE_COUNT; i++) {
		assert_int_equal(t[i].id, i);
		assert_true(t[i].states != 0);
		assert_true(t[i].pattern[0] == '/');
	}
}

static void test_every_spec_route(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N_SPEC; i++) {
		struct route_match m;
		struct route_error err;
		int ret = routes_match(spec[i].method, spec[i].path, &m, &err);

		if (ret != 0)
			fail_msg("%s %s: %d %s", spec[i].method, spec[i].path, ret, err.msg);
		assert_int_equal(m.route->id, spec[i].id);
		assert_string_equal(m.id, spec[i].res_id);
	}
}

static void test_other_methods_refused(void **state)
{
	static const char *const methods[] = {"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"};
	const struct route *t = routes_table();
	size_t i, k, j;

	(void)state;
	for (i = 0; i < N_SPEC; i++) {
		for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			struct route_match m;
			struct route_error err;
			bool in_spec = false;

			for (j = 0; j < N_SPEC; j++)
				in_spec |=
				    strcmp(t[spec[j].id].pattern, t[spec[i].id].pattern) == 0 &&
				    strcmp(spec[j].method, methods[k]) == 0;
			if (in_spec)
				continue;
			assert_int_equal(routes_match(methods[k], spec[i].path, &m, &err),
					 -ENOTSUP);
			assert_int_equal(err.status, 400);
			assert_non_null(strstr(err.msg, "Invalid request method and/or path: "));
		}
	}
}

static void test_unknown_paths(void **state)
{
	struct route_match m;
	struct route_error err;

	(void)state;
	assert_int_equal(routes_match("PUT", "/vm/pause", &m, &err), -ENOENT);
	assert_string_equal(err.msg, "Invalid request method and/or path: PUT vm.");
	assert_int_equal(routes_match("GET", "/nope", &m, &err), -ENOENT);
	assert_string_equal(err.msg, "Invalid request method and/or path: GET nope.");
	assert_int_equal(routes_match("GET", "/version?x=1", &m, &err), -ENOENT);
	assert_int_equal(routes_match("GET", "/mmds/config/x", &m, &err), -ENOENT);
	assert_int_equal(routes_match("GET", "/drives/a/b", &m, &err), -ENOENT);
	assert_int_equal(routes_match("GET", "/VERSION", &m, &err), -ENOENT);
	/* Firecracker: "PUT vm" for PUT /vm. */
	assert_int_equal(routes_match("PUT", "/vm", &m, &err), -ENOTSUP);
	assert_string_equal(err.msg, "Invalid request method and/or path: PUT vm.");
	assert_int_equal(routes_match("POST", "/", &m, &err), -ENOTSUP);
	assert_string_equal(err.msg, "Invalid request method and/or path: POST .");
}

static void test_path_normalization(void **state)
{
	struct route_match m;
	struct route_error err;

	(void)state;
	assert_int_equal(routes_match("GET", "/version/", &m, &err), 0);
	assert_int_equal(m.route->id, ROUTE_GET_VERSION);
	assert_int_equal(routes_match("GET", "//version", &m, &err), 0);
	assert_int_equal(routes_match("PUT", "/drives/x1/", &m, &err), 0);
	assert_string_equal(m.id, "x1");
	assert_int_equal(routes_match("GET", "", &m, &err), 0);
	assert_int_equal(m.route->id, ROUTE_GET_INSTANCE_INFO);
}

static void test_ids(void **state)
{
	struct route_match m;
	struct route_error err;
	char path[256];

	(void)state;
	assert_int_equal(routes_match("PUT", "/drives", &m, &err), -EINVAL);
	assert_string_equal(err.msg, "The ID cannot be empty.");
	/* Firecracker counts an id refusal for the route: an empty id as a
	 * failure too (drive_fails), a bad one only in drive_count. */
	assert_int_equal(err.route, ROUTE_PUT_DRIVE);
	assert_true(err.fails);
	assert_int_equal(routes_match("PUT", "/drives/", &m, &err), -EINVAL);
	assert_int_equal(routes_match("PUT", "/drives//", &m, &err), -EINVAL);
	assert_int_equal(routes_match("PATCH", "/network-interfaces/a-b", &m, &err), -EINVAL);
	assert_string_equal(err.msg, "API Resource IDs can only contain alphanumeric characters "
				     "and underscores.");
	assert_int_equal(err.route, ROUTE_PATCH_NET);
	assert_false(err.fails);
	assert_int_equal(routes_match("PUT", "/pmem/%41", &m, &err), -EINVAL);
	assert_int_equal(routes_match("PUT", "/pmem/..", &m, &err), -EINVAL);
	/* 64 bytes is the longest id. */
	memset(path, 'a', sizeof(path));
	memcpy(path, "/drives/", 8);
	path[8 + 64] = '\0';
	assert_int_equal(routes_match("PUT", path, &m, &err), 0);
	assert_int_equal(strlen(m.id), 64);
	path[8 + 64] = 'a';
	path[8 + 65] = '\0';
	assert_int_equal(routes_match("PUT", path, &m, &err), -EINVAL);
}

static void test_resolve_body_rules(void **state)
{
	struct route_match m;
	struct route_error err;

	(void)state;
	assert_int_equal(routes_resolve("GET", "/version", 2, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "GET request cannot have a body.");
	assert_int_equal(routes_resolve("GET", "/nope", 2, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "GET request cannot have a body.");
	assert_int_equal(routes_resolve("PUT", "/boot-source", 0, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "Empty PUT request.");
	assert_int_equal(routes_resolve("PUT", "/nope", 0, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "Empty PUT request.");
	assert_int_equal(routes_resolve("PUT", "/drives", 0, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "Empty PUT request.");
	assert_int_equal(err.route, ROUTE_COUNT); /* refused before any route */
	assert_int_equal(routes_resolve("PATCH", "/vm", 0, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "Empty PATCH request.");
	assert_int_equal(routes_resolve("PATCH", "/balloon/hinting/stop", 0, &m, &err), 0);
	assert_int_equal(m.route->id, ROUTE_PATCH_BALLOON_HINT_STOP);
	assert_int_equal(routes_resolve("PATCH", "/balloon/hinting/start", 0, &m, &err), 0);
	assert_int_equal(routes_resolve("PUT", "/drives/a", 5, &m, &err), 0);
	assert_string_equal(m.id, "a");
	assert_int_equal(routes_resolve("PUT", "/vm", 2, &m, &err), -ENOTSUP);
	assert_int_equal(err.route, ROUTE_COUNT);
	assert_int_equal(routes_resolve("GET", "/", 0, &m, &err), 0);
}

static void test_state_rules(void **state)
{
	struct route_error err;

	(void)state;
	/* Configuration: before boot only. */
	assert_int_equal(routes_check_state(ROUTE_PUT_BOOT_SOURCE, ROUTE_VM_NOT_STARTED, &err), 0);
	assert_int_equal(routes_check_state(ROUTE_PUT_BOOT_SOURCE, ROUTE_VM_RUNNING, &err), -EPERM);
	assert_int_equal(err.status, 400);
	assert_int_equal(err.route, ROUTE_PUT_BOOT_SOURCE);
	assert_false(err.fails);
	assert_string_equal(err.msg, ROUTE_MSG_POST_BOOT);
	assert_string_equal(err.msg,
			    "The requested operation is not supported after starting the microVM.");
	assert_int_equal(routes_check_state(ROUTE_PUT_DRIVE, ROUTE_VM_PAUSED, &err), -EPERM);
	assert_int_equal(routes_check_state(ROUTE_PUT_SNAPSHOT_LOAD, ROUTE_VM_RUNNING, &err),
			 -EPERM);
	assert_int_equal(routes_check_state(ROUTE_PUT_MACHINE_CONFIG, ROUTE_VM_RUNNING, &err),
			 -EPERM);
	assert_int_equal(routes_check_state(ROUTE_PATCH_MACHINE_CONFIG, ROUTE_VM_RUNNING, &err),
			 -EPERM);
	/* Device updates: after boot only. */
	assert_int_equal(routes_check_state(ROUTE_PATCH_DRIVE, ROUTE_VM_NOT_STARTED, &err), -EPERM);
	assert_string_equal(
	    err.msg, "The requested operation is not supported before starting the microVM.");
	assert_int_equal(routes_check_state(ROUTE_PATCH_DRIVE, ROUTE_VM_RUNNING, &err), 0);
	assert_int_equal(routes_check_state(ROUTE_PATCH_VM, ROUTE_VM_NOT_STARTED, &err), -EPERM);
	assert_int_equal(routes_check_state(ROUTE_PATCH_VM, ROUTE_VM_PAUSED, &err), 0);
	assert_int_equal(routes_check_state(ROUTE_PUT_SNAPSHOT_CREATE, ROUTE_VM_NOT_STARTED, &err),
			 -EPERM);
	assert_int_equal(routes_check_state(ROUTE_PATCH_BALLOON, ROUTE_VM_NOT_STARTED, &err),
			 -EPERM);
	/* Always. */
	assert_int_equal(routes_check_state(ROUTE_PUT_ACTIONS, ROUTE_VM_NOT_STARTED, &err), 0);
	assert_int_equal(routes_check_state(ROUTE_PUT_ACTIONS, ROUTE_VM_RUNNING, &err), 0);
	assert_int_equal(routes_check_state(ROUTE_GET_VM_CONFIG, ROUTE_VM_PAUSED, &err), 0);
	assert_int_equal(routes_check_state(ROUTE_PUT_MMDS, ROUTE_VM_RUNNING, &err), 0);
	assert_int_equal(routes_check_state(ROUTE_GET_INSTANCE_INFO, ROUTE_VM_NOT_STARTED, &err),
			 0);
	/* Out of range. */
	assert_int_equal(routes_check_state(ROUTE_COUNT, ROUTE_VM_RUNNING, &err), -EINVAL);
	assert_int_equal(routes_check_state(ROUTE_GET_VERSION, (enum route_vm_state)7, &err),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_consistent),	  cmocka_unit_test(test_every_spec_route),
	    cmocka_unit_test(test_other_methods_refused), cmocka_unit_test(test_unknown_paths),
	    cmocka_unit_test(test_path_normalization),	  cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_resolve_body_rules),	  cmocka_unit_test(test_state_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
