#!/usr/bin/env python3
"""virtio-blk benchmark: the freestanding test guest drives the device as
fast as it can (tests/guest/vblk_bench.c: several requests in flight,
EVENT_IDX, polling) under flint (io_engine Sync and Async) and under QEMU
-M microvm (virtio-blk-device, aio=threads, and aio=io_uring where QEMU has
it) with the identical guest and image, in the same run.

  seqread / seqwrite: --mib MiB in --kib KiB requests, --qd in flight;
  randread: --ios random 4 KiB reads, --qd in flight.
  Rates are host wall time between the guest's "blkbench: start" and
  "blkbench: done" console lines. The image is read once first, so every
  VMM reads from the host page cache: the figures compare the VMMs' request
  paths, not the disk. With --uncached the image is instead dropped from
  the page cache before every VM (fdatasync, then POSIX_FADV_DONTNEED on
  that file alone), so reads go to the host's disk and an engine that keeps
  several requests in flight there can show it (writes still land in the
  page cache: cache_type Unsafe / cache=writeback).
  exits/request: kvm:kvm_exit from perf stat when the host reports it, else
  kvm:kvm_mmio + kvm:kvm_pio (kvm_pvm emits no kvm_exit); the same phase with
  zero requests is subtracted, so boot, set-up and console lines cancel out.
  MMIO exits/request are the guest's queue notifications that reached KVM.

Usage (root, for perf's tracepoints): bench_block.py BUILD_DIR [--runs N]
    [--mib N] [--kib N] [--ios N] [--qd N] [--image-mib N] [--uncached]"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import QEMU, output_chunks, perf_cmd, read_perf  # noqa: E402  (same directory)

PHASES = ("seqread", "seqwrite", "randread")
START = re.compile(rb"blkbench: start (\w+) ")
DONE = re.compile(rb"blkbench: done (\w+) requests=(\d+) bytes=(\d+) cycles=(\d+) kicks=(\d+) "
                  rb"errors=(\d+)")


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.flint = os.path.join(self.build, "flint")
        self.guest = os.path.join(self.build, "guest", "test-guest.elf")
        self.tmp = tempfile.mkdtemp(prefix="flint-bench-blk-")
        self.image = os.path.join(self.tmp, "disk.img")
        chunk = bytes(range(256)) * 4096  # 1 MiB, non-zero: no sparse holes
        with open(self.image, "wb") as f:
            for _ in range(a.image_mib):
                f.write(chunk)
        with open(self.image, "rb") as f:  # into the page cache for everyone
            while f.read(1 << 24):
                pass

    def drop_cache(self):
        """Only this image's pages leave the host page cache."""
        fd = os.open(self.image, os.O_RDWR)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def guest_args(self, phase, empty):
        a = self.a
        mib, ios = (0, 0) if empty else (a.mib, a.ios)
        return (f"tests=blk blk_bench={phase} blk_bench_mib={mib} blk_bench_ios={ios} "
                f"blk_bench_qd={a.qd} blk_bench_kib={a.kib} reset=triple")

    def vmm_cmd(self, kind, args):
        if kind.startswith("qemu"):
            aio = "io_uring" if kind == "qemu-io_uring" else "threads"
            return [QEMU, "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host", "-m", "128",
                    "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-serial",
                    "stdio", "-no-reboot", "-kernel", self.guest, "-append", args,
                    "-global", "virtio-mmio.force-legacy=false",
                    "-drive", f"id=d0,file={self.image},format=raw,if=none,cache=writeback,"
                              f"aio={aio}",
                    "-device", "virtio-blk-device,drive=d0"]
        engine = "Async" if kind == "flint-async" else "Sync"
        cfg = {"boot-source": {"kernel_image_path": self.guest, "boot_args": args},
               "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
               "drives": [{"drive_id": "d0", "path_on_host": self.image,
                           "is_root_device": False, "is_read_only": False,
                           "io_engine": engine}]}
        path = os.path.join(self.tmp, "vm.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return [self.flint, "--no-api", "--config-file", path]

    def run(self, kind, phase, empty=False):
        """One VM running one phase: rate from console-line times, exits."""
        if self.a.uncached:
            self.drop_cache()
        cmd, perf_out = perf_cmd(self.tmp, self.vmm_cmd(kind, self.guest_args(phase, empty)))
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        lines = read_lines(p, 300)
        res = {"ok": False, "perf": read_perf(perf_out)}
        t_start = next((t for t, l in lines if START.search(l)), None)
        done = next(((t, DONE.search(l)) for t, l in lines if DONE.search(l)), None)
        if t_start is None or done is None or int(done[1].group(6)) != 0:
            res["out"] = b"".join(l for _, l in lines)[-600:].decode(errors="replace")
            return res
        m = done[1]
        res.update(ok=True, secs=done[0] - t_start, requests=int(m.group(2)),
                   bytes=int(m.group(3)), kicks=int(m.group(5)))
        return res


def read_lines(p, timeout):
    """(monotonic arrival time, line) for each line of p's stdout until exit."""
    out, buf = [], b""
    for now, chunk in output_chunks(p, time.monotonic() + timeout):
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            out.append((now, line + b"\n"))
    if p.poll() is None:
        p.kill()
    p.wait()
    return out


def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None, "n/a"
    med = statistics.median(vals)
    digits = 3 if med < 1 else (1 if med < 1000 else 0)
    fmt = lambda v: f"{v:.{digits}f}"  # noqa: E731
    return med, f"{fmt(med)} [{fmt(min(vals))}-{fmt(max(vals))}]"


def measure(b, kinds, runs):
    """Per kind and phase: rates and exits per request over runs, minus a
    zero-request baseline. Kinds alternate within each run, so a load that
    comes and goes on the host touches them all alike."""
    base = {(k, p): b.run(k, p, empty=True) for k in kinds for p in PHASES}
    raw = {(k, p): [] for k in kinds for p in PHASES}
    for _ in range(runs):
        for p in PHASES:
            for k in kinds:
                raw[(k, p)].append(b.run(k, p))
    out = {k: {"failed": 0} for k in kinds}
    for (k, p), rs in raw.items():
        ok = [r for r in rs if r["ok"]]
        out[k]["failed"] += len(rs) - len(ok)
        if not ok:
            print(f"{k} {p} failed: {rs[0].get('out', '')!r}", file=sys.stderr)
        bp = base[(k, p)]["perf"]

        def per_req(r, key, bp=bp):
            return (r["perf"][key] - bp[key]) / r["requests"] if r["perf"] and bp else None
        out[k][p] = {
            "mibs": [r["bytes"] / r["secs"] / 2**20 for r in ok],
            "iops": [r["requests"] / r["secs"] for r in ok],
            "exits": [per_req(r, "exits") for r in ok],
            "mmio": [per_req(r, "mmio") for r in ok],
            "kicks": [r["kicks"] / r["requests"] for r in ok],
        }
    return out


def qemu_has_io_uring(b):
    r = b.run("qemu-io_uring", "randread", empty=True)
    return r["ok"]


def table(results, kinds, ref):
    """Rows: metric; columns: each VMM kind; ratios against ref (QEMU)."""
    rows = [("seqread", "mibs", "MiB/s"), ("seqwrite", "mibs", "MiB/s"),
            ("randread", "iops", "IOPS (4 KiB)")]
    for phase in PHASES:
        rows += [(phase, "exits", "VM exits/request"), (phase, "mmio", "MMIO exits/request")]
    head = " | ".join(kinds)
    ratios = [k for k in kinds if k.startswith("flint")] if ref in results else []
    print(f"| benchmark | unit | {head} | " + " | ".join(f"{k}/{ref}" for k in ratios) + " |")
    print("|---|---|" + "---|" * (len(kinds) + len(ratios)))
    for phase, key, unit in rows:
        meds, cells = {}, []
        for k in kinds:
            meds[k], s = summary(results[k][phase][key]) if k in results else (None, "n/a")
            cells.append(s)
        rat = []
        for k in ratios:
            q = meds.get(ref)
            rat.append(f"{meds[k] / q:.2f}" if meds[k] is not None and q else "n/a")
        print(f"| {phase} | {unit} | " + " | ".join(cells) + " | " + " | ".join(rat) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mib", type=int, default=128, help="MiB per sequential phase")
    ap.add_argument("--kib", type=int, default=64, help="sequential request size")
    ap.add_argument("--ios", type=int, default=4000, help="random 4 KiB reads")
    ap.add_argument("--qd", type=int, default=8, help="requests in flight")
    ap.add_argument("--image-mib", type=int, default=256)
    ap.add_argument("--uncached", action="store_true",
                    help="drop the image from the host page cache before every VM")
    a = ap.parse_args()
    b = Bench(a)
    try:
        kinds = ["flint-sync", "flint-async"]
        if QEMU:
            kinds.append("qemu")
            if qemu_has_io_uring(b):
                kinds.append("qemu-io_uring")
        results = measure(b, kinds, a.runs)
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)
    kvm = "kvm_pvm" if os.path.exists("/sys/module/kvm_pvm") else "KVM"
    print(f"Host: {kvm}, {os.cpu_count()} CPUs, kernel {platform.release()}; {a.runs} runs "
          f"each; seq {a.mib} MiB in {a.kib} KiB requests, {a.ios} random 4 KiB reads, "
          f"{a.qd} in flight; {a.image_mib} MiB image "
          + ("dropped from the page cache before every VM" if a.uncached
             else "in the page cache"))
    print()
    table(results, kinds, "qemu")
    print()
    print("Guest notifications (kicks) per request: " + ", ".join(
        f"{k} {summary(results[k][p]['kicks'])[1]} ({p})" for k in kinds for p in PHASES))
    failed = {k: results[k]["failed"] for k in kinds if results[k]["failed"]}
    if failed:
        print(f"\nFailed runs: {failed}")


if __name__ == "__main__":
    main()
