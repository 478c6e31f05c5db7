#!/usr/bin/env python3
"""flint's API, measured beside QEMU -M microvm's QMP where QEMU has a
comparable figure:

- process start to the API socket accepting (flint --api-sock) vs. to the
  QMP socket accepting (qemu -S -qmp unix:...,server,nowait), wall and CPU;
- request latency p50/p99 on one connection: GET /machine-config vs. QMP
  query-status; PUT /drives (pre-boot configuration, no QEMU figure);
- the InstanceStart response to the test guest's boot-timer signal vs. the
  QMP `cont` response to the same guest's `timer:` console line.

Prints a Markdown table in bench.py's style. Standard library only.

Usage: bench_api.py BUILD_DIR [--runs N] [--requests N]"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import QEMU, host_kind, output_chunks, row  # noqa: E402  (same directory)


def connect_poll(path, proc, timeout=10.0):
    """Poll connect() on a Unix socket until it is accepted; returns the
    connected socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if proc.poll() is not None:
                raise RuntimeError(f"process ended with {proc.returncode} before {path}")
            time.sleep(0.0002)
    raise RuntimeError(f"{path}: not accepting after {timeout} s")


def cpu_of_killed(proc):
    """Kill proc and return its CPU time (s) from its rusage: it sat idle
    since it became ready, so this is its start-up CPU (plus the exit)."""
    proc.send_signal(signal.SIGKILL)
    _, _, ru = os.wait4(proc.pid, 0)
    proc.returncode = -9
    return ru.ru_utime + ru.ru_stime


class Http:
    """Minimal HTTP/1.1 client on a connected Unix socket (keep-alive)."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
        if data:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        self.s.sendall(head.encode() + b"\r\n" + data)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"(?i)content-length:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        while len(self.buf) < n:
            self.buf += self._recv()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, body

    def _recv(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        return chunk


class Qmp:
    """QMP on a connected Unix socket: greeting, capabilities, commands."""

    def __init__(self, sock):
        self.f = sock.makefile("rwb", buffering=0)
        self.s = sock
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            msg = json.loads(self.f.readline())
            if "event" not in msg:
                return msg

    def cmd(self, name):
        self.s.sendall(json.dumps({"execute": name}).encode() + b"\n")
        r = self._read()
        if "error" in r:
            raise RuntimeError(f"QMP {name}: {r}")
        return r


class ApiBench:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.flint = os.path.join(self.build, "flint")
        self.guest = os.path.join(self.build, "guest", "test-guest.elf")
        self.tmp = tempfile.mkdtemp(prefix="flint-bench-api-")
        self.disk = os.path.join(self.tmp, "disk.img")
        with open(self.disk, "wb") as f:
            f.truncate(1 << 20)

    def spawn_flint(self, extra=()):
        sock = os.path.join(self.tmp, "api.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        log = open(os.path.join(self.tmp, "flint.log"), "w")
        t0 = time.monotonic()
        p = subprocess.Popen([self.flint, "--api-sock", sock] + list(extra),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        s = connect_poll(sock, p)
        return p, s, time.monotonic() - t0

    def spawn_qemu(self, extra=()):
        sock = os.path.join(self.tmp, "qmp.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        cmd = [QEMU, "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host", "-m", "128",
               "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
               "-no-reboot", "-S", "-qmp", f"unix:{sock},server,nowait",
               "-kernel", self.guest, "-append", "tests=timer reset=none"] + list(extra)
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        s = connect_poll(sock, p)
        return p, s, time.monotonic() - t0

    def reported_startup(self, runs):
        """flint's own api_server.process_startup_time_us / _cpu_us, with the
        start given as the bench's spawn time (--start-time-us, as the jailer
        passes it) and CPU counted from exec (--start-time-cpu-us 0)."""
        wall, cpu = [], []
        metrics = os.path.join(self.tmp, "metrics.json")
        for _ in range(runs):
            if os.path.exists(metrics):
                os.unlink(metrics)
            start_us = int(time.monotonic() * 1e6)
            p, s, _ = self.spawn_flint(["--start-time-us", str(start_us), "--start-time-cpu-us",
                                        "0", "--metrics-path", metrics])
            h = Http(s)
            h.request("PUT", "/boot-source", {"kernel_image_path": self.guest,
                                              "boot_args": "tests=timer reset=none"})
            h.request("PUT", "/actions", {"action_type": "InstanceStart"})
            assert h.request("PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
            s.close()
            cpu_of_killed(p)
            with open(metrics) as f:
                m = json.loads(f.readline())["api_server"]
            wall.append(m["process_startup_time_us"] / 1e6)
            cpu.append(m["process_startup_time_cpu_us"] / 1e6)
        return wall, cpu

    def socket_ready(self, runs):
        f_wall, f_cpu, q_wall, q_cpu = [], [], [], []
        for _ in range(runs):
            p, s, wall = self.spawn_flint()
            s.close()
            f_wall.append(wall)
            f_cpu.append(cpu_of_killed(p))
            if QEMU:
                p, s, wall = self.spawn_qemu()
                s.close()
                q_wall.append(wall)
                q_cpu.append(cpu_of_killed(p))
        return f_wall, f_cpu, q_wall, q_cpu

    @staticmethod
    def timed(fn, n):
        lat = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t)
        return lat

    def latencies(self, n):
        p, s, _ = self.spawn_flint()
        h = Http(s)
        drive = {"drive_id": "rootfs", "path_on_host": self.disk, "is_root_device": True,
                 "is_read_only": False}

        def get():
            assert h.request("GET", "/machine-config")[0] == 200

        def put():
            assert h.request("PUT", "/drives/rootfs", drive)[0] == 204

        self.timed(get, 50)  # warm-up
        lat_get = self.timed(get, n)
        lat_put = self.timed(put, n)
        s.close()
        cpu_of_killed(p)
        lat_qmp = []
        if QEMU:
            p, s, _ = self.spawn_qemu()
            q = Qmp(s)
            self.timed(lambda: q.cmd("query-status"), 50)
            lat_qmp = self.timed(lambda: q.cmd("query-status"), n)
            s.close()
            cpu_of_killed(p)
        return lat_get, lat_put, lat_qmp

    @staticmethod
    def wait_line(proc, needle, timeout=30):
        buf = b""
        for now, chunk in output_chunks(proc, time.monotonic() + timeout):
            buf += chunk
            if needle in buf:
                return now
        raise RuntimeError(f"no {needle!r} on the console: {buf[-300:]!r}")

    def start_to_timer(self, runs):
        f_line, f_log, q_line = [], [], []
        for _ in range(runs):
            log = os.path.join(self.tmp, "boot.log")
            if os.path.exists(log):
                os.unlink(log)
            p, s, _ = self.spawn_flint(["--boot-timer", "--log-path", log])
            h = Http(s)
            h.request("PUT", "/boot-source", {"kernel_image_path": self.guest,
                                              "boot_args": "tests=timer reset=none"})
            h.request("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
            status, _ = h.request("PUT", "/actions", {"action_type": "InstanceStart"})
            t_resp, wall_resp = time.monotonic(), time.time()
            assert status == 204
            f_line.append(self.wait_line(p, b"timer: wrote") - t_resp)
            s.close()
            cpu_of_killed(p)
            with open(log) as fd:
                m = [l for l in fd if "Guest-boot-time" in l]
            if m:
                # The log line's own timestamp (CLOCK_REALTIME, ns).
                ts = m[0].split(" ", 1)[0]
                sec = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                f_log.append(sec + float("0." + ts[20:29]) - wall_resp)
            if QEMU:
                p, s, _ = self.spawn_qemu()
                q = Qmp(s)
                q.cmd("cont")
                t_resp = time.monotonic()
                q_line.append(self.wait_line(p, b"timer: wrote") - t_resp)
                s.close()
                cpu_of_killed(p)
        return f_line, f_log, q_line


def pct(vals, p):
    v = sorted(vals)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def lat_row(name, flint_vals, qemu_vals, p):
    fv = pct(flint_vals, p) * 1e6 if flint_vals else None
    qv = pct(qemu_vals, p) * 1e6 if qemu_vals else None
    ratio = f"{fv / qv:.2f}" if fv and qv else "n/a"
    fs = f"{fv:.0f}" if fv is not None else "n/a"
    qs = f"{qv:.0f}" if qv is not None else "n/a"
    return f"| {name} | us | {fs} | {qs} | {ratio} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    b = ApiBench(a.build)
    rows = []
    fw, fc, qw, qc = b.socket_ready(a.runs)
    rows.append(row("spawn to API socket accepting (wall) [QEMU: QMP socket, -S]", "ms", fw, qw,
                    1e3))
    rows.append(row("spawn to API socket accepting (CPU, incl. exit)", "ms", fc, qc, 1e3))
    rw, rc = b.reported_startup(a.runs)
    rows.append(row("flint's api_server.process_startup_time_us (from spawn)", "ms", rw, [],
                    1e3))
    rows.append(row("flint's api_server.process_startup_time_cpu_us (from exec)", "ms", rc, [],
                    1e3))
    lg, lp, lq = b.latencies(a.requests)
    rows.append(lat_row(f"GET /machine-config p50 [QEMU: QMP query-status], n={a.requests}",
                        lg, lq, 50))
    rows.append(lat_row("GET /machine-config p99 [QEMU: QMP query-status]", lg, lq, 99))
    rows.append(lat_row(f"PUT /drives p50 (pre-boot), n={a.requests}", lp, [], 50))
    rows.append(lat_row("PUT /drives p99 (pre-boot)", lp, [], 99))
    fl, flog, ql = b.start_to_timer(max(3, a.runs // 2))
    rows.append(row("InstanceStart response to `timer:` console line [QEMU: QMP cont]", "ms",
                    fl, ql, 1e3))
    rows.append(row("InstanceStart response to boot-timer log line", "ms", flog, [], 1e3))
    qv = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[0] \
        if QEMU else "absent"
    print(f"Host: {host_kind()}, {os.cpu_count()} CPUs, kernel {platform.release()}; QEMU: {qv}")
    print(f"flint binary: {os.path.getsize(b.flint) / 1024:.0f} KiB; runs: {a.runs}; "
          f"client: Python {platform.python_version()} (its own overhead is in every latency)")
    print()
    print("| benchmark | unit | flint median [min-max] | QEMU microvm median [min-max] | flint/QEMU |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    shutil.rmtree(b.tmp, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
