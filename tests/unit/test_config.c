/* vmm/config.c: every validating setter, and that a refusal changes nothing. */
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

#include "vmm/config.h"

struct fx {
	struct vm_config cfg;
	struct vm_config before;
	char dir[64];
	char kernel[128];
	char disk[128];
	char disk_ro[128]; /* mode 0444 */
	struct fault f;
};

static void make_file(const char *path, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs("data", fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	strcpy(x->dir, "/tmp/flint_test_config.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->kernel, sizeof(x->kernel), "%s/vmlinux", x->dir);
	snprintf(x->disk, sizeof(x->disk), "%s/disk.img", x->dir);
	snprintf(x->disk_ro, sizeof(x->disk_ro), "%s/ro.img", x->dir);
	make_file(x->kernel, 0644);
	make_file(x->disk, 0644);
	make_file(x->disk_ro, 0444);
	cfg_init(&x->cfg);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	unlink(x->kernel);
	unlink(x->disk);
	unlink(x->disk_ro);
	rmdir(x->dir);
	free(x);
	return 0;
}

/* The setter call must fail with a message containing needle, cfg untouched. */
#define REFUSED(x, call, needle)                                                                   \
	do {                                                                                       \
		(x)->before = (x)->cfg;                                                            \
		(x)->f.msg[0] = '\0';                                                              \
		assert_int_equal((call), -EINVAL);                                                 \
		if (!strstr((x)->f.msg, (needle)))                                                 \
			fail_msg("message '%s' lacks '%s'", (x)->f.msg, (needle));                 \
		assert_memory_equal(&(x)->cfg, &(x)->before, sizeof((x)->cfg));                    \
	} while (0)

static void test_defaults(void **state)
{
	struct fx *x = *state;

	assert_int_equal(x->cfg.machine.vcpu_count, 1);
	assert_true(x->cfg.machine.mem_size_mib == 128);
	assert_int_equal(x->cfg.ndrives, 0);
	assert_false(x->cfg.boot_source.set);
	REFUSED(x, cfg_validate_for_boot(&x->cfg, &x->f), "without kernel configuration");
}

static void test_machine(void **state)
{
	struct fx *x = *state;
	struct cfg_machine m = {.vcpu_count = 2, .mem_size_mib = 256, .smt = true};

	assert_int_equal(cfg_set_machine(&x->cfg, &m, &x->f), 0);
	assert_int_equal(x->cfg.machine.vcpu_count, 2);
	m.vcpu_count = 0;
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "vcpu_count: must be between 1 and 32");
	m.vcpu_count = 33;
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "got 33");
	m.vcpu_count = 3;
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "1 or an even number when smt");
	m.smt = false;
	assert_int_equal(cfg_set_machine(&x->cfg, &m, &x->f), 0);
	m.smt = true;
	m.vcpu_count = 1;
	assert_int_equal(cfg_set_machine(&x->cfg, &m, &x->f), 0);
	m.mem_size_mib = 0;
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "mem_size_mib: must be between 1");
	m.mem_size_mib = CFG_MEM_MAX_MIB + 1;
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "mem_size_mib");
	m.mem_size_mib = 129;
	m.huge_pages = CFG_HUGE_2M;
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "multiple of 2 with huge_pages");
	m.mem_size_mib = 130;
	assert_int_equal(cfg_set_machine(&x->cfg, &m, &x->f), 0);
	m.huge_pages = (enum cfg_huge_pages)7;
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "huge_pages");
	m.huge_pages = CFG_HUGE_NONE;
	strcpy(m.cpu_template, "T2");
	REFUSED(x, cfg_set_machine(&x->cfg, &m, &x->f), "cpu_template: only \"None\"");
	strcpy(m.cpu_template, "None");
	assert_int_equal(cfg_set_machine(&x->cfg, &m, &x->f), 0);
}

static void test_boot_source(void **state)
{
	struct fx *x = *state;
	struct cfg_boot_source *bs = calloc(1, sizeof(*bs));

	strcpy(bs->kernel_image_path, "/nonexistent/vmlinux");
	REFUSED(x, cfg_set_boot_source(&x->cfg, bs, &x->f),
		"kernel_image_path: cannot access '/nonexistent/vmlinux'");
	strcpy(bs->kernel_image_path, x->dir);
	REFUSED(x, cfg_set_boot_source(&x->cfg, bs, &x->f), "is not a regular file");
	bs->kernel_image_path[0] = '\0';
	REFUSED(x, cfg_set_boot_source(&x->cfg, bs, &x->f), "kernel_image_path: must not be empty");
	strcpy(bs->kernel_image_path, x->kernel);
	strcpy(bs->initrd_path, "/nonexistent/initrd");
	REFUSED(x, cfg_set_boot_source(&x->cfg, bs, &x->f), "initrd_path: cannot access");
	bs->initrd_path[0] = '\0';
	bs->has_boot_args = true;
	strcpy(bs->boot_args, "console=ttyS0\nevil");
	REFUSED(x, cfg_set_boot_source(&x->cfg, bs, &x->f), "boot_args: invalid character 0x0a");
	memset(bs->boot_args, 'a', sizeof(bs->boot_args)); /* no NUL */
	REFUSED(x, cfg_set_boot_source(&x->cfg, bs, &x->f), "boot_args: longer than 2047");
	strcpy(bs->boot_args, "console=ttyS0 reboot=k");
	assert_int_equal(cfg_set_boot_source(&x->cfg, bs, &x->f), 0);
	assert_true(x->cfg.boot_source.set);
	assert_int_equal(cfg_validate_for_boot(&x->cfg, &x->f), 0);
	free(bs);
}

static struct cfg_drive *drive(const char *id, const char *path, bool root)
{
	static struct cfg_drive d;

	memset(&d, 0, sizeof(d));
	snprintf(d.drive_id, sizeof(d.drive_id), "%s", id);
	snprintf(d.path_on_host, sizeof(d.path_on_host), "%s", path);
	d.is_root_device = root;
	return &d;
}

static void test_drive_values(void **state)
{
	struct fx *x = *state;
	struct cfg_drive *d;

	REFUSED(x, cfg_put_drive(&x->cfg, drive("bad-id", x->disk, false), &x->f),
		"drive_id: invalid id: only alphanumeric characters and '_'");
	REFUSED(x, cfg_put_drive(&x->cfg, drive("", x->disk, false), &x->f),
		"drive_id: invalid id");
	REFUSED(x, cfg_put_drive(&x->cfg, drive("d", "/nonexistent", false), &x->f),
		"path_on_host: cannot access '/nonexistent'");
	REFUSED(x, cfg_put_drive(&x->cfg, drive("d", "", false), &x->f), "path_on_host: must not");
	REFUSED(x, cfg_put_drive(&x->cfg, drive("d", "/dev/null", false), &x->f),
		"not a regular file or block device");
	if (geteuid() != 0)
		REFUSED(x, cfg_put_drive(&x->cfg, drive("d", x->disk_ro, false), &x->f),
			"cannot open '");
	d = drive("d", x->disk_ro, false);
	d->is_read_only = true;
	assert_int_equal(cfg_put_drive(&x->cfg, d, &x->f), 0);
	d = drive("e", x->disk, false);
	strcpy(d->partuuid, "1 root=/dev/evil");
	REFUSED(x, cfg_put_drive(&x->cfg, d, &x->f), "partuuid: only hex digits");
	d = drive("e", x->disk, false);
	d->rate_limiter.ops = (struct cfg_token_bucket){true, 1, 0, UINT64_MAX};
	REFUSED(x, cfg_put_drive(&x->cfg, d, &x->f),
		"rate_limiter: ops: refill_time: must be at most");
	d = drive("e", x->disk, false);
	d->rate_limiter.bandwidth = (struct cfg_token_bucket){true, 0, 0, 0}; /* disabled: fine */
	assert_int_equal(cfg_put_drive(&x->cfg, d, &x->f), 0);
	d = drive("f", x->disk, false);
	d->cache_type = (enum cfg_cache_type)9;
	REFUSED(x, cfg_put_drive(&x->cfg, d, &x->f), "cache_type");
}

static void test_drive_order(void **state)
{
	struct fx *x = *state;
	char id[16];

	assert_int_equal(cfg_put_drive(&x->cfg, drive("a", x->disk, false), &x->f), 0);
	assert_int_equal(cfg_put_drive(&x->cfg, drive("b", x->disk, false), &x->f), 0);
	assert_int_equal(cfg_put_drive(&x->cfg, drive("root", x->disk, true), &x->f), 0);
	assert_string_equal(x->cfg.drives[0].drive_id, "root");
	assert_string_equal(x->cfg.drives[1].drive_id, "a");
	REFUSED(x, cfg_put_drive(&x->cfg, drive("c", x->disk, true), &x->f),
		"a root block device already exists ('root')");
	/* an update keeps the place; becoming root moves to the front */
	assert_int_equal(cfg_put_drive(&x->cfg, drive("a", x->disk, false), &x->f), 0);
	assert_int_equal(x->cfg.ndrives, 3);
	assert_string_equal(x->cfg.drives[1].drive_id, "a");
	assert_int_equal(cfg_put_drive(&x->cfg, drive("root", x->disk, false), &x->f), 0);
	assert_string_equal(x->cfg.drives[2].drive_id, "root");
	assert_int_equal(cfg_put_drive(&x->cfg, drive("b", x->disk, true), &x->f), 0);
	assert_string_equal(x->cfg.drives[0].drive_id, "b");
	assert_int_equal(x->cfg.ndrives, 3);
	assert_int_equal(cfg_find_drive(&x->cfg, "root"), 2);
	assert_int_equal(cfg_find_drive(&x->cfg, "zz"), -1);
	for (int i = 3; i < CFG_MAX_DRIVES; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		assert_int_equal(cfg_put_drive(&x->cfg, drive(id, x->disk, false), &x->f), 0);
	}
	REFUSED(x, cfg_put_drive(&x->cfg, drive("more", x->disk, false), &x->f),
		"at most 8 drives");
	assert_int_equal(cfg_put_drive(&x->cfg, drive("d3", x->disk, false), &x->f), 0);
}

static struct cfg_net *net(const char *id, const char *tap, int mac_last)
{
	static struct cfg_net n;

	memset(&n, 0, sizeof(n));
	snprintf(n.iface_id, sizeof(n.iface_id), "%s", id);
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "%s", tap);
	if (mac_last >= 0) {
		n.has_guest_mac = true;
		n.guest_mac[0] = 6;
		n.guest_mac[5] = (uint8_t)mac_last;
	}
	return &n;
}

static void test_net(void **state)
{
	struct fx *x = *state;
	struct cfg_net *n;
	char id[16], tap[16];

	assert_int_equal(cfg_put_net(&x->cfg, net("eth0", "tap0", 1), &x->f), 0);
	REFUSED(x, cfg_put_net(&x->cfg, net("eth1", "tap0", 2), &x->f),
		"host_dev_name: 'tap0' is already used by interface 'eth0'");
	REFUSED(x, cfg_put_net(&x->cfg, net("eth1", "tap1", 1), &x->f),
		"guest_mac: already used by interface 'eth0'");
	assert_int_equal(cfg_put_net(&x->cfg, net("eth1", "tap1", -1), &x->f), 0);
	/* replacing eth0 by itself is no conflict */
	assert_int_equal(cfg_put_net(&x->cfg, net("eth0", "tap0", 1), &x->f), 0);
	assert_int_equal(x->cfg.nnets, 2);
	REFUSED(x, cfg_put_net(&x->cfg, net("eth.2", "tap2", -1), &x->f), "iface_id: invalid id");
	REFUSED(x, cfg_put_net(&x->cfg, net("eth2", "", -1), &x->f), "host_dev_name: must not");
	REFUSED(x, cfg_put_net(&x->cfg, net("eth2", "..", -1), &x->f), "not a valid interface");
	REFUSED(x, cfg_put_net(&x->cfg, net("eth2", "a/b", -1), &x->f), "not a valid interface");
	REFUSED(x, cfg_put_net(&x->cfg, net("eth2", "a b", -1), &x->f), "not a valid interface");
	n = net("eth2", "tap2", -1);
	n->mtu = 67;
	REFUSED(x, cfg_put_net(&x->cfg, n, &x->f), "mtu: must be between 68 and 65535");
	n = net("eth2", "tap2", -1);
	n->tx_rate_limiter.bandwidth = (struct cfg_token_bucket){true, 1, 1, UINT64_MAX / 1000};
	REFUSED(x, cfg_put_net(&x->cfg, n, &x->f), "tx_rate_limiter: bandwidth: refill_time");
	for (int i = 2; i < CFG_MAX_NETS; i++) {
		snprintf(id, sizeof(id), "eth%d", i);
		snprintf(tap, sizeof(tap), "tap%d", i);
		assert_int_equal(cfg_put_net(&x->cfg, net(id, tap, i + 10), &x->f), 0);
	}
	REFUSED(x, cfg_put_net(&x->cfg, net("eth99", "tap99", -1), &x->f), "at most 8");
	assert_int_equal(cfg_find_net(&x->cfg, "eth3"), 3);
}

static void test_mac_and_id(void **state)
{
	uint8_t mac[6] = {0};
	const uint8_t want[6] = {0xaa, 0xbb, 0xcc, 0x01, 0x02, 0xff};
	char long_id[CFG_ID_MAX + 2];

	(void)state;
	assert_int_equal(cfg_parse_mac("aa:BB:cc:01:02:fF", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(cfg_parse_mac("aa:bb:cc:01:02:ff:", mac), -EINVAL);
	assert_int_equal(cfg_parse_mac("aa:bb:cc:01:02", mac), -EINVAL);
	assert_int_equal(cfg_parse_mac("aa:bb:cc:01:02:f", mac), -EINVAL);
	assert_int_equal(cfg_parse_mac("aa:bb:cc:01:02:fg", mac), -EINVAL);
	assert_int_equal(cfg_parse_mac("aa-bb-cc-01-02-ff", mac), -EINVAL);
	assert_int_equal(cfg_check_id("Drive_1", NULL), 0);
	assert_int_equal(cfg_check_id("a b", NULL), -EINVAL);
	assert_int_equal(cfg_check_id("../x", NULL), -EINVAL);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(cfg_check_id(long_id, NULL), -EINVAL);
	long_id[CFG_ID_MAX] = '\0';
	assert_int_equal(cfg_check_id(long_id, NULL), 0);
}

static void test_vsock_entropy(void **state)
{
	struct fx *x = *state;
	struct cfg_vsock v = {.guest_cid = 2};
	struct cfg_entropy e = {0};

	strcpy(v.uds_path, "/tmp/v.sock");
	REFUSED(x, cfg_set_vsock(&x->cfg, &v, &x->f), "guest_cid: must be between 3 and");
	v.guest_cid = UINT32_MAX;
	REFUSED(x, cfg_set_vsock(&x->cfg, &v, &x->f), "guest_cid");
	v.guest_cid = 3;
	v.uds_path[0] = '\0';
	REFUSED(x, cfg_set_vsock(&x->cfg, &v, &x->f), "uds_path: must not be empty");
	memset(v.uds_path, 'x', sizeof(v.uds_path));
	REFUSED(x, cfg_set_vsock(&x->cfg, &v, &x->f), "uds_path: longer than 107");
	strcpy(v.uds_path, "/tmp/v.sock");
	assert_int_equal(cfg_set_vsock(&x->cfg, &v, &x->f), 0);
	assert_true(x->cfg.vsock.set);
	e.rate_limiter.ops = (struct cfg_token_bucket){true, 1, 1, UINT64_MAX};
	REFUSED(x, cfg_set_entropy(&x->cfg, &e, &x->f), "rate_limiter: ops: refill_time");
	e.rate_limiter.ops.refill_time_ms = 1000;
	assert_int_equal(cfg_set_entropy(&x->cfg, &e, &x->f), 0);
	assert_true(x->cfg.entropy.set);
}

static void test_logger_metrics_serial(void **state)
{
	struct fx *x = *state;
	struct cfg_logger *l = calloc(1, sizeof(*l));
	struct cfg_metrics *m = calloc(1, sizeof(*m));
	struct cfg_serial *s = calloc(1, sizeof(*s));

	strcpy(l->level, "Chatty");
	REFUSED(x, cfg_set_logger(&x->cfg, l, &x->f), "level: must be one of");
	strcpy(l->level, "debug");
	memset(l->module, 'm', sizeof(l->module));
	REFUSED(x, cfg_set_logger(&x->cfg, l, &x->f), "module: longer than 127");
	l->module[0] = '\0';
	assert_int_equal(cfg_set_logger(&x->cfg, l, &x->f), 0);
	REFUSED(x, cfg_set_metrics(&x->cfg, m, &x->f), "metrics_path: must not be empty");
	strcpy(m->metrics_path, "/tmp/metrics");
	assert_int_equal(cfg_set_metrics(&x->cfg, m, &x->f), 0);
	s->rate_limiter = (struct cfg_token_bucket){true, 1, 1, UINT64_MAX};
	REFUSED(x, cfg_set_serial(&x->cfg, s, &x->f), "rate_limiter: refill_time");
	s->rate_limiter.refill_time_ms = 10;
	assert_int_equal(cfg_set_serial(&x->cfg, s, &x->f), 0);
	assert_true(x->cfg.serial.set && x->cfg.logger.set && x->cfg.metrics.set);
	free(l);
	free(m);
	free(s);
}

/* A logger update keeps what it leaves out, so the config (GET /vm/config)
 * says what is in effect; an explicit false replaces an earlier true. */
static void test_logger_update_merges(void **state)
{
	struct fx *x = *state;
	struct cfg_logger *l = calloc(1, sizeof(*l));

	strcpy(l->log_path, "/tmp/a.log");
	strcpy(l->level, "Debug");
	strcpy(l->module, "api/");
	l->show_level = CFG_TRUE;
	l->show_log_origin = CFG_TRUE;
	assert_int_equal(cfg_set_logger(&x->cfg, l, &x->f), 0);
	memset(l, 0, sizeof(*l));
	strcpy(l->level, "Info");
	l->show_level = CFG_FALSE;
	assert_int_equal(cfg_set_logger(&x->cfg, l, &x->f), 0);
	assert_string_equal(x->cfg.logger.log_path, "/tmp/a.log");
	assert_string_equal(x->cfg.logger.module, "api/");
	assert_string_equal(x->cfg.logger.level, "Info");
	assert_int_equal(x->cfg.logger.show_level, CFG_FALSE);
	assert_int_equal(x->cfg.logger.show_log_origin, CFG_TRUE);
	l->show_level = (enum cfg_opt_bool)7;
	REFUSED(x, cfg_set_logger(&x->cfg, l, &x->f), "must be true or false");
	free(l);
}

static void test_too_many_devices(void **state)
{
	struct fx *x = *state;
	struct cfg_boot_source *bs = calloc(1, sizeof(*bs));
	struct cfg_vsock v = {.guest_cid = 3, .uds_path = "/v"};
	struct cfg_entropy e = {0};
	char id[16], tap[16];

	strcpy(bs->kernel_image_path, x->kernel);
	assert_int_equal(cfg_set_boot_source(&x->cfg, bs, &x->f), 0);
	for (int i = 0; i < CFG_MAX_DRIVES; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		assert_int_equal(cfg_put_drive(&x->cfg, drive(id, x->disk, false), &x->f), 0);
		snprintf(id, sizeof(id), "n%d", i);
		snprintf(tap, sizeof(tap), "tap%d", i);
		assert_int_equal(cfg_put_net(&x->cfg, net(id, tap, -1), &x->f), 0);
	}
	assert_int_equal(cfg_validate_for_boot(&x->cfg, &x->f), 0);
	assert_int_equal(cfg_set_vsock(&x->cfg, &v, &x->f), 0);
	assert_int_equal(cfg_set_entropy(&x->cfg, &e, &x->f), 0);
	REFUSED(x, cfg_validate_for_boot(&x->cfg, &x->f), "too many virtio devices: 18");
	free(bs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_machine, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_boot_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drive_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drive_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_net, setup, teardown),
	    cmocka_unit_test(test_mac_and_id),
	    cmocka_unit_test_setup_teardown(test_vsock_entropy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logger_metrics_serial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logger_update_merges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_devices, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
