/* vmm/config_file.c and api/config_json.c: loading --config-file documents,
 * their error messages, and the GET /vm/config round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/config_json.h"
#include "vmm/config.h"

struct fx {
	char dir[64];
	char kernel[128];
	char disk[128];
	char path[128]; /* a scratch config file */
	char js[16384];
	struct vm_config cfg;
	struct vm_config cfg2;
	struct fault f;
};

static void make_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	strcpy(x->dir, "/tmp/flint_test_cfgfile.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->kernel, sizeof(x->kernel), "%s/vmlinux", x->dir);
	snprintf(x->disk, sizeof(x->disk), "%s/disk.img", x->dir);
	snprintf(x->path, sizeof(x->path), "%s/config.json", x->dir);
	make_file(x->kernel, "kernel");
	make_file(x->disk, "disk");
	cfg_init(&x->cfg);
	cfg_init(&x->cfg2);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	unlink(x->kernel);
	unlink(x->disk);
	unlink(x->path);
	rmdir(x->dir);
	free(x);
	return 0;
}

/* A full document; %1$s is the kernel, %2$s the disk. */
static const char full_fmt[] =
    "{\n"
    "  \"boot-source\": {\"kernel_image_path\": \"%1$s\", \"initrd_path\": \"%2$s\",\n"
    "                  \"boot_args\": \"console=ttyS0 reboot=k \\\"q\\\" \\u0041\"},\n"
    "  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false,\n"
    "                     \"track_dirty_pages\": true, \"huge_pages\": \"2M\"},\n"
    "  \"drives\": [\n"
    "    {\"drive_id\": \"data\", \"path_on_host\": \"%2$s\", \"is_root_device\": false,\n"
    "     \"is_read_only\": true, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\",\n"
    "     \"rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 1000}}},\n"
    "    {\"drive_id\": \"rootfs\", \"path_on_host\": \"%2$s\", \"is_root_device\": true,\n"
    "     \"partuuid\": \"0eaa91a0-01\"}\n"
    "  ],\n"
    "  \"network-interfaces\": [\n"
    "    {\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
    "\"06:00:AC:10:00:02\",\n"
    "     \"mtu\": 9000, \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1048576,\n"
    "     \"one_time_burst\": 4096, \"refill_time\": 100}}},\n"
    "    {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}\n"
    "  ],\n"
    "  \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"},\n"
    "  \"entropy\": {\"rate_limiter\": {\"bandwidth\": {\"size\": 10, \"refill_time\": 10}}},\n"
    "  \"logger\": {\"log_path\": \"/tmp/log\", \"level\": \"debug\", \"show_level\": true,\n"
    "             \"module\": \"vmm::config\"},\n"
    "  \"metrics\": {\"metrics_path\": \"/tmp/metrics\", \"emit_id\": true},\n"
    "  \"serial\": {\"serial_out_path\": \"/tmp/serial\",\n"
    "             \"rate_limiter\": {\"size\": 100, \"refill_time\": 10}},\n"
    "  \"balloon\": null, \"mmds-config\": null, \"cpu-config\": null\n"
    "}\n";

static void load_full(struct fx *x)
{
	snprintf(x->js, sizeof(x->js), full_fmt, x->kernel, x->disk);
	make_file(x->path, x->js);
	x->f.msg[0] = '\0';
	if (cfg_load_file(&x->cfg, x->path, &x->f))
		fail_msg("load failed: %s", x->f.msg);
}

static void test_load_full(void **state)
{
	struct fx *x = *state;
	struct vm_config *c = &x->cfg;

	load_full(x);
	assert_true(c->boot_source.set && c->boot_source.has_boot_args);
	assert_string_equal(c->boot_source.boot_args, "console=ttyS0 reboot=k \"q\" A");
	assert_int_equal(c->machine.vcpu_count, 2);
	assert_int_equal(c->machine.huge_pages, CFG_HUGE_2M);
	assert_int_equal(c->ndrives, 2);
	assert_string_equal(c->drives[0].drive_id, "rootfs"); /* root first */
	assert_string_equal(c->drives[1].drive_id, "data");
	assert_true(c->drives[1].rate_limiter.ops.set);
	assert_int_equal(c->nnets, 2);
	assert_int_equal(c->nets[0].mtu, 9000);
	assert_true(c->nets[0].has_guest_mac && !c->nets[1].has_guest_mac);
	assert_true(c->vsock.set && c->entropy.set && c->logger.set && c->metrics.set);
	assert_string_equal(c->logger.level, "Debug");
	assert_true(c->serial.rate_limiter.set);
	assert_int_equal(cfg_validate_for_boot(c, &x->f), 0);
}

static void test_round_trip(void **state)
{
	struct fx *x = *state;
	char *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;

	load_full(x);
	assert_int_equal(cfgjson_write_vm(&x->cfg, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	if (cfg_load_json(&x->cfg2, out, len, &x->f))
		fail_msg("reload failed: %s\n%s", x->f.msg, out);
	assert_memory_equal(&x->cfg, &x->cfg2, sizeof(x->cfg));
	/* and the text is stable */
	assert_int_equal(cfgjson_write_vm(&x->cfg2, &out2, &len2), 0);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
}

static void test_round_trip_defaults(void **state)
{
	struct fx *x = *state;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(cfgjson_write_vm(&x->cfg, &out, &len), 0);
	assert_non_null(strstr(out, "\"boot-source\": null"));
	assert_int_equal(cfg_load_json(&x->cfg2, out, len, &x->f), 0);
	assert_memory_equal(&x->cfg, &x->cfg2, sizeof(x->cfg));
	free(out);
}

static void test_round_trip_escapes(void **state)
{
	struct fx *x = *state;
	char *out = NULL, odd[128];
	size_t len = 0;
	struct cfg_drive d = {0};
	struct cfg_metrics m = {0};

	/* a path with quotes, backslashes, a control character and UTF-8 */
	snprintf(odd, sizeof(odd), "%s/a\"b\\c\x01\xc3\xa9", x->dir);
	make_file(odd, "x");
	strcpy(d.drive_id, "odd");
	strcpy(d.path_on_host, odd);
	assert_int_equal(cfg_put_drive(&x->cfg, &d, &x->f), 0);
	strcpy(m.metrics_path, "\"}, \"x\": {");
	assert_int_equal(cfg_set_metrics(&x->cfg, &m, &x->f), 0);
	assert_int_equal(cfgjson_write_vm(&x->cfg, &out, &len), 0);
	if (cfg_load_json(&x->cfg2, out, len, &x->f))
		fail_msg("reload failed: %s\n%s", x->f.msg, out);
	assert_memory_equal(&x->cfg, &x->cfg2, sizeof(x->cfg));
	assert_string_equal(x->cfg2.drives[0].path_on_host, odd);
	unlink(odd);
	free(out);
}

static void test_machine_json(void **state)
{
	struct cfg_machine m = {.vcpu_count = 2, .mem_size_mib = 512, .huge_pages = CFG_HUGE_2M};
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cfgjson_write_machine(&m, &out, &len), 0);
	assert_string_equal(out, "{\"vcpu_count\": 2, \"mem_size_mib\": 512, \"smt\": false, "
				 "\"track_dirty_pages\": false, \"huge_pages\": \"2M\"}");
	free(out);
}

/* Load js (with %1$s the kernel, %2$s the disk) and expect a refusal whose
 * message contains needle, with the configuration left as it was. */
static void expect_refused(struct fx *x, const char *fmt, const char *needle)
{
	char js[2048];

	x->cfg2 = x->cfg;
	snprintf(js, sizeof(js), fmt, x->kernel, x->disk);
	x->f.msg[0] = '\0';
	if (cfg_load_json(&x->cfg, js, strlen(js), &x->f) != -EINVAL)
		fail_msg("accepted %s", js);
	if (!strstr(x->f.msg, needle))
		fail_msg("%s: message '%s' lacks '%s'", js, x->f.msg, needle);
	assert_memory_equal(&x->cfg, &x->cfg2, sizeof(x->cfg));
}

static void test_load_errors(void **state)
{
	struct fx *x = *state;

	expect_refused(x, "{\"machine-config\": {\"vcpu_count\": 33, \"mem_size_mib\": 128}}",
		       "machine-config: vcpu_count: must be between 1 and 32");
	expect_refused(x, "{\"machine-config\": {\"vcpu_count\": 1}}",
		       "machine-config: missing field 'mem_size_mib'");
	expect_refused(x, "{\"boot-source\": {\"kernel_image_path\": \"/nope\"}}",
		       "boot-source: kernel_image_path: cannot access '/nope'");
	expect_refused(x,
		       "{\"boot-source\": {\"kernel_image_path\": \"%1$s\"}, \"drives\": "
		       "[{\"drive_id\": \"a\", \"path_on_host\": \"%2$s\", \"is_root_device\": "
		       "true}, {\"drive_id\": \"b\", \"path_on_host\": \"%2$s\", "
		       "\"is_root_device\": true}]}",
		       "drives: [1]: is_root_device: a root block device already exists");
	expect_refused(x,
		       "{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"%2$s\", "
		       "\"is_root_device\": false}, {\"drive_id\": \"a\", \"path_on_host\": "
		       "\"%2$s\", \"is_root_device\": false}]}",
		       "drives: [1]: drive_id: 'a' is given twice");
	expect_refused(x, "{\"drives\": {}}", "drives: must be an array");
	expect_refused(x, "{\"drives\": [1]}", "drives: [0]: must be an object");
	expect_refused(x,
		       "{\"network-interfaces\": [{\"iface_id\": \"e\", \"host_dev_name\": "
		       "\"t\"}, {\"iface_id\": \"f\", \"host_dev_name\": \"t\"}]}",
		       "network-interfaces: [1]: host_dev_name: 't' is already used");
	expect_refused(x,
		       "{\"network-interfaces\": [{\"iface_id\": \"e\", \"host_dev_name\": "
		       "\"t\", \"guest_mac\": \"zz\"}]}",
		       "network-interfaces: [0]: guest_mac: must be a MAC address");
	expect_refused(x, "{\"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v\"}}",
		       "vsock: guest_cid: must be between 3");
	expect_refused(x, "{\"logger\": {\"level\": 3}}", "logger: level: must be a string");
	expect_refused(x, "{\"metrics\": {}}", "metrics: missing field 'metrics_path'");
	expect_refused(x, "{\"serial\": {\"x\": 1}}", "serial: unknown field 'x'");
	expect_refused(x, "{\"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": true}}",
		       "balloon: not supported by flint yet");
	expect_refused(x, "{\"mmds-config\": {\"network_interfaces\": []}}",
		       "mmds-config: not supported");
	expect_refused(x, "{\"pmem\": []}", "pmem: not supported");
	expect_refused(x, "{\"memory-hotplug\": {}}", "memory-hotplug: not supported");
	expect_refused(x, "{\"cpu-config\": {}}", "cpu-config: not supported");
	expect_refused(x, "{\"machine_config\": {}}", "unknown field 'machine_config'");
	expect_refused(x, "{\"vsock\": null, \"vsock\": null}", "duplicate field 'vsock'");
	expect_refused(x, "{\"logger\": {}, }", "malformed JSON");
	expect_refused(x, "{\"logger\": {}} trailing", "JSON");
	expect_refused(x, "[]", "expected a JSON object");
	/* an error late in the file undoes the sections applied before it */
	expect_refused(x,
		       "{\"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 64}, "
		       "\"vsock\": {\"guest_cid\": 1, \"uds_path\": \"/v\"}}",
		       "vsock: guest_cid");
	assert_int_equal(x->cfg.machine.vcpu_count, 1);
}

static void test_load_file_errors(void **state)
{
	struct fx *x = *state;
	FILE *fp;

	assert_int_equal(cfg_load_file(&x->cfg, "/nonexistent/cfg.json", &x->f), -EINVAL);
	assert_non_null(strstr(x->f.msg, "cannot open config file '/nonexistent/cfg.json'"));
	assert_int_equal(cfg_load_file(&x->cfg, x->dir, &x->f), -EINVAL);
	assert_non_null(strstr(x->f.msg, "not a regular file"));
	fp = fopen(x->path, "w");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, (2 << 20) - 1, SEEK_SET), 0);
	fputc('}', fp);
	fclose(fp);
	assert_int_equal(cfg_load_file(&x->cfg, x->path, &x->f), -EINVAL);
	assert_non_null(strstr(x->f.msg, "larger than"));
	make_file(x->path, "");
	assert_int_equal(cfg_load_file(&x->cfg, x->path, &x->f), -EINVAL);
	make_file(x->path, "{}");
	assert_int_equal(cfg_load_file(&x->cfg, x->path, &x->f), 0);
	assert_int_equal(cfg_load_json(&x->cfg, "{}", (uint64_t)(2 << 20), &x->f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_load_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_escapes, setup, teardown),
	    cmocka_unit_test(test_machine_json),
	    cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_file_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
