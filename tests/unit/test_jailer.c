/* flint-jailer's pure parts: argument parsing and validation, path building,
 * the /proc parsers and the cgroup device program (run on a small BPF
 * interpreter covering the instructions it uses). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* flint-jailer is a separate binary: the unit-test rule links flint's
 * objects, not the jailer's, so the pure jailer sources are compiled in
 * here. None of them needs libbpf or touches the system. */
#include "jailer/args.c"    // NOLINT(bugprone-suspicious-include)
#include "jailer/devprog.c" // NOLINT(bugprone-suspicious-include)
#include "jailer/paths.c"   // NOLINT(bugprone-suspicious-include)

static struct jail_config cfg;
static struct jail_err err;

/* argv is NULL-terminated; the compound literal built by PARSE() lives in
 * the calling test's block, as long as cfg points into it. */
static int parse_v(char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(&err, 0, sizeof(err));
	return jail_parse_args(argc, argv, &cfg, &err);
}

#define PARSE(...) parse_v((char *[]){"flint-jailer", __VA_ARGS__, NULL})

#define BASIC "--id", "vm-1", "--exec-file", "/usr/bin/flint", "--uid", "100", "--gid", "200"

static void test_parse_minimal_defaults(void **state)
{
	(void)state;
	assert_int_equal(PARSE(BASIC), 0);
	assert_string_equal(cfg.id, "vm-1");
	assert_string_equal(cfg.exec_file, "/usr/bin/flint");
	assert_int_equal(cfg.uid, 100);
	assert_int_equal(cfg.gid, 200);
	assert_string_equal(cfg.base_dir, "/srv/jailer");
	assert_null(cfg.netns);
	assert_null(cfg.parent_cgroup);
	assert_int_equal(cfg.cgroup_version, 1);
	assert_int_equal(cfg.nofile, 2048);
	assert_false(cfg.has_fsize);
	assert_false(cfg.daemonize);
	assert_false(cfg.new_pid_ns);
	assert_int_equal(cfg.n_extra, 0);
}

static void test_parse_full(void **state)
{
	(void)state;
	assert_int_equal(PARSE(BASIC, "--chroot-base-dir", "/tmp/j", "--netns", "/var/run/netns/a",
			       "--daemonize", "--new-pid-ns", "--cgroup-version=2", "--cgroup",
			       "cpuset.cpus=0-1", "--cgroup=io.max=8:16 rbps=1000",
			       "--parent-cgroup", "vms/ext", "--resource-limit", "fsize=1000",
			       "--resource-limit", "no-file=64", "--", "--api-sock", "/a.sock"),
			 0);
	assert_string_equal(cfg.base_dir, "/tmp/j");
	assert_string_equal(cfg.netns, "/var/run/netns/a");
	assert_true(cfg.daemonize);
	assert_true(cfg.new_pid_ns);
	assert_int_equal(cfg.cgroup_version, 2);
	assert_int_equal(cfg.n_cgroups, 2);
	assert_string_equal(cfg.cgroups[0].file, "cpuset.cpus");
	assert_string_equal(cfg.cgroups[0].controller, "cpuset");
	assert_string_equal(cfg.cgroups[0].value, "0-1");
	/* '=' in the value is kept (io.max takes key=value pairs). */
	assert_string_equal(cfg.cgroups[1].controller, "io");
	assert_string_equal(cfg.cgroups[1].value, "8:16 rbps=1000");
	assert_string_equal(cfg.parent_cgroup, "vms/ext");
	assert_true(cfg.has_fsize);
	assert_int_equal(cfg.fsize, 1000);
	assert_int_equal(cfg.nofile, 64);
	assert_int_equal(cfg.n_extra, 2);
	assert_string_equal(cfg.extra_args[0], "--api-sock");
	assert_string_equal(cfg.extra_args[1], "/a.sock");
}

static void test_parse_help_version_need_nothing(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--help"), 0);
	assert_true(cfg.help);
	assert_int_equal(PARSE("--version"), 0);
	assert_true(cfg.version);
}

static void test_parse_missing_required(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--id", "a", "--exec-file", "/x", "--uid", "1"), -EINVAL);
	assert_non_null(strstr(err.msg, "--gid"));
	assert_int_equal(PARSE("--exec-file", "/x", "--uid", "1", "--gid", "1"), -EINVAL);
	assert_non_null(strstr(err.msg, "--id"));
}

static void test_parse_bad_id(void **state)
{
	char long_id[JAIL_ID_MAX + 2];

	(void)state;
	assert_int_equal(PARSE("--id", "a/b", "--exec-file", "/x", "--uid", "1", "--gid", "1"),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "invalid --id"));
	assert_int_equal(PARSE("--id", "a_b", "--exec-file", "/x", "--uid", "1", "--gid", "1"),
			 -EINVAL);
	assert_int_equal(PARSE("--id", "", "--exec-file", "/x", "--uid", "1", "--gid", "1"),
			 -EINVAL);
	assert_int_equal(PARSE("--id", "..", "--exec-file", "/x", "--uid", "1", "--gid", "1"),
			 -EINVAL);
	assert_int_equal(PARSE("--id", "\xc3\xa9", "--exec-file", "/x", "--uid", "1", "--gid", "1"),
			 -EINVAL);
	memset(long_id, 'a', sizeof(long_id));
	long_id[JAIL_ID_MAX] = '\0';
	assert_int_equal(jail_check_id(long_id, &err), 0);
	long_id[JAIL_ID_MAX] = 'a';
	long_id[JAIL_ID_MAX + 1] = '\0';
	assert_int_equal(jail_check_id(long_id, &err), -EINVAL);
	assert_int_equal(jail_check_id("551e7604-e35c-42b3-b825-416853441234", &err), 0);
}

static void test_parse_bad_exec_file(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--id", "a", "--exec-file", "flint", "--uid", "1", "--gid", "1"),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "absolute"));
	assert_int_equal(PARSE("--id", "a", "--exec-file", "", "--uid", "1", "--gid", "1"),
			 -EINVAL);
	assert_int_equal(PARSE("--id", "a", "--exec-file", "./x", "--uid", "1", "--gid", "1"),
			 -EINVAL);
}

static void test_parse_uid_gid_range(void **state)
{
	uint32_t v = 1;

	(void)state;
	assert_int_equal(jail_parse_id_num("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(jail_parse_id_num("4294967294", &v), 0);
	assert_int_equal(v, 4294967294u);
	/* (uid_t)-1 means "unchanged" to setresuid(). */
	assert_int_equal(jail_parse_id_num("4294967295", &v), -EINVAL);
	assert_int_equal(jail_parse_id_num("99999999999999999999999", &v), -EINVAL);
	assert_int_equal(jail_parse_id_num("-1", &v), -EINVAL);
	assert_int_equal(jail_parse_id_num("+1", &v), -EINVAL);
	assert_int_equal(jail_parse_id_num(" 1", &v), -EINVAL);
	assert_int_equal(jail_parse_id_num("1a", &v), -EINVAL);
	assert_int_equal(jail_parse_id_num("", &v), -EINVAL);
	assert_int_equal(PARSE("--id", "a", "--exec-file", "/x", "--uid", "abc", "--gid", "1"),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "--uid"));
	assert_int_equal(
	    PARSE("--id", "a", "--exec-file", "/x", "--uid", "1", "--gid", "4294967296"), -EINVAL);
	assert_non_null(strstr(err.msg, "--gid"));
}

static void test_parse_cgroup_specs(void **state)
{
	static const char *const bad[] = {
	    "cpu.shares",   "cpu.shares=", "=1",	 "../x=1", "cpu/../x=1",
	    "cpu/x=1",	    "noprefix=1",  ".shares=1",	 "cpu.=1", "cpu..x=1",
	    "cpu.sh res=1", "cpu.x=a\nb",  "cpu.x=\x01",
	};
	struct jail_cgroup_arg a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(jail_parse_cgroup_arg(bad[i], &a, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "invalid --cgroup"));
	}
	assert_int_equal(jail_parse_cgroup_arg("memory.max=1G", &a, &err), 0);
	assert_string_equal(a.controller, "memory");
	assert_string_equal(a.file, "memory.max");
	assert_int_equal(jail_parse_cgroup_arg("hugetlb.2MB.max=0", &a, &err), 0);
	assert_string_equal(a.controller, "hugetlb");
	assert_string_equal(a.file, "hugetlb.2MB.max");
}

static void test_parse_too_many_cgroups(void **state)
{
	char *argv[2 * JAIL_MAX_CGROUPS + 12] = {NULL};
	int n = 0;

	(void)state;
	argv[n++] = "flint-jailer";
	for (int i = 0; i < 8; i++)
		argv[n++] = (char *[]){BASIC}[i];
	for (int i = 0; i <= JAIL_MAX_CGROUPS; i++) {
		argv[n++] = "--cgroup";
		argv[n++] = "cpu.shares=2";
	}
	argv[n] = NULL;
	assert_int_equal(parse_v(argv), -EINVAL);
	assert_non_null(strstr(err.msg, "too many"));
}

static void test_parse_rlimits(void **state)
{
	(void)state;
	assert_int_equal(PARSE(BASIC, "--resource-limit", "nofile=5"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--resource-limit", "no-file=abc"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--resource-limit", "fsize=-1"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--resource-limit", "fsize"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--resource-limit", "fsize="), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--resource-limit", "fsize=18446744073709551616"), -EINVAL);
	assert_non_null(strstr(err.msg, "--resource-limit"));
	assert_int_equal(PARSE(BASIC, "--resource-limit", "fsize=18446744073709551615"), 0);
	assert_int_equal(cfg.fsize, UINT64_MAX);
}

static void test_parse_misc_errors(void **state)
{
	(void)state;
	assert_int_equal(PARSE(BASIC, "--cgroup-version", "3"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--bogus"), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown option"));
	assert_int_equal(PARSE(BASIC, "stray"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--id", "b"), -EINVAL);
	assert_non_null(strstr(err.msg, "more than once"));
	assert_int_equal(PARSE(BASIC, "--daemonize=1"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--netns"), -EINVAL);
	assert_non_null(strstr(err.msg, "needs a value"));
	assert_int_equal(PARSE(BASIC, "--netns", "relative"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--chroot-base-dir", "srv"), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--parent-cgroup", "../x"), -EINVAL);
}

/* Arguments shorter than "--" are refused by name (the parser no longer
 * forms a pointer past the end of "" to get there). */
static void test_parse_short_args(void **state)
{
	(void)state;
	assert_int_equal(PARSE(BASIC, ""), -EINVAL);
	assert_non_null(strstr(err.msg, "unexpected argument ''"));
	assert_int_equal(PARSE(BASIC, "-"), -EINVAL);
	assert_non_null(strstr(err.msg, "unexpected argument '-'"));
	assert_int_equal(PARSE("", BASIC), -EINVAL);
	assert_int_equal(PARSE(BASIC, "--=x"), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown option"));
}

static void test_rel_path(void **state)
{
	(void)state;
	assert_int_equal(jail_check_rel_path("a", &err), 0);
	assert_int_equal(jail_check_rel_path("a/b-c/d.e", &err), 0);
	assert_int_equal(jail_check_rel_path("a/b/c/d/e/f/g/h", &err), 0);
	assert_int_equal(jail_check_rel_path("a/b/c/d/e/f/g/h/i", &err), -EINVAL);
	assert_int_equal(jail_check_rel_path("", &err), -EINVAL);
	assert_int_equal(jail_check_rel_path("/a", &err), -EINVAL);
	assert_int_equal(jail_check_rel_path("a//b", &err), -EINVAL);
	assert_int_equal(jail_check_rel_path("a/", &err), 0);
	assert_int_equal(jail_check_rel_path("a/./b", &err), -EINVAL);
	assert_int_equal(jail_check_rel_path("a/..", &err), -EINVAL);
	assert_int_equal(jail_check_rel_path("..", &err), -EINVAL);
	assert_int_equal(jail_check_rel_path("a\nb", &err), -EINVAL);
}

static void test_path_join_base(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(jail_path_join(out, sizeof(out), "/srv", "x"), 0);
	assert_string_equal(out, "/srv/x");
	assert_int_equal(jail_path_join(out, sizeof(out), "/srv/", "x"), 0);
	assert_string_equal(out, "/srv/x");
	assert_int_equal(jail_path_join(out, sizeof(out), "/", "x"), 0);
	assert_string_equal(out, "/x");
	assert_int_equal(jail_path_join(out, sizeof(out), "/srv/jailer", "flint"), -ENAMETOOLONG);
	assert_int_equal(jail_path_join(out, 7, "/srv", "xy"), -ENAMETOOLONG);
	assert_int_equal(jail_path_join(out, 8, "/srv", "xy"), 0);
	assert_string_equal(jail_path_base("/usr/bin/flint"), "flint");
	assert_string_equal(jail_path_base("/flint"), "flint");
	assert_null(jail_path_base("/"));
	assert_null(jail_path_base("/usr/"));
	assert_null(jail_path_base("/usr/.."));
}

static const char mounts[] =
    "sysfs /sys sysfs rw,nosuid 0 0\n"
    "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
    "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n"
    "cgroup /sys/fs/cgroup/cpu\\040set cgroup rw,relatime,cpuset 0 0\n"
    "cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n"
    "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0";

static void test_mounts_find(void **state)
{
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(jail_mounts_find(mounts, "cpu", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(jail_mounts_find(mounts, "cpuacct", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(jail_mounts_find(mounts, "cpuset", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpu set");
	assert_int_equal(jail_mounts_find(mounts, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
	/* Words, not substrings: "relatime" does not contain a controller. */
	assert_int_equal(jail_mounts_find(mounts, "rel", out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_mounts_find(mounts, "memory", out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_mounts_find("", NULL, out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_mounts_find(mounts, "cpu", out, 8), -ENAMETOOLONG);
}

static void test_proc_cgroup_find(void **state)
{
	static const char text[] = "9:name=systemd:/\n"
				   "3:cpu,cpuacct:/user.slice\n"
				   "2:cpuset:/\n"
				   "0::/init.scope\n";
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(jail_proc_cgroup_find(text, "cpu", out, sizeof(out)), 0);
	assert_string_equal(out, "/user.slice");
	assert_int_equal(jail_proc_cgroup_find(text, "cpuacct", out, sizeof(out)), 0);
	assert_int_equal(jail_proc_cgroup_find(text, "cpuset", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(jail_proc_cgroup_find(text, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/init.scope");
	assert_int_equal(jail_proc_cgroup_find(text, "memory", out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_proc_cgroup_find("1:cpu\n", "cpu", out, sizeof(out)), -ENOENT);
	assert_int_equal(jail_proc_cgroup_find(text, "cpu", out, 4), -ENAMETOOLONG);
}

static void test_misc_minor(void **state)
{
	static const char text[] = "234 btrfs-control\n257 userfaultfd\n232 kvm\n200 tun";

	(void)state;
	assert_int_equal(jail_misc_minor(text, "userfaultfd"), 257);
	assert_int_equal(jail_misc_minor(text, "kvm"), 232);
	assert_int_equal(jail_misc_minor(text, "tun"), 200);
	assert_int_equal(jail_misc_minor(text, "userfault"), -ENOENT);
	assert_int_equal(jail_misc_minor("x userfaultfd\n", "userfaultfd"), -ENOENT);
	assert_int_equal(jail_misc_minor("-1 userfaultfd\n", "userfaultfd"), -ENOENT);
	assert_int_equal(jail_misc_minor("", "kvm"), -ENOENT);
}

/* Enough of an eBPF interpreter for the device program: loads from the
 * context, AND, MOV, JNE/JA with the verifier's bounds on every jump. */
static int run_devprog(const struct bpf_insn *p, int n, uint32_t type, uint32_t major,
		       uint32_t minor)
{
	struct bpf_cgroup_dev_ctx c = {
	    .access_type = (BPF_DEVCG_ACC_READ << 16) | type, .major = major, .minor = minor};
	uint64_t r[11] = {0};

	for (int pc = 0, steps = 0; pc >= 0 && pc < n && steps < 1000; pc++, steps++) {
		const struct bpf_insn *i = &p[pc];

		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(i->src_reg, BPF_REG_1);
			assert_true(i->off >= 0 && (size_t)i->off + 4 <= sizeof(c));
			r[i->dst_reg] = *(const uint32_t *)((const char *)&c + i->off);
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)(r[i->dst_reg] & (uint32_t)i->imm);
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = (uint64_t)(int64_t)i->imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm)
				pc += i->off;
			break;
		case BPF_JMP | BPF_JA:
			pc += i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[0];
		default:
			fail_msg("unexpected opcode %#x at %d", i->code, pc);
		}
		assert_true(pc + 1 >= 0 && pc + 1 < n);
	}
	fail_msg("fell off the program");
	return -1;
}

static void test_devprog(void **state)
{
	struct bpf_insn p[64];
	int n;

	(void)state;
	n = jail_devprog_build(p, 64, 257);
	assert_true(n > 0);
	assert_int_equal(p[n - 1].code, BPF_JMP | BPF_EXIT);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 10, 232), 1);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 10, 200), 1);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 10, 257), 1);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 1, 3), 1);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 1, 5), 1);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 1, 8), 1);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 1, 9), 1);
	/* Denied: other char devices, mixed major/minor pairs, block devices
	 * with allowed numbers. */
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 1, 7), 0);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 1, 1), 0);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 10, 3), 0);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 1, 232), 0);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 4, 1), 0);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_BLOCK, 10, 232), 0);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_BLOCK, 8, 0), 0);
	assert_int_equal(run_devprog(p, n, 0, 1, 3), 0);
	/* No userfaultfd on the host: its minor is not allowed. */
	n = jail_devprog_build(p, 64, -1);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 10, 257), 0);
	assert_int_equal(run_devprog(p, n, BPF_DEVCG_DEV_CHAR, 10, 232), 1);
	assert_int_equal(jail_devprog_build(p, 10, 257), -ENOSPC);
}

/* cgroup v1: the same allowlist as devices.allow lines. */
static void test_dev_v1_rules(void **state)
{
	static const char *const want[] = {"c 10:232 rwm", "c 10:200 rwm", "c 1:3 rwm",
					   "c 1:5 rwm",	   "c 1:8 rwm",	   "c 1:9 rwm",
					   "c 10:257 rwm"};
	char rules[8][JAIL_DEV_RULE_MAX];
	int n;

	(void)state;
	n = jail_dev_v1_rules(rules, 8, 257);
	assert_int_equal(n, 7);
	for (int i = 0; i < n; i++)
		assert_string_equal(rules[i], want[i]);
	assert_int_equal(jail_dev_v1_rules(rules, 8, -1), 6);
	for (int i = 0; i < 6; i++)
		assert_string_not_equal(rules[i], "c 10:257 rwm");
	assert_int_equal(jail_dev_v1_rules(rules, 6, 257), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_minimal_defaults),
	    cmocka_unit_test(test_parse_full),
	    cmocka_unit_test(test_parse_help_version_need_nothing),
	    cmocka_unit_test(test_parse_missing_required),
	    cmocka_unit_test(test_parse_bad_id),
	    cmocka_unit_test(test_parse_bad_exec_file),
	    cmocka_unit_test(test_parse_uid_gid_range),
	    cmocka_unit_test(test_parse_cgroup_specs),
	    cmocka_unit_test(test_parse_too_many_cgroups),
	    cmocka_unit_test(test_parse_rlimits),
	    cmocka_unit_test(test_parse_misc_errors),
	    cmocka_unit_test(test_parse_short_args),
	    cmocka_unit_test(test_rel_path),
	    cmocka_unit_test(test_path_join_base),
	    cmocka_unit_test(test_mounts_find),
	    cmocka_unit_test(test_proc_cgroup_find),
	    cmocka_unit_test(test_misc_minor),
	    cmocka_unit_test(test_devprog),
	    cmocka_unit_test(test_dev_v1_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
