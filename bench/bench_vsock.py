#!/usr/bin/env python3
"""vsock throughput, both ways, with the freestanding test guest driving the
device as fast as it can (tests/guest/vsock.c bulk modes): guest -> host is
the guest sending vsock_bulk bytes to a host sink (timed from the first byte
to the end of the stream); host -> guest is a host program writing the same
amount to the guest's sink (timed until the guest's "ACK"). QEMU -M microvm
with vhost-vsock-device runs the identical guest beside it when the host has
/dev/vhost-vsock; otherwise flint's figures are reported alone.

Usage: bench_vsock.py BUILD_DIR [--runs N] [--mib N] [--conns N]"""
import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import perf_cmd, read_perf  # noqa: E402  (same directory)

QEMU = shutil.which("qemu-system-x86_64")
VHOST = "/dev/vhost-vsock"
PAT = bytes(((i * 7 + (i >> 8) * 13) & 0xFF) for i in range(65536))
GUEST_CID = 3
BASE_BYTES = 64 << 10  # the exits baseline run's stream size


def host_kind():
    if os.path.exists("/sys/module/kvm_pvm"):
        return "kvm_pvm (shadow paging, no VMX; see shared/HOST.md)"
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    return "KVM with VMX" if " vmx" in flags else ("KVM with SVM" if " svm" in flags else "KVM")


def guest_args(size, conns):
    return (f"tests=vsock vsock_port=5000 vsock_listen=52 vsock_sink=1 vsock_bulk={size} "
            f"vsock_conns={conns} vsock_wait_ms=20000 reset=none")


class Sink:
    """Accept conns streams on srv; time each from first byte to EOF."""

    def __init__(self, srv, conns, size):
        self.res = []
        self.want = hashlib.sha256((PAT * (size // len(PAT) + 1))[:size]).hexdigest()
        self.t = threading.Thread(target=self._run, args=(srv, conns), daemon=True)
        self.t.start()

    def _one(self, c):
        h, n, t0 = hashlib.sha256(), 0, None
        with c:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                if t0 is None:
                    t0 = time.monotonic()
                h.update(b)
                n += len(b)
        self.res.append((n, t0, time.monotonic(), h.hexdigest() == self.want))

    def _run(self, srv, conns):
        threads = []
        for _ in range(conns):
            c, _ = srv.accept()
            t = threading.Thread(target=self._one, args=(c,))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()

    def mib_s(self, size, conns):
        self.t.join(120)
        if len(self.res) != conns or not all(r[0] == size and r[3] for r in self.res):
            return None  # short or corrupted: not a result
        start = min(r[1] for r in self.res)
        end = max(r[2] for r in self.res)
        return conns * size / (end - start) / 2**20


def host_to_guest(connect, size, conns):
    """conns streams of size bytes to the guest's sink; aggregate MiB/s."""
    data = os.urandom(size)
    socks = [connect() for _ in range(conns)]
    if not all(socks):
        return None
    done = []

    def push(s):
        s.sendall(data)
        done.append(s.recv(4) == b"ACK\n")

    t0 = time.monotonic()
    threads = [threading.Thread(target=push, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    dt = time.monotonic() - t0
    for s in socks:
        s.close()
    return conns * size / dt / 2**20 if len(done) == conns and all(done) else None


def console(p, marker, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = p.stdout.readline()
        if not line:
            return False
        if marker in line:
            return True
    return False


def thread_cpu_s(pid, tid):
    """Time one thread ran on a CPU, in seconds (schedstat: ns resolution)."""
    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def child_pid(pid, timeout=10):
    """The first child of pid (flint under perf stat), or pid itself when
    it has none by then."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = f.read().split()
        except OSError:
            return pid
        if kids:
            return int(kids[0])
        time.sleep(0.001)
    return pid


def run_flint(b, size, conns):
    tmp = tempfile.mkdtemp(prefix="flint-bench-vsock-", dir=b.tmp)
    uds = os.path.join(tmp, "v.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(uds + "_5000")
    srv.listen(16)
    srv.settimeout(120)
    sink = Sink(srv, conns, size)
    cfg = {"boot-source": {"kernel_image_path": b.guest, "boot_args": guest_args(size, conns)},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
           "vsock": {"guest_cid": GUEST_CID, "uds_path": uds}}
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    cmd, perf_out = perf_cmd(tmp, [b.flint, "--no-api", "--config-file", path])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         errors="replace")
    pid = child_pid(p.pid) if perf_out else p.pid

    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(uds)
        s.sendall(b"CONNECT 52\n")
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                return None
            line += c
        return s if line.startswith(b"OK ") else None

    cpu = done = None
    try:
        g2h = sink.mib_s(size, conns)
        h2g = host_to_guest(connect, size, conns) if console(p, "listening on port 52") else None
        # reset=none: the guest halts, flint stays up to be measured. The
        # VMM thread (main thread) does all device work; the vCPU thread
        # mostly emulates the guest here.
        done = console(p, "ALL DONE") and g2h and h2g
        if done:
            cpu = thread_cpu_s(pid, pid) / (2 * conns * size / 2**20) * 1e6
    finally:
        os.kill(pid, signal.SIGKILL)  # perf stat, if there, then writes its counts
        p.wait()
        srv.close()
    perf = read_perf(perf_out) if done else None
    return g2h, h2g, cpu, perf


def run_qemu(b, size, conns):
    srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    srv.bind((socket.VMADDR_CID_ANY, 5000))
    srv.listen(16)
    srv.settimeout(120)
    sink = Sink(srv, conns, size)
    cmd = [QEMU, "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host", "-m", "128",
           "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
           "-global", "virtio-mmio.force-legacy=false", "-kernel", b.guest,
           "-append", guest_args(size, conns),
           "-device", f"vhost-vsock-device,guest-cid={GUEST_CID}"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         errors="replace")

    def connect():
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.settimeout(120)
        try:
            s.connect((GUEST_CID, 52))
        except OSError:
            return None
        return s

    try:
        g2h = sink.mib_s(size, conns)
        h2g = host_to_guest(connect, size, conns) if console(p, "listening on port 52") else None
        console(p, "ALL DONE")
    finally:
        p.kill()
        p.wait()
        srv.close()
    return g2h, h2g, None, None  # vhost works in the kernel: CPU not comparable


def summary(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, "n/a"
    med = statistics.median(vals)
    return med, f"{med:.1f} [{min(vals):.1f}-{max(vals):.1f}]"


def row(name, fvals, qvals, unit="MiB/s"):
    fm, fs = summary(fvals)
    qm, qs = summary(qvals)
    ratio = f"{fm / qm:.2f}" if fm is not None and qm else "n/a"
    return f"| {name} | {unit} | {fs} | {qs} | {ratio} |"


class Build:
    def __init__(self, build):
        build = os.path.abspath(build)
        self.flint = os.path.join(build, "flint")
        self.guest = os.path.join(build, "guest", "test-guest.elf")
        self.tmp = tempfile.mkdtemp(prefix="flint-bench-")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=8, help="MiB per stream")
    ap.add_argument("--conns", type=int, default=1, help="concurrent streams (max 4)")
    a = ap.parse_args()
    b = Build(a.build)
    size = a.mib << 20
    conns = max(1, min(4, a.conns))
    qemu_ok = QEMU and os.access(VHOST, os.R_OK | os.W_OK)
    base = run_flint(b, BASE_BYTES, conns)[3]  # start-up and shutdown exits
    f = [run_flint(b, size, conns) for _ in range(a.runs)]
    q = [run_qemu(b, size, conns) for _ in range(a.runs)] if qemu_ok else []
    shutil.rmtree(b.tmp, ignore_errors=True)
    print(f"Host: {host_kind()}, {os.cpu_count()} CPUs, kernel {platform.release()}")
    if not qemu_ok:
        why = "no QEMU" if not QEMU else f"no {VHOST} (vhost-vsock unavailable)"
        print(f"QEMU microvm: not run ({why}); flint's figures alone.")
    print(f"Guest: flint's test guest, {conns} stream(s) of {a.mib} MiB each, {a.runs} runs; "
          "the guest's own code runs in the instruction emulator on kvm_pvm hosts, so "
          "these figures bound the guest, not flint's device path.")
    print()
    print("| benchmark | unit | flint median [min-max] | QEMU microvm median [min-max] | flint/QEMU |")
    print("|---|---|---|---|---|")
    print(row("vsock guest -> host", [x[0] for x in f], [x[0] for x in q]))
    print(row("vsock host -> guest", [x[1] for x in f], [x[1] for x in q]))
    print(row("flint VMM-thread CPU per MiB moved (whole run)", [x[2] for x in f], [],
              "µs/MiB"))
    moved = 2 * conns * (size - BASE_BYTES) / 2**20
    for key, name in (("exits", "VM exits"), ("mmio", "MMIO exits")):
        per = [(x[3][key] - base[key]) / moved for x in f if x[3] and base]
        print(row(f"vsock: {name} per MiB moved (both ways)", per, [], "exits"))
    print()
    print(f"Exits: perf stat over the whole VM less a run moving {BASE_BYTES >> 10} KiB "
          "each way (start-up, shutdown), per MiB of the rest; a MiB is 256 packets of the "
          "guest's 4 KiB buffers each way.")


if __name__ == "__main__":
    main()
