#!/usr/bin/env python3
"""What jailing costs a boot (issue 5; target: flint-jailer adds under 5 ms).

flint boots the test guest (tests=timer reset=triple, 1 vCPU, 128 MiB, as
bench.py's start-up rows do) in three ways, interleaved so that drift hits
all alike:

- unjailed: build/flint --no-api --config-file vm.json;
- jailed: flint-jailer (copy of the exec file, mount namespace and
  pivot_root, device nodes, uid/gid, no capabilities, close fds) -- flint;
- jailed, full: the same plus cgroups v1 (cpuset, cpu, memory, pids with
  limits written) and a network namespace.

The guest and its config are staged in the jail root before the clock
starts (a user stages them too). Measured: spawn to flint's first KVM_RUN
(flint's own Debug line, CLOCK_MONOTONIC, which the jail does not change),
spawn to the guest's "ALL DONE" console line and spawn to exit (wall), and
the jailer alone: spawn to exit of `flint --version`, jailed and not.

QEMU beside it: plain, and with its nearest equivalent of a jail:
`-sandbox on` (its seccomp filter; resourcecontrol, spawn and obsolete
denied) `-chroot DIR -runas UID:GID` (QEMU 7.2's spelling of
`-run-with chroot=`/`-runas`). QEMU has no cgroup, mount- or network-
namespace set-up of its own, so "jailed, full" has no QEMU column. Its first
KVM_RUN comes from bench/probe.so (LD_PRELOAD), which after the chroot
writes inside it.

Prints a Markdown table in bench.py's style. Standard library only; needs
root (the jailer does).

Moving a process into a cgroup waits for an RCU grace period (the kernel's
cgroup_threadgroup_rwsem), unless a cgroup hierarchy is mounted with
`favordynmods`. --favordynmods remounts the cgroup2 mount with it for the
run and puts the old options back afterwards, to show the difference (a
host setting, never the jailer's to change).

Usage: bench_jailer.py BUILD_DIR [--runs N] [--favordynmods]"""
import ctypes
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import QEMU, host_kind, summary, watch_output  # noqa: E402  (same directory)

UID, GID = 31337, 31338
GUEST_ARGS = "tests=timer reset=triple"
UNTIL = b"ALL DONE"
FIRST_RUN_RE = re.compile(r"first KVM_RUN at monotonic (\d+) us")
INSTALL_RE = re.compile(r"seccomp: (\w+) filter installed \((\d+) instructions\) in (\d+) ns")
# Every limit a production jail would set, within what this host allows.
CGROUPS_V1 = ["cpuset.cpus=0", "cpu.shares=1024", "memory.limit_in_bytes=536870912",
              "pids.max=64"]


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            _, path, fstype, opts = line.split()[:4]
            if fstype == "cgroup2":
                return path, opts.split(",")
    return None, []


def remount_cgroup2(path, favordynmods):
    """mount(2) with MS_REMOUNT: cgroup2 takes the flag set from the data
    string alone, so an empty string clears favordynmods again."""
    libc = ctypes.CDLL(None, use_errno=True)
    data = b"favordynmods" if favordynmods else b""
    if libc.mount(None, path.encode(), None, 32, data) != 0:  # MS_REMOUNT
        raise OSError(ctypes.get_errno(), f"remount {path}")


def cgroup_v1_mounts():
    out = {}
    with open("/proc/mounts") as f:
        for line in f:
            _, path, fstype, opts = line.split()[:4]
            if fstype == "cgroup":
                for o in opts.split(","):
                    out.setdefault(o, path)
    return out


def run_timed(cmd, env=None, timeout=120):
    """Spawn cmd; return (s to the console line, s to exit or None on a
    failure status, stderr text)."""
    err = tempfile.TemporaryFile(mode="w+")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                         env=env if env is not None else {})
    deadline = t0 + timeout
    line = watch_output(p, t0, UNTIL, deadline)
    try:
        status = p.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        status = p.wait()
    t_exit = time.monotonic() - t0
    err.seek(0)
    text = err.read()
    err.close()
    return t0, line, t_exit if status == 0 else None, text


class JailerBench:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.flint = os.path.join(self.build, "flint")
        self.jailer = os.path.join(self.build, "flint-jailer")
        self.guest = os.path.join(self.build, "guest", "test-guest.elf")
        self.probe = os.path.join(self.build, "bench", "probe.so")
        self.tmp = tempfile.mkdtemp(prefix="flint-bench-jailer-")
        os.chmod(self.tmp, 0o755)
        self.base = os.path.join(self.tmp, "jails")
        os.mkdir(self.base)
        self.parent = "flint-bench-" + uuid.uuid4().hex[:8]
        self.mounts = cgroup_v1_mounts()
        self.netns = None
        self.failures = []

    # --- flint ---------------------------------------------------------

    def vm_json(self, kernel):
        return json.dumps({"boot-source": {"kernel_image_path": kernel, "boot_args": GUEST_ARGS},
                           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}})

    def flint_plain(self):
        cfg = os.path.join(self.tmp, "vm.json")
        with open(cfg, "w") as f:
            f.write(self.vm_json(self.guest))
        return [self.flint, "--no-api", "--level", "Debug", "--config-file", cfg]

    def stage(self, jail_id):
        """The jail root with the guest and its config, as a user stages it."""
        root = os.path.join(self.base, "flint", jail_id, "root")
        os.makedirs(root)
        shutil.copy(self.guest, os.path.join(root, "guest.elf"))
        with open(os.path.join(root, "vm.json"), "w") as f:
            f.write(self.vm_json("/guest.elf"))
        for n in ("guest.elf", "vm.json"):
            os.chmod(os.path.join(root, n), 0o644)

    def jailer_cmd(self, jail_id, full, flint_args):
        cmd = [self.jailer, "--id", jail_id, "--exec-file", self.flint, "--uid", str(UID),
               "--gid", str(GID), "--chroot-base-dir", self.base, "--parent-cgroup",
               self.parent]
        if full:
            for c in CGROUPS_V1:
                cmd += ["--cgroup", c]
            cmd += ["--netns", self.netns]
        return cmd + ["--"] + flint_args

    def hierarchies(self):
        """Every v1 hierarchy the jailer may use (devices always is)."""
        return set(self.mounts.values())

    def clean_jail(self, jail_id):
        shutil.rmtree(os.path.join(self.base, "flint", jail_id), ignore_errors=True)
        for mount in self.hierarchies():
            d = os.path.join(mount, self.parent, jail_id)
            deadline = time.monotonic() + 5
            while os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    def boot_flint(self, mode):
        """One boot: mode is "plain", "jail" or "full"."""
        jail_id = None
        if mode == "plain":
            cmd = self.flint_plain()
        else:
            jail_id = "b-" + uuid.uuid4().hex[:12]
            self.stage(jail_id)
            cmd = self.jailer_cmd(jail_id, mode == "full",
                                  ["--no-api", "--level", "Debug", "--config-file", "/vm.json"])
        try:
            t0, line, t_exit, err = run_timed(cmd)
        finally:
            if jail_id:
                self.clean_jail(jail_id)
        if t_exit is None:
            self.failures.append(f"flint {mode}: {err[-500:]}")
        m = FIRST_RUN_RE.search(err)
        first = int(m.group(1)) / 1e6 - t0 if m else None
        install = sum(int(x.group(3)) for x in INSTALL_RE.finditer(err)) or None
        return {"first": first, "line": line, "exit": t_exit, "install_ns": install}

    def version_once(self, jailed):
        """The jailer's own cost: flint --version, which exits at once."""
        if not jailed:
            _, _, t_exit, _ = run_timed([self.flint, "--version"])
            return t_exit
        jail_id = "v-" + uuid.uuid4().hex[:12]
        try:
            _, _, t_exit, err = run_timed(self.jailer_cmd(jail_id, False, ["--version"]))
        finally:
            self.clean_jail(jail_id)
        if t_exit is None:
            self.failures.append(f"jailed --version: {err[-500:]}")
        return t_exit

    # --- QEMU ----------------------------------------------------------

    def qemu_cmd(self, sandboxed, chroot):
        cmd = [QEMU, "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host", "-m", "128",
               "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
               "-no-reboot", "-kernel", self.guest, "-append", GUEST_ARGS]
        if sandboxed:
            cmd += ["-sandbox", "on,obsolete=deny,spawn=deny,resourcecontrol=deny",
                    "-chroot", chroot, "-runas", f"{UID}:{GID}"]
        return cmd

    def boot_qemu(self, sandboxed):
        # An empty directory owned by the uid: QEMU chroots into it after
        # loading the kernel; the probe writes its file there.
        chroot = tempfile.mkdtemp(dir=self.tmp)
        os.chown(chroot, UID, GID)
        out = os.path.join(chroot, "probe")
        env = {"LD_PRELOAD": self.probe, "FLINT_PROBE_OUT": "/probe" if sandboxed else out}
        t0, line, t_exit, err = run_timed(self.qemu_cmd(sandboxed, chroot), env=env)
        if t_exit is None:
            self.failures.append(f"qemu sandboxed={sandboxed}: {err[-500:]}")
        first = None
        if os.path.exists(out):
            with open(out) as f:
                first = int(f.read().split()[0]) / 1e6 - t0
        shutil.rmtree(chroot, ignore_errors=True)
        return {"first": first, "line": line, "exit": t_exit}

    def close(self):
        for mount in self.hierarchies():
            d = os.path.join(mount, self.parent)
            if os.path.isdir(d):
                os.rmdir(d)
        if self.netns:
            subprocess.run(["ip", "netns", "del", os.path.basename(self.netns)])
        shutil.rmtree(self.tmp, ignore_errors=True)


def cell(vals, scale):
    return summary(vals, scale)


def diff(a, b):
    return f"{a - b:+.1f}" if a is not None and b is not None else "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--favordynmods", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_jailer.py: needs root (flint-jailer does)")
        return 1
    cg2, cg2_opts = cgroup2_mount()
    tuned = a.favordynmods and cg2 and "favordynmods" not in cg2_opts
    if a.favordynmods and not cg2:
        print("bench_jailer.py: --favordynmods needs a cgroup2 mount")
        return 1
    if tuned:
        remount_cgroup2(cg2, True)
    try:
        return run(a)
    finally:
        if tuned:
            remount_cgroup2(cg2, False)


def run(a):
    b = JailerBench(a.build)
    name = "flint-bj-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    b.netns = "/var/run/netns/" + name
    modes = ("plain", "jail", "full")
    f = {m: [] for m in modes}
    q = {False: [], True: []}
    ver = {False: [], True: []}
    try:
        for _ in range(a.runs):  # interleaved
            for m in modes:
                f[m].append(b.boot_flint(m))
            if QEMU:
                for s in (False, True):
                    q[s].append(b.boot_qemu(s))
            for j in (False, True):
                ver[j].append(b.version_once(j))
    finally:
        b.close()

    print(f"Host: {host_kind()}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
          f"{a.runs} runs each, interleaved; guest: test guest, {GUEST_ARGS}, 1 vCPU, 128 MiB; "
          f"full jail: cgroups v1 {' '.join(CGROUPS_V1)} + netns; cgroup favordynmods: "
          f"{'on' if 'favordynmods' in cgroup2_mount()[1] else 'off'}")
    print()
    print("| benchmark | unit | flint unjailed | flint jailed | flint jailed, cgroups v1 + "
          "netns | jailed − unjailed (full) | QEMU plain | QEMU -sandbox -chroot -runas "
          "| QEMU sandboxed − plain | flint/QEMU (jailed) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, label in (("first", "spawn to first KVM_RUN"),
                       ("line", "spawn to the guest's ALL DONE line"),
                       ("exit", "spawn to exit")):
        fp, fps = cell([x[key] for x in f["plain"]], 1e3)
        fj, fjs = cell([x[key] for x in f["jail"]], 1e3)
        ff, ffs = cell([x[key] for x in f["full"]], 1e3)
        qp, qps = cell([x[key] for x in q[False]], 1e3)
        qs, qss = cell([x[key] for x in q[True]], 1e3)
        ratio = f"{fj / qs:.2f}" if fj is not None and qs else "n/a"
        print(f"| {label} | ms | {fps} | {fjs} | {ffs} | {diff(fj, fp)} ({diff(ff, fp)}) "
              f"| {qps} | {qss} | {diff(qs, qp)} | {ratio} |")
    vp, vps = cell(ver[False], 1e3)
    vj, vjs = cell(ver[True], 1e3)
    print(f"| jailer alone: spawn to exit of `flint --version` | ms | {vps} | {vjs} | — "
          f"| {diff(vj, vp)} | n/a | n/a | n/a | n/a |")
    _, ins = cell([x["install_ns"] for x in f["jail"]], 1e-3)
    print(f"| installing the three seccomp filters (in the jailed boot) | µs | — | {ins} | — "
          f"| — | — | n/a (QEMU: one process-wide filter) | — | — |")
    for msg in b.failures[:5]:
        print(f"\nfailure: {msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
