/* api/body*: every request body parser, valid and hostile. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/body.h"

#define LEN(s) strlen(s)

/* Parse js with fn into a zeroed scratch and expect a fault containing needle. */
#define EXPECT_FAULT(fn, type, js, needle)                                                         \
	do {                                                                                       \
		type *o_ = calloc(1, sizeof(type));                                                \
		struct fault f_ = {""};                                                            \
		assert_int_equal(fn(js, LEN(js), o_, &f_), -EINVAL);                               \
		if (!strstr(f_.msg, needle))                                                       \
			fail_msg("%s: message '%s' lacks '%s'", js, f_.msg, needle);               \
		free(o_);                                                                          \
	} while (0)

static void test_machine(void **state)
{
	struct cfg_machine m;
	struct fault f;
	const char *js = "{\"vcpu_count\":2,\"mem_size_mib\":256}";

	(void)state;
	assert_int_equal(body_parse_machine(js, LEN(js), &m, &f), 0);
	assert_int_equal(m.vcpu_count, 2);
	assert_true(m.mem_size_mib == 256);
	assert_false(m.smt);
	assert_int_equal(m.huge_pages, CFG_HUGE_NONE);
	js = "{\"vcpu_count\":4,\"mem_size_mib\":1024,\"smt\":true,"
	     "\"track_dirty_pages\":true,\"huge_pages\":\"2M\",\"cpu_template\":\"None\"}";
	assert_int_equal(body_parse_machine(js, LEN(js), &m, &f), 0);
	assert_true(m.smt && m.track_dirty_pages);
	assert_int_equal(m.huge_pages, CFG_HUGE_2M);
	assert_string_equal(m.cpu_template, "None");

	EXPECT_FAULT(body_parse_machine, struct cfg_machine, "{\"vcpu_count\":1}",
		     "missing field 'mem_size_mib'");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":1,\"mem_size_mib\":128,\"gdb_socket_path\":\"x\"}",
		     "unknown field 'gdb_socket_path'");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":1,\"vcpu_count\":2,\"mem_size_mib\":128}",
		     "duplicate field 'vcpu_count'");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":\"1\",\"mem_size_mib\":128}", "vcpu_count: must be a non");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":4294967297,\"mem_size_mib\":128}", "vcpu_count: integer out");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":1,\"mem_size_mib\":12.5}", "mem_size_mib: must be a non");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":\"false\"}",
		     "smt: must be true or false");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":1,\"mem_size_mib\":128,\"huge_pages\":\"1G\"}",
		     "huge_pages: must be one of \"None\", \"Transparent\", \"2M\"");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":1,\"mem_size_mib\":128,\"cpu_template\":\"T9\"}",
		     "cpu_template: must be one of");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine, "[]", "expected a JSON object");
	EXPECT_FAULT(body_parse_machine, struct cfg_machine,
		     "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":{\"a\":{\"b\":{\"c\":{\"d\":{"
		     "\"e\":{\"f\":{\"g\":{}}}}}}}}}",
		     "nesting");
}

static void test_machine_patch(void **state)
{
	struct body_machine_patch p;
	struct cfg_machine m = {.vcpu_count = 1, .mem_size_mib = 128};
	const char *js = "{\"mem_size_mib\":512,\"smt\":null}";
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_machine_patch(js, LEN(js), &p, &f), 0);
	assert_true(p.has_mem_size_mib);
	assert_false(p.has_vcpu_count || p.has_smt || p.has_huge_pages || p.has_cpu_template);
	body_machine_patch_apply(&p, &m);
	assert_int_equal(m.vcpu_count, 1);
	assert_true(m.mem_size_mib == 512);
	js = "{\"vcpu_count\":2,\"huge_pages\":\"Transparent\",\"cpu_template\":\"None\","
	     "\"smt\":true,\"track_dirty_pages\":true}";
	assert_int_equal(body_parse_machine_patch(js, LEN(js), &p, &f), 0);
	body_machine_patch_apply(&p, &m);
	assert_int_equal(m.vcpu_count, 2);
	assert_int_equal(m.huge_pages, CFG_HUGE_TRANSPARENT);
	assert_true(m.smt && m.track_dirty_pages);
	/* Empty is told apart from malformed: it is not a parse failure. */
	f.msg[0] = '\0';
	assert_int_equal(body_parse_machine_patch("{}", 2, &p, &f), -ENODATA);
	assert_non_null(strstr(f.msg, "empty PATCH"));
	assert_int_equal(body_parse_machine_patch("{\"smt\":null}", 12, &p, &f), -ENODATA);
	EXPECT_FAULT(body_parse_machine_patch, struct body_machine_patch, "{\"foo\":1}",
		     "unknown field 'foo'");
}

static void test_boot_source(void **state)
{
	struct cfg_boot_source *bs = calloc(1, sizeof(*bs));
	const char *js = "{\"kernel_image_path\":\"/k\",\"boot_args\":\"console=ttyS0 \\\"a\\\"\"}";
	struct fault f;
	char *big;

	(void)state;
	assert_int_equal(body_parse_boot_source(js, LEN(js), bs, &f), 0);
	assert_true(bs->set && bs->has_boot_args);
	assert_string_equal(bs->boot_args, "console=ttyS0 \"a\"");
	assert_string_equal(bs->initrd_path, "");
	js = "{\"kernel_image_path\":\"/k\",\"initrd_path\":\"/i\",\"boot_args\":null}";
	assert_int_equal(body_parse_boot_source(js, LEN(js), bs, &f), 0);
	assert_false(bs->has_boot_args);
	assert_string_equal(bs->initrd_path, "/i");
	EXPECT_FAULT(body_parse_boot_source, struct cfg_boot_source, "{\"boot_args\":\"x\"}",
		     "missing field 'kernel_image_path'");
	EXPECT_FAULT(body_parse_boot_source, struct cfg_boot_source,
		     "{\"kernel_image_path\":\"/k\",\"initrd\":\"/i\"}", "unknown field 'initrd'");
	/* boot_args of 2048 bytes does not fit with its NUL */
	big = malloc(4096);
	snprintf(big, 4096, "{\"kernel_image_path\":\"/k\",\"boot_args\":\"%2048d\"}", 1);
	EXPECT_FAULT(body_parse_boot_source, struct cfg_boot_source, big,
		     "boot_args: longer than 2047 bytes");
	snprintf(big, 4096, "{\"kernel_image_path\":\"/k\",\"boot_args\":\"%2047d\"}", 1);
	assert_int_equal(body_parse_boot_source(big, LEN(big), bs, &f), 0);
	free(big);
	free(bs);
}

static void test_drive(void **state)
{
	struct cfg_drive *d = calloc(1, sizeof(*d));
	const char *js =
	    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/img\",\"is_root_device\":true,"
	    "\"is_read_only\":true,\"partuuid\":\"ab-1\",\"cache_type\":\"Writeback\","
	    "\"io_engine\":\"Async\",\"rate_limiter\":{\"bandwidth\":{\"size\":1000,"
	    "\"one_time_burst\":5,\"refill_time\":100}}}";
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_drive(js, LEN(js), d, &f), 0);
	assert_string_equal(d->drive_id, "rootfs");
	assert_true(d->is_root_device && d->is_read_only);
	assert_int_equal(d->cache_type, CFG_CACHE_WRITEBACK);
	assert_int_equal(d->io_engine, CFG_IO_ASYNC);
	assert_true(d->rate_limiter.bandwidth.set && !d->rate_limiter.ops.set);
	assert_true(d->rate_limiter.bandwidth.size == 1000);
	assert_true(d->rate_limiter.bandwidth.one_time_burst == 5);
	assert_true(d->rate_limiter.bandwidth.refill_time_ms == 100);
	js = "{\"drive_id\":\"d\",\"path_on_host\":\"/img\",\"is_root_device\":false}";
	assert_int_equal(body_parse_drive(js, LEN(js), d, &f), 0);
	assert_false(d->is_read_only);
	assert_int_equal(d->cache_type, CFG_CACHE_UNSAFE);

	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"path_on_host\":\"/i\"}",
		     "missing field 'is_root_device'");
	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"is_root_device\":false,\"socket\":\"/s\"}",
		     "socket: vhost-user");
	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"path_on_host\":\"/i\",\"is_root_device\":false,"
		     "\"cache_type\":\"unsafe\"}",
		     "cache_type: must be one of \"Unsafe\", \"Writeback\"");
	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"path_on_host\":\"/i\",\"is_root_device\":false,"
		     "\"rate_limiter\":{\"ops\":{\"size\":1}}}",
		     "rate_limiter: ops: missing field 'refill_time'");
	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"path_on_host\":\"/i\",\"is_root_device\":false,"
		     "\"rate_limiter\":{\"ops\":{\"size\":-1,\"refill_time\":1}}}",
		     "rate_limiter: ops: size: must be a non-negative integer");
	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"path_on_host\":\"/i\",\"is_root_device\":false,"
		     "\"rate_limiter\":{\"bw\":{}}}",
		     "rate_limiter: unknown field 'bw'");
	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"path_on_host\":\"/i\",\"is_root_device\":\"true\"}",
		     "is_root_device: must be true or false");
	EXPECT_FAULT(
	    body_parse_drive, struct cfg_drive,
	    "{\"drive_id\":\"01234567890123456789012345678901234567890123456789012345678901234"
	    "\",\"path_on_host\":\"/i\",\"is_root_device\":false}",
	    "drive_id: longer than 64 bytes");
	free(d);
}

static void test_drive_patch(void **state)
{
	struct body_drive_patch *p = calloc(1, sizeof(*p));
	const char *js = "{\"drive_id\":\"d\",\"rate_limiter\":{\"ops\":{\"size\":10,"
			 "\"refill_time\":1000}}}";
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_drive_patch(js, LEN(js), p, &f), 0);
	assert_false(p->has_path_on_host);
	assert_true(p->has_rate_limiter && p->rate_limiter.ops.set &&
		    !p->rate_limiter.bandwidth.set);
	js = "{\"drive_id\":\"d\",\"path_on_host\":\"/new\"}";
	assert_int_equal(body_parse_drive_patch(js, LEN(js), p, &f), 0);
	assert_true(p->has_path_on_host && !p->has_rate_limiter);
	assert_string_equal(p->path_on_host, "/new");
	EXPECT_FAULT(body_parse_drive_patch, struct body_drive_patch,
		     "{\"drive_id\":\"d\",\"is_read_only\":true}", "unknown field 'is_read_only'");
	EXPECT_FAULT(body_parse_drive_patch, struct body_drive_patch, "{\"path_on_host\":\"/x\"}",
		     "missing field 'drive_id'");
	free(p);
}

static void test_net(void **state)
{
	struct cfg_net n;
	const char *js = "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"
			 "\"06:00:AC:10:00:02\",\"mtu\":1500,\"tx_rate_limiter\":{\"bandwidth\":"
			 "{\"size\":1,\"refill_time\":1}}}";
	const uint8_t mac[6] = {6, 0, 0xac, 0x10, 0, 2};
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_net(js, LEN(js), &n, &f), 0);
	assert_true(n.has_guest_mac);
	assert_memory_equal(n.guest_mac, mac, 6);
	assert_int_equal(n.mtu, 1500);
	assert_true(n.tx_rate_limiter.bandwidth.set && !n.rx_rate_limiter.bandwidth.set);
	js = "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}";
	assert_int_equal(body_parse_net(js, LEN(js), &n, &f), 0);
	assert_false(n.has_guest_mac);
	assert_int_equal(n.mtu, 0);
	EXPECT_FAULT(
	    body_parse_net, struct cfg_net,
	    "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"guest_mac\":\"06:00:ac:10:00\"}",
	    "guest_mac: must be a MAC address");
	EXPECT_FAULT(
	    body_parse_net, struct cfg_net,
	    "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"guest_mac\":\"06-00-ac-10-00-02\"}",
	    "guest_mac: must be a MAC address");
	EXPECT_FAULT(
	    body_parse_net, struct cfg_net,
	    "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"guest_mac\":\"06:00:ac:10:00:0g\"}",
	    "guest_mac");
	EXPECT_FAULT(body_parse_net, struct cfg_net,
		     "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":67}",
		     "mtu: must be between 68 and 65535");
	EXPECT_FAULT(body_parse_net, struct cfg_net,
		     "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":65536}", "mtu: must be");
	EXPECT_FAULT(body_parse_net, struct cfg_net,
		     "{\"iface_id\":\"e\",\"host_dev_name\":\"0123456789abcdef\"}",
		     "host_dev_name: longer than 15 bytes");
	EXPECT_FAULT(body_parse_net, struct cfg_net, "{\"iface_id\":\"e\"}",
		     "missing field 'host_dev_name'");
}

static void test_net_patch(void **state)
{
	struct body_net_patch p;
	const char *js = "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":{}}";
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_net_patch(js, LEN(js), &p, &f), 0);
	assert_true(p.has_rx_rate_limiter && !p.has_tx_rate_limiter);
	assert_false(p.rx_rate_limiter.bandwidth.set || p.rx_rate_limiter.ops.set);
	EXPECT_FAULT(body_parse_net_patch, struct body_net_patch,
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"x\"}", "unknown field");
}

static void test_vsock_entropy(void **state)
{
	const char *js = "{\"guest_cid\":3,\"uds_path\":\"/v.sock\",\"vsock_id\":\"old\"}";
	struct cfg_entropy e;
	struct cfg_vsock v;
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_vsock(js, LEN(js), &v, &f), 0);
	assert_true(v.set);
	assert_int_equal(v.guest_cid, 3);
	assert_string_equal(v.uds_path, "/v.sock");
	EXPECT_FAULT(body_parse_vsock, struct cfg_vsock, "{\"guest_cid\":3}",
		     "missing field 'uds_path'");
	EXPECT_FAULT(
	    body_parse_vsock, struct cfg_vsock,
	    "{\"guest_cid\":3,\"uds_path\":\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	    "uds_path: longer than 107 bytes");
	js = "{}";
	assert_int_equal(body_parse_entropy(js, LEN(js), &e, &f), 0);
	assert_true(e.set);
	js = "{\"rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":10}}}";
	assert_int_equal(body_parse_entropy(js, LEN(js), &e, &f), 0);
	assert_true(e.rate_limiter.ops.set);
	EXPECT_FAULT(body_parse_entropy, struct cfg_entropy, "{\"rate_limiter\":[]}",
		     "rate_limiter: must be an object");
}

static void test_logger_metrics_serial(void **state)
{
	struct cfg_logger *l = calloc(1, sizeof(*l));
	struct cfg_metrics *m = calloc(1, sizeof(*m));
	struct cfg_serial *s = calloc(1, sizeof(*s));
	const char *js = "{\"log_path\":\"/log\",\"level\":\"warning\",\"show_level\":true}";
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_logger(js, LEN(js), l, &f), 0);
	assert_string_equal(l->level, "Warning");
	assert_int_equal(l->show_level, CFG_TRUE);
	assert_int_equal(l->show_log_origin, CFG_ABSENT);
	assert_int_equal(body_parse_logger("{}", 2, l, &f), 0);
	assert_string_equal(l->level, "Info");
	js = "{\"level\":\"WARN\"}"; /* Firecracker's alias */
	assert_int_equal(body_parse_logger(js, LEN(js), l, &f), 0);
	assert_string_equal(l->level, "Warning");
	EXPECT_FAULT(body_parse_logger, struct cfg_logger, "{\"level\":\"Loud\"}",
		     "level: must be one of");
	js = "{\"metrics_path\":\"/m\",\"emit_id\":true}";
	assert_int_equal(body_parse_metrics(js, LEN(js), m, &f), 0);
	assert_true(m->set && m->emit_id);
	js = "{\"metrics_path\":\"/m\",\"properties\":{\"team\":\"blue\",\"\\u00e9\":\"\"}}";
	assert_int_equal(body_parse_metrics(js, LEN(js), m, &f), 0);
	assert_int_equal(m->nproperties, 2);
	assert_string_equal(m->properties[0].key, "team");
	assert_string_equal(m->properties[0].value, "blue");
	assert_string_equal(m->properties[1].key, "\xc3\xa9");
	assert_string_equal(m->properties[1].value, "");
	EXPECT_FAULT(body_parse_metrics, struct cfg_metrics,
		     "{\"metrics_path\":\"/m\",\"properties\":{\"a\":1}}",
		     "properties: a: must be a string");
	EXPECT_FAULT(body_parse_metrics, struct cfg_metrics,
		     "{\"metrics_path\":\"/m\",\"properties\":{\"a\":\"1\",\"a\":\"2\"}}",
		     "properties: duplicate key 'a'");
	EXPECT_FAULT(body_parse_metrics, struct cfg_metrics,
		     "{\"metrics_path\":\"/m\",\"properties\":{\"\":\"1\"}}",
		     "properties: keys must be 1 to 64 bytes");
	EXPECT_FAULT(body_parse_metrics, struct cfg_metrics,
		     "{\"metrics_path\":\"/m\",\"properties\":[\"a\"]}",
		     "properties: must be an object");
	EXPECT_FAULT(
	    body_parse_metrics, struct cfg_metrics,
	    "{\"metrics_path\":\"/m\",\"properties\":{\"1\":\"\",\"2\":\"\",\"3\":\"\","
	    "\"4\":\"\",\"5\":\"\",\"6\":\"\",\"7\":\"\",\"8\":\"\",\"9\":\"\",\"10\":\"\","
	    "\"11\":\"\",\"12\":\"\",\"13\":\"\",\"14\":\"\",\"15\":\"\",\"16\":\"\","
	    "\"17\":\"\"}}",
	    "properties: at most 16");
	js = "{\"serial_out_path\":\"/s\",\"rate_limiter\":{\"size\":10,\"refill_time\":5}}";
	assert_int_equal(body_parse_serial(js, LEN(js), s, &f), 0);
	assert_true(s->set && s->rate_limiter.set && s->rate_limiter.size == 10);
	EXPECT_FAULT(body_parse_serial, struct cfg_serial,
		     "{\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1}}}",
		     "rate_limiter: unknown field 'bandwidth'");
	free(l);
	free(m);
	free(s);
}

static void test_action_vm(void **state)
{
	struct body_action a;
	struct body_vm v;
	struct fault f;
	const char *js = "{\"action_type\":\"SendCtrlAltDel\"}";

	(void)state;
	assert_int_equal(body_parse_action(js, LEN(js), &a, &f), 0);
	assert_int_equal(a.type, BODY_ACTION_SEND_CTRL_ALT_DEL);
	js = "{\"action_type\":\"InstanceStart\"}";
	assert_int_equal(body_parse_action(js, LEN(js), &a, &f), 0);
	assert_int_equal(a.type, BODY_ACTION_INSTANCE_START);
	EXPECT_FAULT(body_parse_action, struct body_action, "{\"action_type\":\"instancestart\"}",
		     "action_type: must be one of");
	EXPECT_FAULT(body_parse_action, struct body_action, "{}", "missing field 'action_type'");
	EXPECT_FAULT(body_parse_action, struct body_action, "{\"action_type\":\"FlushMetrics\"} x",
		     "");
	js = "{\"state\":\"Paused\"}";
	assert_int_equal(body_parse_vm(js, LEN(js), &v, &f), 0);
	assert_int_equal(v.state, BODY_VM_PAUSED);
	js = " {\"state\" : \"Resumed\"} ";
	assert_int_equal(body_parse_vm(js, LEN(js), &v, &f), 0);
	assert_int_equal(v.state, BODY_VM_RESUMED);
	EXPECT_FAULT(body_parse_vm, struct body_vm, "{\"state\":\"Running\"}",
		     "state: must be one of \"Paused\", \"Resumed\"");
	EXPECT_FAULT(body_parse_vm, struct body_vm, "{\"state\":\"Paused\",\"state\":\"Resumed\"}",
		     "duplicate field 'state'");
}

static void test_snapshot(void **state)
{
	struct body_snapshot_create *c = calloc(1, sizeof(*c));
	struct body_snapshot_load *l = calloc(1, sizeof(*l));
	const char *js =
	    "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"snapshot_type\":\"Diff\"}";
	struct fault f;

	(void)state;
	assert_int_equal(body_parse_snapshot_create(js, LEN(js), c, &f), 0);
	assert_int_equal(c->type, BODY_SNAPSHOT_DIFF);
	assert_string_equal(c->mem_file_path, "/m");
	EXPECT_FAULT(body_parse_snapshot_create, struct body_snapshot_create,
		     "{\"snapshot_path\":\"/s\"}", "missing field 'mem_file_path'");
	EXPECT_FAULT(body_parse_snapshot_create, struct body_snapshot_create,
		     "{\"snapshot_path\":\"\",\"mem_file_path\":\"/m\"}",
		     "snapshot_path: must not");
	EXPECT_FAULT(
	    body_parse_snapshot_create, struct body_snapshot_create,
	    "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"snapshot_type\":\"Half\"}",
	    "snapshot_type: must be one of \"Full\", \"Diff\"");

	js =
	    "{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":"
	    "\"/u.sock\"},\"resume_vm\":true,\"network_overrides\":[{\"iface_id\":\"eth0\","
	    "\"host_dev_name\":\"tap9\"}],\"vsock_override\":{\"uds_path\":\"/v2\"},"
	    "\"huge_pages\":\"2M\",\"track_dirty_pages\":true,\"clock_realtime\":true}";
	assert_int_equal(body_parse_snapshot_load(js, LEN(js), l, &f), 0);
	assert_int_equal(l->backend_type, BODY_MEM_UFFD);
	assert_string_equal(l->backend_path, "/u.sock");
	assert_true(l->resume_vm && l->track_dirty_pages && l->clock_realtime);
	assert_int_equal(l->n_net_overrides, 1);
	assert_string_equal(l->net_overrides[0].host_dev_name, "tap9");
	assert_true(l->has_vsock_override);
	assert_string_equal(l->vsock_uds_path, "/v2");
	assert_int_equal(l->huge_pages, BODY_LOAD_HUGE_2M);
	js = "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"enable_diff_snapshots\":true}";
	assert_int_equal(body_parse_snapshot_load(js, LEN(js), l, &f), 0);
	assert_int_equal(l->backend_type, BODY_MEM_FILE);
	assert_string_equal(l->backend_path, "/m");
	assert_true(l->track_dirty_pages && !l->has_vsock_override);
	assert_int_equal(l->huge_pages, BODY_LOAD_HUGE_SNAPSHOT);
	EXPECT_FAULT(body_parse_snapshot_load, struct body_snapshot_load,
		     "{\"snapshot_path\":\"/s\"}", "exactly one of mem_backend and mem_file_path");
	EXPECT_FAULT(body_parse_snapshot_load, struct body_snapshot_load,
		     "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"mem_backend\":"
		     "{\"backend_type\":\"File\",\"backend_path\":\"/m\"}}",
		     "exactly one of");
	EXPECT_FAULT(body_parse_snapshot_load, struct body_snapshot_load,
		     "{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Disk\","
		     "\"backend_path\":\"/m\"}}",
		     "mem_backend: backend_type: must be one of \"File\", \"Uffd\"");
	EXPECT_FAULT(body_parse_snapshot_load, struct body_snapshot_load,
		     "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":"
		     "[{\"iface_id\":\"a\",\"host_dev_name\":\"t\"},{\"iface_id\":\"a\","
		     "\"host_dev_name\":\"u\"}]}",
		     "network_overrides: [1]: iface_id: 'a' is given twice");
	EXPECT_FAULT(body_parse_snapshot_load, struct body_snapshot_load,
		     "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":"
		     "[{},{},{},{},{},{},{},{},{}]}",
		     "network_overrides: at most 8");
	/* Either one asks for tracking, in any order (Firecracker ORs them). */
	js = "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"track_dirty_pages\":true,"
	     "\"enable_diff_snapshots\":false}";
	assert_int_equal(body_parse_snapshot_load(js, LEN(js), l, &f), 0);
	assert_true(l->track_dirty_pages);
	js = "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"enable_diff_snapshots\":true,"
	     "\"track_dirty_pages\":false}";
	assert_int_equal(body_parse_snapshot_load(js, LEN(js), l, &f), 0);
	assert_true(l->track_dirty_pages);
	EXPECT_FAULT(body_parse_snapshot_load, struct body_snapshot_load,
		     "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"track_dirty_pages\":1}",
		     "track_dirty_pages: must be true or false");
	EXPECT_FAULT(body_parse_snapshot_load, struct body_snapshot_load,
		     "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"vsock_override\":{}}",
		     "vsock_override: missing field 'uds_path'");
	free(c);
	free(l);
}

/* Every optional boolean of every body: given false must be told apart
 * from not given wherever not given means something else than false. */
static void test_optional_bools(void **state)
{
	struct cfg_logger *l = calloc(1, sizeof(*l));
	struct cfg_machine m;
	struct body_machine_patch p;
	struct cfg_drive *d = calloc(1, sizeof(*d));
	struct cfg_metrics *mt = calloc(1, sizeof(*mt));
	struct body_snapshot_load *sl = calloc(1, sizeof(*sl));
	struct fault f;
	const char *js = "{\"show_level\":false,\"show_log_origin\":false}";

	(void)state;
	/* logger: absent keeps the current setting, false turns it off */
	assert_int_equal(body_parse_logger(js, LEN(js), l, &f), 0);
	assert_int_equal(l->show_level, CFG_FALSE);
	assert_int_equal(l->show_log_origin, CFG_FALSE);
	js = "{\"show_level\":null,\"show_log_origin\":true}";
	assert_int_equal(body_parse_logger(js, LEN(js), l, &f), 0);
	assert_int_equal(l->show_level, CFG_ABSENT);
	assert_int_equal(l->show_log_origin, CFG_TRUE);
	assert_int_equal(body_parse_logger("{}", 2, l, &f), 0);
	assert_int_equal(l->show_level, CFG_ABSENT);
	assert_int_equal(l->show_log_origin, CFG_ABSENT);
	EXPECT_FAULT(body_parse_logger, struct cfg_logger, "{\"show_log_origin\":0}",
		     "show_log_origin: must be true or false");
	/* PUT machine-config: the spec's defaults, false, for what is absent */
	js = "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,\"track_dirty_pages\":false}";
	assert_int_equal(body_parse_machine(js, LEN(js), &m, &f), 0);
	assert_false(m.smt || m.track_dirty_pages);
	/* PATCH machine-config: false clears, absent keeps */
	m.smt = m.track_dirty_pages = true;
	js = "{\"smt\":false}";
	assert_int_equal(body_parse_machine_patch(js, LEN(js), &p, &f), 0);
	assert_true(p.has_smt && !p.has_track_dirty_pages);
	body_machine_patch_apply(&p, &m);
	assert_false(m.smt);
	assert_true(m.track_dirty_pages);
	js = "{\"track_dirty_pages\":false}";
	assert_int_equal(body_parse_machine_patch(js, LEN(js), &p, &f), 0);
	body_machine_patch_apply(&p, &m);
	assert_false(m.smt || m.track_dirty_pages);
	/* drives: is_root_device is required even when false; is_read_only
	 * defaults to false, as Firecracker's unwrap_or(false) */
	js = "{\"drive_id\":\"d\",\"path_on_host\":\"/i\",\"is_root_device\":false,"
	     "\"is_read_only\":false}";
	assert_int_equal(body_parse_drive(js, LEN(js), d, &f), 0);
	assert_false(d->is_root_device || d->is_read_only);
	EXPECT_FAULT(body_parse_drive, struct cfg_drive,
		     "{\"drive_id\":\"d\",\"path_on_host\":\"/i\",\"is_root_device\":null}",
		     "missing field 'is_root_device'");
	/* metrics and snapshot/load: plain defaults of false */
	js = "{\"metrics_path\":\"/m\",\"emit_id\":false}";
	assert_int_equal(body_parse_metrics(js, LEN(js), mt, &f), 0);
	assert_false(mt->emit_id);
	js = "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"resume_vm\":false,"
	     "\"clock_realtime\":false,\"track_dirty_pages\":false}";
	assert_int_equal(body_parse_snapshot_load(js, LEN(js), sl, &f), 0);
	assert_false(sl->resume_vm || sl->clock_realtime || sl->track_dirty_pages);
	free(l);
	free(d);
	free(mt);
	free(sl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_machine),
	    cmocka_unit_test(test_machine_patch),
	    cmocka_unit_test(test_boot_source),
	    cmocka_unit_test(test_drive),
	    cmocka_unit_test(test_drive_patch),
	    cmocka_unit_test(test_net),
	    cmocka_unit_test(test_net_patch),
	    cmocka_unit_test(test_vsock_entropy),
	    cmocka_unit_test(test_logger_metrics_serial),
	    cmocka_unit_test(test_action_vm),
	    cmocka_unit_test(test_snapshot),
	    cmocka_unit_test(test_optional_bools),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
