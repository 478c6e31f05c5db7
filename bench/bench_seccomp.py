#!/usr/bin/env python3
"""The cost of flint's seccomp filters:

- installing each thread kind's filter (one seccomp(2) call of a program
  compiled at build time), as flint itself times it: its Debug line
  "seccomp: <kind> filter installed (<n> instructions) in <ns> ns";
- a boot of the test guest with the filters and with --no-seccomp: spawn to
  the first KVM_RUN (flint's own Debug line, CLOCK_MONOTONIC) and spawn to
  exit, wall time.

QEMU has no per-thread filters to compare with; the comparison is flint
with and without them, in the same run, interleaved. Prints a Markdown
table in bench.py's style. Standard library only.

Usage: bench_seccomp.py BUILD_DIR [--runs N]"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import host_kind, summary  # noqa: E402  (same directory)

INSTALL_RE = re.compile(r"seccomp: (\w+) filter installed \((\d+) instructions\) in (\d+) ns")
FIRST_RUN_RE = re.compile(r"first KVM_RUN at monotonic (\d+) us")
KINDS = ("api", "vmm", "vcpu")


def boot_once(flint, cfg, sock, extra):
    """One boot; returns (install ns by kind, instruction counts, s to the
    first KVM_RUN, s to exit)."""
    if os.path.exists(sock):
        os.unlink(sock)
    cmd = [flint, "--api-sock", sock, "--level", "Debug", "--config-file", cfg] + extra
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120, errors="replace")
    t_exit = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"flint exited {p.returncode}: {p.stderr[-2000:]}")
    ns, insns = {}, {}
    for m in INSTALL_RE.finditer(p.stderr):
        ns[m.group(1)] = int(m.group(3))
        insns[m.group(1)] = int(m.group(2))
    m = FIRST_RUN_RE.search(p.stderr)
    first = int(m.group(1)) / 1e6 - t0 if m else None
    return ns, insns, first, t_exit


def table_row(name, unit, on, off, scale):
    om, os_ = summary(on, scale)
    fm, fs = summary(off, scale)
    diff = f"{om - fm:+.2f}" if om is not None and fm is not None else "n/a"
    return f"| {name} | {unit} | {os_} | {fs} | {diff} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    flint = os.path.join(build, "flint")
    guest = os.path.join(build, "guest", "test-guest.elf")
    tmp = tempfile.mkdtemp(prefix="flint-bench-seccomp-")
    cfg = os.path.join(tmp, "vm.json")
    with open(cfg, "w") as f:
        json.dump({"boot-source": {"kernel_image_path": guest, "boot_args": "tests=timer"},
                   "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}, f)
    sock = os.path.join(tmp, "api.sock")
    install = {k: [] for k in KINDS}
    insns = {}
    first = {"on": [], "off": []}
    total = {"on": [], "off": []}
    for _ in range(a.runs):  # interleaved, so drift hits both alike
        for mode, extra in (("on", []), ("off", ["--no-seccomp"])):
            ns, n, fr, ex = boot_once(flint, cfg, sock, extra)
            first[mode].append(fr)
            total[mode].append(ex)
            if mode == "on":
                insns.update(n)
                for k in KINDS:
                    install[k].append(ns.get(k))
    print(f"Host: {host_kind()}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
          f"{a.runs} runs each, interleaved; guest: test guest, tests=timer, 1 vCPU, 128 MiB")
    print()
    print("| benchmark | unit | filters on median [min-max] | --no-seccomp median [min-max] "
          "| on - off |")
    print("|---|---|---|---|---|")
    for k in KINDS:
        vals = install[k]
        med, s = summary(vals, 1e-3)
        print(f"| install the {k} filter ({insns.get(k, '?')} BPF instructions) | µs | {s} "
              f"| (none) | {med if med is None else f'{med:+.2f}'} |")
    print(table_row("test guest: spawn to first KVM_RUN", "ms", first["on"], first["off"], 1e3))
    print(table_row("test guest: spawn to exit", "ms", total["on"], total["off"], 1e3))


if __name__ == "__main__":
    main()
