#!/usr/bin/env python3
"""Snapshots, beside QEMU -M microvm's equivalent (QMP `stop` + `migrate` to
"exec:cat > FILE", then a new QEMU with `-incoming "exec:cat FILE"`), on the
same test guest (tests/guest/counter.c: a tick counter that keeps a
working set of counter_touch MiB in use). Prints a Markdown table.

- snapshot create time, Full and Diff (flint; QEMU has no diff to a file),
  for a 128 MiB and a 1 GiB guest;
- restore latency: PUT /snapshot/load to its 204 (vCPUs running) and to the
  guest's next console line; and a new process's spawn to that line (QEMU:
  spawn with -incoming to that line);
- clones restored per second (sequential, each running before the next);
- memory (PSS, summed) of ten clones of one snapshot vs ten booted guests.

Usage: bench_snapshot.py BUILD_DIR [--runs N]"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

QEMU = shutil.which("qemu-system-x86_64")
TICK = re.compile(rb"counter: n=(\d+)")
GUEST_ARGS = "tests=counter counter_ms=2 counter_touch=32"
# For restore latency: no working set to fault back in, a tick every ~1 ms.
LATENCY_ARGS = "tests=counter counter_ms=1"


class UConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def wait_path(path, proc, timeout=10):
    """Until something accepts on the Unix socket at path."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return
        except OSError:
            pass
        finally:
            s.close()
        if proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode})")
        time.sleep(0.0005)
    raise RuntimeError(f"{path} did not accept")


class Proc:
    """A VMM process whose console (stdout) is watched for counter ticks."""

    def __init__(self, cmd, workdir):
        self.err = open(os.path.join(workdir, "stderr"), "w")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=self.err, cwd=workdir)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.buf = b""

    def read(self):
        try:
            chunk = self.p.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk:
            self.buf += chunk

    def last_tick(self):
        ticks = TICK.findall(self.buf)
        return int(ticks[-1]) if ticks else None

    def wait_tick(self, after=None, timeout=60):
        """Wait for a tick line (one numbered above `after`); its arrival time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            n = self.last_tick()
            if n is not None and (after is None or n > after):
                return time.monotonic()
            if self.p.poll() is not None:
                raise RuntimeError(f"VMM exited: {self.buf[-500:]!r}")
            time.sleep(0.0002)
        raise RuntimeError(f"no counter tick: {self.buf[-500:]!r}")

    def pss_kib(self):
        with open(f"/proc/{self.p.pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        return 0

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.err.close()


class Flint(Proc):
    def __init__(self, build, workdir):
        self.sock = os.path.join(workdir, "api.sock")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        super().__init__([os.path.join(build, "flint"), "--api-sock", self.sock], workdir)
        wait_path(self.sock, self.p)

    def api(self, method, path, body=None):
        c = UConn(self.sock)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {data!r}")

    def boot(self, guest, mem, track=False, args=GUEST_ARGS):
        self.api("PUT", "/boot-source", {"kernel_image_path": guest, "boot_args": args})
        self.api("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": mem,
                                            "track_dirty_pages": track})
        self.api("PUT", "/actions", {"action_type": "InstanceStart"})

    def create(self, state, mem, kind="Full"):
        for p in (state, mem):
            if os.path.exists(p):
                os.unlink(p)
        t = time.monotonic()
        self.api("PUT", "/snapshot/create", {"snapshot_type": kind, "snapshot_path": state,
                                             "mem_file_path": mem})
        return time.monotonic() - t

    def load(self, state, mem, resume=True):
        t = time.monotonic()
        self.api("PUT", "/snapshot/load", {"snapshot_path": state, "resume_vm": resume,
                                           "mem_backend": {"backend_type": "File",
                                                           "backend_path": mem}})
        return t, time.monotonic()


class Qemu(Proc):
    def __init__(self, guest, mem, workdir, incoming=None, args=GUEST_ARGS, cont=True):
        self.qmp_path = os.path.join(workdir, "qmp.sock")
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        cmd = [QEMU, "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host", "-m", str(mem),
               "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
               "-no-reboot", "-kernel", guest, "-append", args,
               "-qmp", f"unix:{self.qmp_path},server,nowait"]
        if incoming:
            cmd += ["-incoming", f"exec:cat {incoming}"]
        super().__init__(cmd, workdir)
        wait_path(self.qmp_path, self.p)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(self.qmp_path)
        self.f = self.s.makefile("rwb", buffering=0)
        self._read()
        self.cmd("qmp_capabilities")
        if incoming:
            self.resume_after_incoming(cont)

    def resume_after_incoming(self, cont=True):
        """The source was stopped for the save, and QEMU keeps that run state
        across the migration: once the stream is in, `cont` (as flint's
        resume_vm does)."""
        while True:
            st = self.cmd("query-status")["status"]
            if st == "running":
                return
            if st in ("paused", "postmigrate"):
                if cont:
                    self.cmd("cont")
                return
            time.sleep(0.0005)

    def _read(self):
        while True:
            msg = json.loads(self.f.readline())
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        r = self._read()
        if "error" in r:
            raise RuntimeError(f"QMP {name}: {r}")
        return r["return"]

    def save(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.cmd("stop")
        t = time.monotonic()
        self.cmd("migrate", uri=f"exec:cat > {path}")
        while self.cmd("query-migrate").get("status") not in ("completed", "failed"):
            time.sleep(0.001)
        return time.monotonic() - t

    def kill(self):
        self.s.close()
        super().kill()


def med(vals, scale):
    vals = [v * scale for v in vals if v is not None]
    if not vals:
        return None, "n/a"
    m = statistics.median(vals)
    return m, f"{m:.1f} [{min(vals):.1f}-{max(vals):.1f}]" if len(vals) > 1 else f"{m:.1f}"


def row(name, unit, f_vals, q_vals, scale=1.0):
    fm, fs = med(f_vals, scale)
    qm, qs = med(q_vals, scale)
    ratio = f"{fm / qm:.3f}" if fm is not None and qm else "n/a"
    return f"| {name} | {unit} | {fs} | {qs} | {ratio} |"


class Bench:
    def __init__(self, build, runs):
        self.build = os.path.abspath(build)
        self.guest = os.path.join(self.build, "guest", "test-guest.elf")
        self.tmp = tempfile.mkdtemp(prefix="flint-bench-snap-")
        self.runs = runs
        self.n = 0

    def wd(self):
        self.n += 1
        d = os.path.join(self.tmp, f"w{self.n}")
        os.makedirs(d)
        return d

    def flint_booted(self, mem, track=False, args=GUEST_ARGS):
        vm = Flint(self.build, self.wd())
        vm.boot(self.guest, mem, track, args)
        vm.wait_tick()
        return vm

    def flint_create(self, mem):
        full, diff = [], []
        for _ in range(self.runs):
            vm = self.flint_booted(mem, track=True)
            try:
                vm.api("PATCH", "/vm", {"state": "Paused"})
                full.append(vm.create(f"{self.tmp}/c.state", f"{self.tmp}/c.mem"))
                vm.api("PATCH", "/vm", {"state": "Resumed"})
                vm.wait_tick(after=vm.last_tick() + 5)
                vm.api("PATCH", "/vm", {"state": "Paused"})
                diff.append(vm.create(f"{self.tmp}/d.state", f"{self.tmp}/d.mem", "Diff"))
            finally:
                vm.kill()
        return full, diff

    def qemu_create(self, mem):
        out = []
        for _ in range(self.runs if QEMU else 0):
            q = Qemu(self.guest, mem, self.wd())
            try:
                q.wait_tick()
                out.append(q.save(f"{self.tmp}/q.mig"))
            finally:
                q.kill()
        return out

    def flint_snapshot(self, mem=128, args=GUEST_ARGS, name="s"):
        vm = self.flint_booted(mem, args=args)
        try:
            vm.wait_tick(after=vm.last_tick() + 3)
            vm.api("PATCH", "/vm", {"state": "Paused"})
            state, memf = f"{self.tmp}/{name}.state", f"{self.tmp}/{name}.mem"
            vm.create(state, memf)
            vm.read()
            return state, memf, vm.last_tick()
        finally:
            vm.kill()

    def qemu_snapshot(self, mem=128, args=GUEST_ARGS, name="s"):
        q = Qemu(self.guest, mem, self.wd(), args=args)
        try:
            q.wait_tick(after=3)
            path = f"{self.tmp}/{name}.mig"
            q.save(path)
            q.read()
            return path, q.last_tick()
        finally:
            q.kill()

    def flint_restore(self, state, memf, last):
        req, ok, line, spawn = [], [], [], []
        for _ in range(self.runs):
            vm = Flint(self.build, self.wd())
            try:
                t_req, t_ok = vm.load(state, memf)
                t_line = vm.wait_tick(after=last)
                req.append(t_ok - t_req)
                line.append(t_line - t_req)
                spawn.append(t_line - vm.t0)
            finally:
                vm.kill()
        return req, line, spawn

    def qemu_restore(self, path, last):
        out = []
        for _ in range(self.runs if QEMU else 0):
            q = Qemu(self.guest, 128, self.wd(), incoming=path, args=LATENCY_ARGS)
            try:
                out.append(q.wait_tick(after=last) - q.t0)
            finally:
                q.kill()
        return out

    def clones_per_second(self, make, n):
        procs = []
        t = time.monotonic()
        try:
            for _ in range(n):
                procs.append(make())
            return n / (time.monotonic() - t)
        finally:
            for p in procs:
                p.kill()

    def flint_clone(self, state, memf, resume=True):
        vm = Flint(self.build, self.wd())
        vm.load(state, memf, resume)
        return vm

    def qemu_clone(self, path, last, resume=True):
        """resume: running and past its next tick; else restored, paused."""
        q = Qemu(self.guest, 128, self.wd(), incoming=path, cont=resume)
        if resume:
            q.wait_tick(after=last)
        return q

    def pss_of_ten(self, make):
        procs = []
        try:
            for _ in range(10):
                procs.append(make())
            for p in procs:  # every one has been running a while
                p.wait_tick(after=(p.last_tick() or 0) + 3)
            return sum(p.pss_kib() for p in procs)
        finally:
            for p in procs:
                p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    b = Bench(a.build, a.runs)
    rows = []
    for mem in (128, 1024):
        full, diff = b.flint_create(mem)
        rows.append(row(f"create Full snapshot, {mem} MiB guest [QEMU: migrate to file]",
                        "ms", full, b.qemu_create(mem), 1e3))
        rows.append(row(f"create Diff snapshot, {mem} MiB guest [QEMU: none]", "ms", diff,
                        [], 1e3))
    lstate, lmemf, llast = b.flint_snapshot(args=LATENCY_ARGS, name="lat")
    lqpath, lqlast = b.qemu_snapshot(args=LATENCY_ARGS, name="lat") if QEMU else (None, None)
    req, line, spawn = b.flint_restore(lstate, lmemf, llast)
    qspawn = b.qemu_restore(lqpath, lqlast) if QEMU else []
    state, memf, last = b.flint_snapshot()
    qpath, qlast = b.qemu_snapshot() if QEMU else (None, None)
    rows.append(row("restore 128 MiB: /snapshot/load request to 204 (vCPUs running)", "ms",
                    req, [], 1e3))
    rows.append(row("restore 128 MiB: /snapshot/load request to the guest's next line", "ms",
                    line, [], 1e3))
    rows.append(row("restore 128 MiB: spawn to the guest's next line [QEMU: -incoming]",
                    "ms", spawn, qspawn, 1e3))
    # Restored paused: the test guest spins in its delay loop, and twenty
    # spinning vCPUs on a small host would measure the host, not the restore.
    fc = [b.clones_per_second(lambda: b.flint_clone(state, memf, False), 20)]
    qc = [b.clones_per_second(lambda: b.qemu_clone(qpath, qlast, False), 10)] if QEMU else []
    rows.append(row("clones restored per second (sequential, new process each, paused)",
                    "1/s", fc, qc))
    fclones = b.pss_of_ten(lambda: b.flint_clone(state, memf))
    fbooted = b.pss_of_ten(lambda: b.flint_booted(128))
    qclones = b.pss_of_ten(lambda: b.qemu_clone(qpath, qlast)) if QEMU else None
    qbooted = b.pss_of_ten(lambda: Qemu(b.guest, 128, b.wd())) if QEMU else None
    rows.append(row("PSS of ten clones of one snapshot (sum)", "MiB", [fclones],
                    [qclones] if qclones else [], 1 / 1024))
    rows.append(row("PSS of ten booted guests (sum)", "MiB", [fbooted],
                    [qbooted] if qbooted else [], 1 / 1024))
    print(f"Guest: test guest `{GUEST_ARGS}` (a 32 MiB working set read every tick), "
          f"restore latency with `{LATENCY_ARGS}`; runs per value: {a.runs}; clones: 20 "
          "flint, 10 QEMU. Targets (issue 6): restore under 5 ms for 128 MiB, 10x QEMU.")
    print()
    print("| benchmark | unit | flint median [min-max] | QEMU microvm median [min-max] "
          "| flint/QEMU |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    shutil.rmtree(b.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
