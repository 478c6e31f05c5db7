"""flint-jailer, from the outside: it jails a small static probe program
(built here) that reports what it sees from inside, while the test checks
the same things from the host through /proc/<pid>, the cgroup files and the
jail folder. Every bad input must fail with a clear message and leave
nothing behind. Needs root, cgroups and namespaces.

FLINT_JAILER_BIN names the jailer (default build/flint-jailer);
FLINT_JAILER_SAN_BIN a build with -DFLINT_TEST_HOOKS (default
build/san/flint-jailer) for the fault-injection tests. The jailed VMM is
FLINT_JAILED_BIN (default build/flint, the static release build): a
sanitized flint cannot run in a jail, as its leak checker needs /proc."""
import json
import os
import queue
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid

import pytest
# Helpers only (no test_* names: pytest would collect them here too).
from test_block import guest_pattern, host_pattern_image, sector
from test_net import CAPTURE, ETHERTYPE, GUEST_MAC

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
JAILER = os.environ.get("FLINT_JAILER_BIN", os.path.join(ROOT, "build", "flint-jailer"))
SAN_JAILER = os.environ.get("FLINT_JAILER_SAN_BIN",
                            os.path.join(ROOT, "build", "san", "flint-jailer"))
FLINT = os.environ.get("FLINT_JAILED_BIN", os.path.join(ROOT, "build", "flint"))
TEST_GUEST = os.path.join(os.environ.get("FLINT_GUEST_DIR", os.path.join(ROOT, "build", "guest")),
                          "test-guest.elf")
UID, GID = 31337, 31338

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the jailer needs root")

PROBE_C = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
extern char **environ;
static void list(FILE *f, const char *tag, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d) { fprintf(f, "%s-error %d\n", tag, errno); return; }
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			fprintf(f, "%s %s\n", tag, e->d_name);
	closedir(d);
}
static void report(FILE *f, int argc, char **argv)
{
	static const char *nodes[] = {"/dev/kvm", "/dev/net/tun", "/dev/urandom",
				      "/dev/userfaultfd", "/"};
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct c[2];
	uid_t r, e, s; gid_t rg, eg, sg;
	struct rlimit rl; struct stat st; int n = 0, envc = 0;
	getresuid(&r, &e, &s); getresgid(&rg, &eg, &sg);
	fprintf(f, "uid %u %u %u\ngid %u %u %u\ngroups %d\n", r, e, s, rg, eg, sg,
		getgroups(0, NULL));
	syscall(SYS_capget, &h, c);
	fprintf(f, "caps %x %x %x %x %x %x\n", c[0].effective, c[1].effective, c[0].permitted,
		c[1].permitted, c[0].inheritable, c[1].inheritable);
	for (int i = 0; prctl(PR_CAPBSET_READ, i, 0, 0, 0) >= 0; i++)
		n += prctl(PR_CAPBSET_READ, i, 0, 0, 0);
	fprintf(f, "bounding %d\nnnp %d\n", n, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	fprintf(f, "pid %d\nppid %d\nsid %d\n", getpid(), getppid(), getsid(0));
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(f, "nofile %llu %llu\n", (unsigned long long)rl.rlim_cur,
		(unsigned long long)rl.rlim_max);
	getrlimit(RLIMIT_FSIZE, &rl);
	fprintf(f, "fsize %llu %llu\n", (unsigned long long)rl.rlim_cur,
		(unsigned long long)rl.rlim_max);
	list(f, "root", "/");
	list(f, "dev", "/dev");
	for (int i = 0; i < 5; i++)
		if (!stat(nodes[i], &st))
			fprintf(f, "stat %s %o %u %u %u:%u\n", nodes[i], st.st_mode, st.st_uid,
				st.st_gid, major(st.st_rdev), minor(st.st_rdev));
	for (int i = 0; i < argc; i++)
		fprintf(f, "arg %s\n", argv[i]);
	for (char **p = environ; *p; p++)
		envc++;
	fprintf(f, "envc %d\nfds", envc);
	for (int fd = 0; fd < 1024; fd++)
		if ((f == stdout || fd != fileno(f)) && fcntl(fd, F_GETFD) >= 0)
			fprintf(f, " %d", fd);
	fprintf(f, "\nend\n");
}
int main(int argc, char **argv)
{
	char line[512];
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--report-file")) {
			FILE *f = fopen(argv[i + 1], "w");
			if (!f)
				return 3;
			report(f, argc, argv);
			fclose(f);
			for (;;)
				pause();
		}
	report(stdout, argc, argv);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "open ", 5)) {
			int fd = open(line + 5, O_RDWR);
			if (fd >= 0) {
				printf("open %s ok\n", line + 5);
				close(fd);
			} else {
				printf("open %s err %d\n", line + 5, errno);
			}
		} else if (!strcmp(line, "exit")) {
			return 0;
		}
		fflush(stdout);
	}
	return 0;
}
"""


def cgroup_mounts():
    """{controller: mount} for v1 and the cgroup2 mount (key None)."""
    out = {}
    with open("/proc/mounts") as f:
        for line in f:
            dev, path, fstype, opts = line.split()[:4]
            if fstype == "cgroup2":
                out.setdefault(None, path)
            elif fstype == "cgroup":
                for o in opts.split(","):
                    out.setdefault(o, path)
    return out


MOUNTS = cgroup_mounts()
V2 = MOUNTS.get(None)


def v2_controllers():
    if not V2:
        return []
    with open(os.path.join(V2, "cgroup.controllers")) as f:
        return f.read().split()


def rmdir_tree(path, timeout=5.0):
    """rmdir a cgroup tree bottom-up, waiting for exiting tasks."""
    if not os.path.isdir(path):
        return
    for sub in os.listdir(path):
        if os.path.isdir(os.path.join(path, sub)) and not os.path.islink(os.path.join(path, sub)):
            rmdir_tree(os.path.join(path, sub), timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Lines:
    """Lines from a pipe, read by a thread, so that reads can time out."""

    def __init__(self, pipe):
        self.q = queue.Queue()
        threading.Thread(target=self._run, args=(pipe,), daemon=True).start()

    def _run(self, pipe):
        for line in pipe:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def get(self, timeout=10):
        return self.q.get(timeout=timeout)


def parse_report(lines):
    rep = {}
    for line in lines:
        key, _, rest = line.partition(" ")
        rep.setdefault(key, []).append(rest)
    return rep


class Jail:
    """One jail: its folder, its cgroups, its processes; cleaned up after."""

    def __init__(self, tmp_path, probe):
        self.base = tmp_path / "base"
        self.base.mkdir()
        self.probe = probe
        self.name = os.path.basename(probe)
        self.id = "t-" + uuid.uuid4().hex[:12]
        self.parent = "flint-jt-" + uuid.uuid4().hex[:8]
        self.procs = []
        self.netns = []

    @property
    def root(self):
        return self.base / self.name / self.id / "root"

    def args(self, *extra, exec_file=None, jail_id=None, jailer=JAILER):
        return [jailer, "--id", jail_id or self.id, "--exec-file", exec_file or self.probe,
                "--uid", str(UID), "--gid", str(GID), "--chroot-base-dir", str(self.base),
                "--parent-cgroup", self.parent] + list(extra)

    def run(self, *extra, env=None, jailer=JAILER, **kw):
        return subprocess.run(self.args(*extra, jailer=jailer, **kw), capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL, env=env)

    def start(self, *extra, fwd=()):
        """Start jailer + probe; return (popen, lines, report)."""
        argv = self.args(*extra) + ["--"] + list(fwd)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, bufsize=1)
        self.procs.append(p)
        lines = Lines(p.stdout)
        got = []
        while True:
            line = lines.get()
            assert line is not None, "probe ended early: " + p.stderr.read()
            if line == "end":
                break
            got.append(line)
        return p, lines, parse_report(got)

    def ask(self, p, lines, cmd):
        p.stdin.write(cmd + "\n")
        p.stdin.flush()
        return lines.get()

    def pid(self):
        return int((self.root / (self.name + ".pid")).read_text())

    def wait_report_file(self, name="report", timeout=10):
        path = self.root / name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().endswith("end\n"):
                return parse_report(path.read_text().splitlines()[:-1])
            time.sleep(0.05)
        pytest.fail("no report from the daemonized probe")

    def make_netns(self):
        name = "flint-jt-" + uuid.uuid4().hex[:8]
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.netns.append(name)
        return "/var/run/netns/" + name

    def cgroup_dirs(self):
        """Every cgroup directory named after our parent, in any hierarchy."""
        top = self.parent.split("/")[0]
        return [os.path.join(m, top) for m in set(MOUNTS.values())
                if os.path.isdir(os.path.join(m, top))]

    def assert_nothing_left(self):
        assert os.listdir(self.base) == [], os.listdir(self.base)
        assert self.cgroup_dirs() == []

    def kill_all(self):
        pids = []
        try:
            pids.append(self.pid())
        except (OSError, ValueError):
            pass
        for p in self.procs:
            pids.append(p.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait(timeout=10)
        for pid in pids:
            deadline = time.monotonic() + 5
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                time.sleep(0.02)

    def cleanup(self):
        self.kill_all()
        for d in self.cgroup_dirs():
            rmdir_tree(d)
        shutil.rmtree(self.base, ignore_errors=True)
        for name in self.netns:
            subprocess.run(["ip", "netns", "del", name])


@pytest.fixture(scope="session")
def probe(tmp_path_factory):
    if not os.path.exists(JAILER):
        pytest.fail(f"{JAILER} is missing: run 'make'")
    d = tmp_path_factory.mktemp("probe")
    (d / "probe.c").write_text(PROBE_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", str(d / "probe"), str(d / "probe.c")],
                   check=True)
    return str(d / "probe")


@pytest.fixture
def jail(tmp_path, probe):
    j = Jail(tmp_path, probe)
    yield j
    j.cleanup()


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def test_help_and_version():
    run = subprocess.run([JAILER, "--help"], capture_output=True, text=True)
    assert run.returncode == 0
    for flag in ["--id", "--exec-file", "--uid", "--gid", "--chroot-base-dir", "--netns",
                 "--daemonize", "--new-pid-ns", "--cgroup-version", "--cgroup",
                 "--parent-cgroup", "--resource-limit"]:
        assert flag in run.stdout
    run = subprocess.run([JAILER, "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("flint-jailer v")


def test_jailed_identity_capabilities_and_root(jail):
    p, lines, rep = jail.start(fwd=["--extra", "a b"])
    pid = jail.pid()
    assert pid == p.pid  # no fork without --daemonize / --new-pid-ns
    assert rep["uid"] == [f"{UID} {UID} {UID}"]
    assert rep["gid"] == [f"{GID} {GID} {GID}"]
    assert rep["groups"] == ["0"]
    assert rep["caps"] == ["0 0 0 0 0 0"]
    assert rep["bounding"] == ["0"] and rep["nnp"] == ["1"]
    st = proc_status(pid)
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]:
        assert int(st[k], 16) == 0, (k, st[k])
    assert st["Uid"].split() == [str(UID)] * 4 and st["Gid"].split() == [str(GID)] * 4
    assert st["NoNewPrivs"] == "1"
    # The probe's / is the jail root; the old root is gone from its mounts.
    assert sorted(rep["root"]) == sorted([jail.name, jail.name + ".pid", "dev", "run"])
    assert sorted(os.listdir(f"/proc/{pid}/root")) == sorted(os.listdir(jail.root))
    with open(f"/proc/{pid}/mountinfo") as f:
        mounts = f.read().splitlines()
    assert len(mounts) == 1 and mounts[0].split()[4] == "/", mounts
    assert os.stat(f"/proc/{pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino
    # Device nodes: Firecracker's set, owned by uid:gid, 0600.
    stats = {s.split()[0]: s.split()[1:] for s in rep["stat"]}
    assert stats["/dev/kvm"] == ["20600", str(UID), str(GID), "10:232"]
    assert stats["/dev/net/tun"] == ["20600", str(UID), str(GID), "10:200"]
    assert stats["/dev/urandom"] == ["20600", str(UID), str(GID), "1:9"]
    if os.path.exists("/dev/userfaultfd"):
        rdev = os.stat("/dev/userfaultfd").st_rdev
        assert stats["/dev/userfaultfd"][3] == f"{os.major(rdev)}:{os.minor(rdev)}"
    assert stats["/"][:3] == ["40700", str(UID), str(GID)]
    # The exec file is a copy, as in Firecracker: its own inode (no page
    # cache shared with the host binary or other jails), same bytes and mode.
    copy, orig = os.stat(jail.root / jail.name), os.stat(jail.probe)
    assert copy.st_ino != orig.st_ino and copy.st_nlink == 1
    assert stat.S_IMODE(copy.st_mode) == stat.S_IMODE(orig.st_mode)
    assert (jail.root / jail.name).read_bytes() == open(jail.probe, "rb").read()
    # Arguments: Firecracker's four, then ours; empty environment; fds 0-2.
    args = rep["arg"]
    assert args[0] == "/" + jail.name
    assert args[1:3] == ["--id", jail.id]
    assert args[3] == "--start-time-us" and args[5] == "--start-time-cpu-us"
    assert args[7] == "--parent-cpu-time-us"
    assert all(a.isdigit() for a in (args[4], args[6], args[8]))
    assert args[9:] == ["--extra", "a b"]
    assert rep["envc"] == ["0"]
    assert rep["fds"] == ["0 1 2"]
    assert rep["nofile"] == ["2048 2048"]  # Firecracker's default
    assert jail.ask(p, lines, "exit") is None
    assert p.wait(timeout=5) == 0


def test_cgroup_v1_limits_and_membership(jail):
    need = ["cpuset", "cpu", "pids", "memory"]
    if any(c not in MOUNTS for c in need):
        pytest.skip("needs cgroup v1 cpuset, cpu, pids and memory")
    p, lines, rep = jail.start("--cgroup", "cpuset.cpus=0", "--cgroup", "cpu.shares=512",
                               "--cgroup", "pids.max=50",
                               "--cgroup", "memory.limit_in_bytes=268435456")
    pid = jail.pid()
    rel = f"/{jail.parent}/{jail.id}"
    with open(f"/proc/{pid}/cgroup") as f:
        member = {}
        for line in f:
            _, ctls, path = line.strip().split(":", 2)
            for c in ctls.split(","):
                member[c] = path
    for c in need:
        assert member[c] == rel, (c, member)

    def read(ctl, name):
        with open(os.path.join(MOUNTS[ctl] + rel, name)) as f:
            return f.read().strip()

    assert read("cpuset", "cpuset.cpus") == "0"
    # Not given, inherited from the parent so that tasks can join.
    assert read("cpuset", "cpuset.mems") != ""
    assert read("cpu", "cpu.shares") == "512"
    assert read("pids", "pids.max") == "50"
    assert read("memory", "memory.limit_in_bytes") == "268435456"
    assert str(pid) in read("cpu", "cgroup.procs").split()


@pytest.mark.skipif(not V2, reason="no cgroup2 mount")
def test_cgroup_v2_device_program(jail):
    extra = ["--cgroup-version", "2", "--cgroup", "cgroup.max.descendants=3"]
    if "hugetlb" in v2_controllers() and os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        extra += ["--cgroup", "hugetlb.2MB.max=0"]
    p, lines, rep = jail.start(*extra)
    pid = jail.pid()
    cg = os.path.join(V2, jail.parent, jail.id)
    with open(f"/proc/{pid}/cgroup") as f:
        assert f"0::/{jail.parent}/{jail.id}" in f.read().splitlines()
    with open(os.path.join(cg, "cgroup.max.descendants")) as f:
        assert f.read().strip() == "3"
    if "hugetlb.2MB.max=0" in extra:
        with open(os.path.join(cg, "hugetlb.2MB.max")) as f:
            assert f.read().strip() == "0"
    make_extra_nodes(jail.root)
    assert jail.ask(p, lines, "open /dev/kvm") == "open /dev/kvm ok"
    assert jail.ask(p, lines, "open /dev/net/tun") == "open /dev/net/tun ok"
    assert jail.ask(p, lines, "open /dev/urandom") == "open /dev/urandom ok"
    assert jail.ask(p, lines, "open /dev/null") == "open /dev/null ok"
    assert jail.ask(p, lines, "open /dev/full") == "open /dev/full err 1"  # EPERM
    assert jail.ask(p, lines, "open /dev/loop") == "open /dev/loop err 1"


def make_extra_nodes(root):
    """Device nodes the host puts into the jail after the fact: allowed by
    each node's owner and mode, so only device control can deny them."""
    nodes = {"full": (stat.S_IFCHR, 1, 7), "loop": (stat.S_IFBLK, 7, 0),
             "null": (stat.S_IFCHR, 1, 3)}
    for name, (kind, major, minor) in nodes.items():
        os.mknod(root / "dev" / name, 0o600 | kind, os.makedev(major, minor))
        os.chown(root / "dev" / name, UID, GID)


def v1_member(pid, controller):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctls, path = line.strip().split(":", 2)
            if controller in ctls.split(","):
                return path
    return None


@pytest.mark.skipif("devices" not in MOUNTS, reason="no cgroup v1 devices controller mounted")
def test_cgroup_v1_devices_controller(jail):
    """cgroup v1, no --cgroup option at all: the jailer still puts the
    process into a devices cgroup that allows only flint's devices."""
    p, lines, rep = jail.start()
    rel = f"/{jail.parent}/{jail.id}"
    assert v1_member(jail.pid(), "devices") == rel
    with open(os.path.join(MOUNTS["devices"] + rel, "devices.list")) as f:
        allowed = set(f.read().splitlines())
    want = {"c 10:232 rwm", "c 10:200 rwm", "c 1:3 rwm", "c 1:5 rwm", "c 1:8 rwm",
            "c 1:9 rwm"}
    if os.path.exists("/dev/userfaultfd"):
        want.add(f"c 10:{os.minor(os.stat('/dev/userfaultfd').st_rdev)} rwm")
    assert allowed == want
    make_extra_nodes(jail.root)
    for dev in ["/dev/kvm", "/dev/net/tun", "/dev/urandom", "/dev/null"]:
        assert jail.ask(p, lines, "open " + dev) == f"open {dev} ok"
    assert jail.ask(p, lines, "open /dev/full") == "open /dev/full err 1"  # EPERM
    assert jail.ask(p, lines, "open /dev/loop") == "open /dev/loop err 1"


@pytest.mark.skipif("devices" not in MOUNTS, reason="no cgroup v1 devices controller mounted")
def test_cgroup_v1_devices_values_can_widen(jail):
    """--cgroup devices.* values are written after the jailer's list."""
    p, lines, rep = jail.start("--cgroup", "devices.allow=c 1:7 rwm")
    make_extra_nodes(jail.root)
    assert jail.ask(p, lines, "open /dev/full") == "open /dev/full ok"
    assert jail.ask(p, lines, "open /dev/loop") == "open /dev/loop err 1"


def test_netns_is_joined(jail):
    ns = jail.make_netns()
    p, lines, rep = jail.start("--netns", ns)
    pid = jail.pid()
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(ns).st_ino
    assert os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
    # /dev/net/tun works in the joined namespace.
    assert jail.ask(p, lines, "open /dev/net/tun") == "open /dev/net/tun ok"


def test_resource_limits(jail):
    p, lines, rep = jail.start("--resource-limit", "no-file=1000",
                               "--resource-limit", "fsize=1048576")
    assert rep["nofile"] == ["1000 1000"]
    assert rep["fsize"] == ["1048576 1048576"]
    with open(f"/proc/{jail.pid()}/limits") as f:
        limits = f.read()
    assert any(l.startswith("Max open files") and l.split()[3:5] == ["1000", "1000"]
               for l in limits.splitlines())
    assert any(l.startswith("Max file size") and l.split()[3:5] == ["1048576", "1048576"]
               for l in limits.splitlines())


def test_new_pid_ns(jail):
    p, lines, rep = jail.start("--new-pid-ns")
    assert rep["pid"] == ["1"] and rep["ppid"] == ["0"]
    host_pid = jail.pid()
    assert host_pid != p.pid
    assert proc_status(host_pid)["NSpid"].split() == [str(host_pid), "1"]
    assert p.wait(timeout=10) == 0  # the jailer ends once the probe runs
    assert jail.ask(p, lines, "open /dev/kvm") == "open /dev/kvm ok"


@pytest.mark.parametrize("pidns", [False, True])
def test_daemonize(jail, pidns):
    extra = ["--daemonize"] + (["--new-pid-ns"] if pidns else [])
    run = jail.run(*extra, "--cgroup-version", "2" if V2 else "1", "--",
                   "--report-file", "/report")
    assert run.returncode == 0, run.stderr
    rep = jail.wait_report_file()
    pid = jail.pid()
    assert rep["uid"] == [f"{UID} {UID} {UID}"]
    # Not a session leader (double fork), stdio on /dev/null, no terminal.
    if pidns:
        assert rep["pid"] == ["1"]
    else:
        assert rep["pid"] == [str(pid)] and rep["sid"] != [str(pid)]
    for fd in range(3):
        assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert int(fields[4]) == 0  # tty_nr
    assert int(fields[3]) != pid  # session id


def bad_inputs(tmp):
    """(extra args, exec file or None, message) that must fail validation."""
    notexec = tmp / "notexec"
    notexec.write_text("#!/bin/sh\n")
    regular = tmp / "regular"
    regular.write_text("")
    return [
        (["--id", "a/b"], None, "invalid --id"),
        (["--id", "a" * 65], None, "invalid --id"),
        (["--id", "a_b"], None, "invalid --id"),
        (["--uid", "abc"], None, "invalid --uid"),
        (["--uid", "-1"], None, "invalid --uid"),
        (["--uid", "4294967295"], None, "invalid --uid"),
        (["--gid", "99999999999"], None, "invalid --gid"),
        ([], "relative/probe", "invalid --exec-file"),
        ([], "/no/such/file", "invalid --exec-file"),
        ([], "/tmp", "not a regular file"),
        ([], str(notexec), "not executable"),
        (["--cgroup", "cpu.shares"], None, "invalid --cgroup"),
        (["--cgroup", "cpu.shares="], None, "invalid --cgroup"),
        (["--cgroup", "../x.y=1"], None, "invalid --cgroup"),
        (["--cgroup", "cpu/../x=1"], None, "invalid --cgroup"),
        (["--cgroup", "noprefix=1"], None, "invalid --cgroup"),
        (["--cgroup", "nosuch.file=1"], None, "controller nosuch is not mounted"),
        (["--cgroup-version", "2", "--cgroup", "nosuch.weight=100"], None,
         "controller nosuch is not available"),
        (["--cgroup-version", "3"], None, "invalid --cgroup-version"),
        (["--resource-limit", "nofile=5"], None, "invalid --resource-limit"),
        (["--resource-limit", "no-file=abc"], None, "invalid --resource-limit"),
        (["--resource-limit", "fsize=-1"], None, "invalid --resource-limit"),
        (["--resource-limit", "no-file=999999999999"], None, "fs.nr_open"),
        (["--netns", "/no/such/netns"], None, "invalid --netns"),
        (["--netns", str(regular)], None, "not a network namespace"),
        (["--chroot-base-dir", "/no/such/dir"], None, "invalid --chroot-base-dir"),
        (["--bogus"], None, "unknown option"),
        (["--daemonize", "--daemonize"], None, "more than once"),
    ]


def test_bad_input_fails_cleanly(jail, tmp_path):
    for extra, exec_file, message in bad_inputs(tmp_path):
        argv = jail.args(exec_file=exec_file)
        # Later options override nothing: replace the defaults given once.
        for flag in ("--id", "--uid", "--gid", "--chroot-base-dir", "--parent-cgroup"):
            if flag in extra and flag in argv:
                i = argv.index(flag)
                del argv[i:i + 2]
        run = subprocess.run(argv + extra, capture_output=True, text=True, timeout=30)
        assert run.returncode != 0, (extra, exec_file)
        assert run.stderr.startswith("flint-jailer: "), run.stderr
        assert message in run.stderr, (extra, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        jail.assert_nothing_left()


def test_missing_required_options():
    run = subprocess.run([JAILER, "--id", "x"], capture_output=True, text=True)
    assert run.returncode != 0 and "missing required option --exec-file" in run.stderr


def test_staged_jail_root_is_used_and_kept(jail):
    """As with Firecracker, the root may be staged beforehand (kernel, config);
    a failure removes only what the jailer added."""
    jail.root.mkdir(parents=True)
    (jail.root / "staged").write_text("x")
    run = jail.run("--cgroup", "cpu.nonexistent=1")
    assert run.returncode == 1
    assert os.listdir(jail.root) == ["staged"]
    p, lines, rep = jail.start()
    assert "staged" in rep["root"]


def test_existing_exec_in_jail_is_refused(jail):
    jail.root.mkdir(parents=True)
    (jail.root / jail.name).write_text("not mine")
    run = jail.run()
    assert run.returncode != 0 and "File exists" in run.stderr
    assert (jail.root / jail.name).read_text() == "not mine"


@pytest.mark.parametrize("mode", [[], ["--new-pid-ns"], ["--daemonize"],
                                  ["--daemonize", "--new-pid-ns"]])
@pytest.mark.parametrize("cgroup,message", [
    ("cpuset.cpus=99", "cgroup: cannot write cpuset.cpus=99: "),
    ("cpu.nonexistent=1", "cgroup: no file cpu.nonexistent in"),
])
def test_runtime_failure_cleans_up(jail, mode, cgroup, message):
    if "cpuset" not in MOUNTS or "cpu" not in MOUNTS:
        pytest.skip("needs cgroup v1 cpuset and cpu")
    jail.parent += "/sub"  # two levels to create and to remove again
    run = jail.run(*mode, "--cgroup", "cpu.shares=100", "--cgroup", cgroup)
    assert run.returncode == 1
    assert run.stderr.startswith("flint-jailer: " + message), run.stderr
    assert len(run.stderr.splitlines()) == 1, run.stderr
    jail.assert_nothing_left()


# 0o750 root:root: executable by group 0, which root's own supplementary
# groups include but uid:gid's do not.
@pytest.mark.parametrize("mode", [0o700, 0o750])
def test_exec_not_allowed_for_uid(jail, tmp_path, mode):
    private = tmp_path / "private"
    private.mkdir()
    exe = private / "probe"
    shutil.copy(jail.probe, exe)
    os.chown(exe, 0, 0)
    os.chmod(exe, mode)
    run = jail.run(exec_file=str(exe))
    assert run.returncode == 1
    assert f"cannot execute" in run.stderr and "Permission denied" in run.stderr
    assert os.listdir(jail.base) == []


def test_existing_parent_dirs_are_kept(jail):
    """Only what the jailer created is removed on failure."""
    (jail.base / jail.name).mkdir()
    cpu = MOUNTS.get("cpu")
    if cpu:
        os.mkdir(os.path.join(cpu, jail.parent))
    run = jail.run("--cgroup", "cpu.nonexistent=1")
    assert run.returncode == 1
    assert os.listdir(jail.base) == [jail.name]
    assert os.listdir(jail.base / jail.name) == []
    if cpu:
        assert os.path.isdir(os.path.join(cpu, jail.parent))
        assert not os.path.exists(os.path.join(cpu, jail.parent, jail.id))


STEPS = ["jail", "cgroup", "netns", "pidfile", "mount", "devices", "rlimits", "privileges",
         "daemonize", "close-fds", "exec"]


@pytest.mark.parametrize("mode", [[], ["--new-pid-ns"], ["--daemonize"]])
@pytest.mark.parametrize("step", STEPS)
def test_injected_failure_at_every_step(jail, step, mode):
    if not os.path.exists(SAN_JAILER):
        pytest.skip(f"{SAN_JAILER} (built with FLINT_TEST_HOOKS) is missing")
    env = dict(os.environ, FLINT_JAILER_FAIL_STEP=step, ASAN_OPTIONS="detect_leaks=0")
    ns = jail.make_netns()
    cg = ["--cgroup-version", "2"] if V2 else ["--cgroup", "cpu.shares=100"]
    run = jail.run(*mode, *cg, "--netns", ns, env=env, jailer=SAN_JAILER)
    assert run.returncode == 1, run.stderr
    assert f"flint-jailer: {step}: injected failure" in run.stderr
    assert "Sanitizer" not in run.stderr
    # Without a supervising parent, nothing can be undone once the
    # privileges are gone; the message says so.
    late = STEPS.index(step) >= STEPS.index("daemonize")
    if not mode and late:
        assert "is left behind" in run.stderr
        return
    jail.assert_nothing_left()


def stage_libraries(exe, root):
    """Copy a dynamic executable's interpreter and libraries into the jail."""
    out = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    for line in out.splitlines():
        for word in line.split():
            if word.startswith("/") and os.path.exists(word):
                dst = root / word.lstrip("/")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(word, dst)
                os.chmod(dst, 0o755)


def test_dynamic_exec_without_interpreter_is_refused(jail, tmp_path):
    exe = tmp_path / "dyn"
    shutil.copy("/bin/true", exe)
    run = jail.run(exec_file=str(exe))
    assert run.returncode == 1
    assert "is dynamically linked" in run.stderr, run.stderr
    assert "left behind" not in run.stderr
    jail.assert_nothing_left()


def test_flint_runs_under_the_jailer(jail):
    """The real VMM, jailed, boots the test guest staged in the jail root."""
    if not os.path.exists(FLINT) or not os.path.exists(TEST_GUEST):
        pytest.skip("build/flint or the test guest is missing (make, make guest)")
    root = jail.base / "flint" / jail.id / "root"
    root.mkdir(parents=True)
    stage_libraries(FLINT, root)  # nothing to do for a static flint
    shutil.copy(TEST_GUEST, root / "guest.elf")
    cfg = {"boot-source": {"kernel_image_path": "/guest.elf", "boot_args": "tests=smp"},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
    (root / "vm.json").write_text(json.dumps(cfg))
    for f in ("guest.elf", "vm.json"):
        os.chmod(root / f, 0o644)
    argv = jail.args(exec_file=FLINT) + ["--", "--no-api", "--config-file", "/vm.json"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    jail.procs.append(p)
    # Without --new-pid-ns / --daemonize the jailer becomes flint: same pid,
    # flint's exit status.
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "TEST smp PASS" in out, out + err


def test_jailed_guest_disk_and_network_work(jail):
    """The whole production set-up: flint jailed with cgroups (devices
    included), a netns with a tap only uid may attach, rlimits, seccomp on;
    the guest boots, its disk writes reach the image and its frames the tap."""
    if not os.path.exists(FLINT) or not os.path.exists(TEST_GUEST):
        pytest.skip("build/flint or the test guest is missing (make, make guest)")
    ns = jail.make_netns()
    nsname = os.path.basename(ns)
    for cmd in (["ip", "tuntap", "add", "dev", "tap0", "mode", "tap", "user", str(UID),
                 "group", str(GID)], ["ip", "link", "set", "tap0", "up"]):
        subprocess.run(["ip", "netns", "exec", nsname] + cmd, check=True)
    root = jail.base / "flint" / jail.id / "root"
    root.mkdir(parents=True)
    shutil.copy(TEST_GUEST, root / "guest.elf")
    img = host_pattern_image(root / "disk.img")
    os.chown(img, UID, GID)
    cfg = {"boot-source": {"kernel_image_path": "/guest.elf",
                           "boot_args": "tests=blk,net net_tx=3 net_wait_ms=100"},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
           "drives": [{"drive_id": "rootfs", "path_on_host": "/disk.img",
                       "is_root_device": True, "is_read_only": False}],
           "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                                   "guest_mac": GUEST_MAC}]}
    (root / "vm.json").write_text(json.dumps(cfg))
    for f in ("guest.elf", "vm.json"):
        os.chmod(root / f, 0o644)
    cap = subprocess.Popen(["ip", "netns", "exec", nsname, sys.executable, "-c", CAPTURE,
                            "tap0", "3", "60", "%x" % ETHERTYPE], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    jail.procs.append(cap)
    assert cap.stdout.readline().strip() == "ready", cap.stderr.read()
    cg = ["--cgroup", "cpu.shares=512"] if "cpu" in MOUNTS else []
    argv = jail.args(*cg, "--netns", ns, "--resource-limit", "no-file=256",
                     exec_file=FLINT) + ["--", "--no-api", "--config-file", "/vm.json"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    jail.procs.append(p)
    out, err = p.communicate(timeout=120)
    frames, _ = cap.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "TEST blk PASS" in out and "blk: host pattern ok" in out, out
    assert "TEST net PASS" in out, out
    assert "made system call" not in err
    assert sector(img, 1) == guest_pattern(1)
    assert sector(img, 2047) == guest_pattern(2047)
    payloads = [bytes.fromhex(line.split()[1])[14:].rstrip(b"\0")
                for line in frames.splitlines()]
    assert payloads == [f"FLINT-GUEST-FRAME {i}/3".encode() for i in range(3)], frames
