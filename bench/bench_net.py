#!/usr/bin/env python3
"""virtio-net benchmark: the freestanding test guest drives the device as
fast as it can, under flint and under QEMU -M microvm (virtio-net-device on
a tap, vhost off) in the same run, each inside a private network namespace
holding the tap. Prints a Markdown table like bench.py.

  guest->tap: the guest sends --frames 60-byte frames (net_tx); the host
              timestamps them on the tap with an AF_PACKET socket.
  tap->guest: the host writes --rx-frames 1514-byte frames to the tap at
              once; the guest receives them (net_rx); timed from the first
              write (the sender's clock) to the guest's "net: rx N frames" line.
  exits/frame: kvm:kvm_exit from perf stat when the host reports it, else
              kvm:kvm_mmio + kvm:kvm_pio (kvm_pvm emits no kvm_exit); a run
              with no frames is subtracted, so boot and shutdown cancel out.

Each both ways in two modes of the guest's driver (MODES): one frame in
flight with the interrupt status read and acknowledged per frame, and
batched (net_bench=1, tests/guest/vnet_bench.c): a queue's worth in flight,
EVENT_IDX, no interrupts, polled rings.

Usage (root): bench_net.py BUILD_DIR [--runs N] [--frames N] [--rx-frames N]"""
import argparse
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import QEMU, output_chunks, perf_cmd, read_perf  # noqa: E402  (same directory)

TAP = "tap0"
MAC = "06:00:ac:10:00:02"
ETHERTYPE = 0x88B5
TX_FRAME_BYTES = 60  # the test guest's frames
RX_FRAME_BYTES = 1514

CAPTURE = r"""
import socket, sys, time
ifname, want, timeout, etype = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4], 16)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifname, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
print("ready", flush=True)
end = time.monotonic() + timeout
n, first, last = 0, None, None
while n < want:
    left = end - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data, addr = s.recvfrom(70000)
    except socket.timeout:
        break
    if addr[2] != socket.PACKET_OUTGOING and data[12:14] == etype.to_bytes(2, "big"):
        last = time.monotonic()
        first = first or last
        n += 1
print(n, first or 0, last or 0, flush=True)
"""

SEND = r"""
import socket, sys, time
ifname, n, size, dst, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
hdr = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + bytes([0x88, 0xb5])
print("%.6f" % time.monotonic(), flush=True)
for i in range(n):
    p = ("FLINT-HOST-FRAME %d" % i).encode()
    s.send(hdr + p + bytes(size - 14 - len(p)))
"""


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Netns:
    def __init__(self):
        self.name = "flint-test-" + secrets.token_hex(4)
        sh("ip", "netns", "add", self.name)
        for key in ("all", "default"):
            self.run("sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1", check=False)
        self.run("ip", "tuntap", "add", "dev", TAP, "mode", "tap")
        self.run("ip", "link", "set", TAP, "up")

    def run(self, *args, check=True):
        return sh("ip", "netns", "exec", self.name, *args, check=check)

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def delete(self):
        sh("ip", "netns", "del", self.name, check=False)


class Bench:
    def __init__(self, build, ns):
        self.build = os.path.abspath(build)
        self.flint = os.path.join(self.build, "flint")
        self.guest = os.path.join(self.build, "guest", "test-guest.elf")
        self.tmp = tempfile.mkdtemp(prefix="flint-bench-net-")
        self.ns = ns

    def vmm_cmd(self, kind, args):
        args += " reset=triple"  # ends QEMU microvm (no i8042) and flint alike
        if kind == "qemu":
            return [QEMU, "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host", "-m", "128",
                    "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-serial",
                    "stdio", "-no-reboot", "-kernel", self.guest, "-append", args,
                    "-global", "virtio-mmio.force-legacy=false",
                    "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no,vhost=off",
                    "-device", f"virtio-net-device,netdev=n0,mac={MAC}"]
        cfg = {"boot-source": {"kernel_image_path": self.guest, "boot_args": args},
               "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
               "network-interfaces": [{"iface_id": "eth0", "host_dev_name": TAP,
                                       "guest_mac": MAC}]}
        path = os.path.join(self.tmp, "vm.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return [self.flint, "--no-api", "--config-file", path]

    def spawn(self, kind, args):
        cmd, perf_out = perf_cmd(self.tmp, self.vmm_cmd(kind, args))
        p = subprocess.Popen(self.ns.prefix() + cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return p, perf_out

    def finish(self, p, perf_out, timeout=300):
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        return out.decode(errors="replace"), read_perf(perf_out)

    def baseline(self, kind, mode):
        p, perf_out = self.spawn(kind, f"tests=net{mode} net_tx=0 net_rx=0 net_wait_ms=0")
        _, perf = self.finish(p, perf_out)
        return perf

    def tx(self, kind, mode, n):
        cap = subprocess.Popen(self.ns.prefix() + [sys.executable, "-c", CAPTURE, TAP, str(n),
                                                   "300", "%x" % ETHERTYPE],
                               stdout=subprocess.PIPE, text=True)
        assert cap.stdout.readline().strip() == "ready"
        p, perf_out = self.spawn(kind, f"tests=net{mode} net_tx={n} net_wait_ms=0")
        out, perf = self.finish(p, perf_out)
        cap.wait(timeout=30) if "TEST net PASS" in out else cap.kill()
        got, first, last = cap.stdout.read().split() if cap.returncode == 0 else (0, 0, 0)
        got, first, last = int(got), float(first), float(last)
        if got < 2 or last <= first:
            return {"ok": False, "out": out[-500:]}
        return {"ok": got == n, "fps": (got - 1) / (last - first), "perf": perf, "got": got}

    def rx(self, kind, mode, n):
        p, perf_out = self.spawn(kind, f"tests=net{mode} net_tx=0 net_rx={n} net_wait_ms=120000")
        if not wait_for(p, rb"net: mac=", 60):
            p.kill()
            return {"ok": False}
        sent = self.ns.run(sys.executable, "-c", SEND, TAP, str(n), str(RX_FRAME_BYTES), MAC,
                           "02:00:00:00:00:01")
        t0 = float(sent.stdout.split()[0])  # just before the first frame
        m = wait_for(p, rb"net: rx (\d+) frames", 300)
        t1 = time.monotonic()
        out, perf = self.finish(p, perf_out)
        if not m:
            return {"ok": False, "out": out[-500:]}
        got = int(m.group(1))
        return {"ok": got == n, "fps": got / (t1 - t0), "perf": perf, "got": got}


def wait_for(p, pattern, timeout):
    """Read p's stdout until pattern matches (bytes regex) or timeout."""
    buf = b""
    for _, chunk in output_chunks(p, time.monotonic() + timeout):
        buf += chunk
        m = re.search(pattern, buf)
        if m:
            return m
        buf = buf[-4096:]
    return None


def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None, "n/a"
    med = statistics.median(vals)
    digits = 3 if med < 1 else (1 if med < 1000 else 0)
    fmt = lambda v: f"{v:.{digits}f}"  # noqa: E731
    return med, f"{fmt(med)} [{fmt(min(vals))}-{fmt(max(vals))}]"


def row(name, unit, fvals, qvals):
    fm, fs = summary(fvals)
    qm, qs = summary(qvals)
    ratio = f"{fm / qm:.2f}" if fm is not None and qm else "n/a"
    return f"| {name} | {unit} | {fs} | {qs} | {ratio} |"


def per_frame(result, base, n, key):
    if not result.get("ok") or not result.get("perf") or not base:
        return None
    return (result["perf"][key] - base[key]) / n


def measure(b, kind, mode, runs, frames, rx_frames):
    base = b.baseline(kind, mode)
    tx = [b.tx(kind, mode, frames) for _ in range(runs)]
    rx = [b.rx(kind, mode, rx_frames) for _ in range(runs)]
    return {
        "tx_fps": [r["fps"] for r in tx if r.get("ok")],
        "tx_mib": [r["fps"] * TX_FRAME_BYTES / 2**20 for r in tx if r.get("ok")],
        "tx_exits": [per_frame(r, base, frames, "exits") for r in tx],
        "tx_mmio": [per_frame(r, base, frames, "mmio") for r in tx],
        "rx_fps": [r["fps"] for r in rx if r.get("ok")],
        "rx_mib": [r["fps"] * RX_FRAME_BYTES / 2**20 for r in rx if r.get("ok")],
        "rx_exits": [per_frame(r, base, rx_frames, "exits") for r in rx],
        "rx_mmio": [per_frame(r, base, rx_frames, "mmio") for r in rx],
        "failed": sum(not r.get("ok") for r in tx + rx),
    }


# (label, extra guest arguments): how the test guest drives the device.
MODES = [("one in flight", " net_quiet=1"), ("batched", " net_bench=1")]


def print_rows(label, f, q):
    qv = lambda k: q.get(k, [])  # noqa: E731
    for way, key, size in (("guest->tap", "tx", TX_FRAME_BYTES),
                           ("tap->guest", "rx", RX_FRAME_BYTES)):
        name = f"net {way}, {label}"
        for suffix, unit, what in ((f" ({size}-byte frames)", "frames/s", "fps"),
                                   ("", "MiB/s", "mib"),
                                   (": VM exits per frame", "exits", "exits"),
                                   (": MMIO exits per frame", "exits", "mmio")):
            k = f"{key}_{what}"
            print(row(name + suffix, unit, f[k], qv(k)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--rx-frames", type=int, default=300)  # below the tap's 1000-frame queue
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_net.py needs root (network namespace, tap, AF_PACKET)")
    ns = Netns()
    results = []
    try:
        b = Bench(a.build, ns)
        for label, mode in MODES:
            f = measure(b, "flint", mode, a.runs, a.frames, a.rx_frames)
            q = measure(b, "qemu", mode, a.runs, a.frames, a.rx_frames) if QEMU else {}
            results.append((label, f, q))
    finally:
        ns.delete()
    kvm = "kvm_pvm" if os.path.exists("/sys/module/kvm_pvm") else "KVM"
    print(f"Host: {kvm}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
          f"{a.runs} runs each; {a.frames} frames guest->tap, {a.rx_frames} frames tap->guest")
    print()
    print("| benchmark | unit | flint median [min-max] | QEMU microvm median [min-max] "
          "| flint/QEMU |")
    print("|---|---|---|---|---|")
    for label, f, q in results:
        print_rows(label, f, q)
    print()
    print("one in flight: the test guest (net_quiet=1: no console line per frame) waits for "
          "each tx completion, refills one rx buffer per frame and reads and acknowledges the "
          "interrupt status after each. batched (net_bench=1): up to a queue's worth (64) of "
          "frames in flight each way, EVENT_IDX, no interrupts, polled rings, as Linux's "
          "driver runs under load. Exits are counted once per access (bench.py perf_cmd).")
    for label, f, q in results:
        if f.get("failed") or q.get("failed"):
            print(f"\nIncomplete runs ({label}; frames lost or timed out): flint "
                  f"{f.get('failed')}, QEMU {q.get('failed')}.")

if __name__ == "__main__":
    main()
