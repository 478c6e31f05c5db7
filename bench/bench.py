#!/usr/bin/env python3
"""flint's benchmarks, each beside QEMU -M microvm running the identical
guest in the same run. Prints a Markdown report (medians, min-max spread,
flint/QEMU ratios). See bench/RESULTS.md for recorded results.

Usage: bench.py BUILD_DIR [--runs N] [--linux-runs N] [--only NAME]"""
import argparse
import json
import os
import platform
import re
import select
import shutil
import statistics
import subprocess
import tempfile
import time

QEMU = shutil.which("qemu-system-x86_64")
PERF = shutil.which("perf")


def host_kind():
    if os.path.exists("/sys/module/kvm_pvm"):
        return "kvm_pvm (shadow paging, no VMX; see shared/HOST.md)"
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    return "KVM with VMX" if " vmx" in flags else ("KVM with SVM" if " svm" in flags else "KVM")


def perf_cmd(tmp, cmd):
    """cmd under `perf stat` counting KVM exits, with the counts' file in tmp
    (None without perf). A stale file from an earlier run is removed first.
    kvm_mmio fires twice for an MMIO read that exits to user space (type 0,
    "unsatisfied-read", at the exit; type 1, "read", when the VMM's answer
    is completed), so the filter drops type 0 and each access counts once."""
    if not PERF:
        return cmd, None
    out = os.path.join(tmp, "perf.txt")
    if os.path.exists(out):
        os.unlink(out)
    return [PERF, "stat", "-x,", "-o", out, "-e", "kvm:kvm_exit", "-e", "kvm:kvm_mmio",
            "--filter", "type != 0", "-e", "kvm:kvm_pio", "--"] + cmd, out


def read_perf(path):
    """Exits counted by perf_cmd: {"exits", "mmio"}, or None. Where the host
    has no kvm_exit tracepoint hits (kvm_pvm), MMIO + PIO exits stand in."""
    counts = {}
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[2].startswith("kvm:"):
                try:
                    counts[parts[2]] = int(parts[0])
                except ValueError:
                    return None
    if counts.get("kvm:kvm_exit"):
        return {"exits": counts["kvm:kvm_exit"], "mmio": counts.get("kvm:kvm_mmio", 0)}
    if "kvm:kvm_mmio" in counts:
        return {"exits": counts["kvm:kvm_mmio"] + counts.get("kvm:kvm_pio", 0),
                "mmio": counts["kvm:kvm_mmio"]}
    return None


def output_chunks(p, deadline):
    """(monotonic arrival time, bytes) for each read of p's stdout, until it
    closes, p exits or the deadline passes."""
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if p.poll() is not None:
                return
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        yield time.monotonic(), chunk


def watch_output(p, t0, until, deadline, on_line=None):
    """Read p's stdout until it closes, p exits or the deadline passes.
    Returns the seconds from t0 to the first output holding `until` (None
    if it never came); on_line() runs once, right then."""
    seen, buf = None, b""
    for now, chunk in output_chunks(p, deadline):
        buf += chunk
        if until and seen is None and until in buf:
            seen = now - t0
            if on_line:
                on_line()
    return seen


class Bench:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.flint = os.path.join(self.build, "flint")
        self.guest = os.path.join(self.build, "guest")
        self.probe = os.path.join(self.build, "bench", "probe.so")
        self.tmp = tempfile.mkdtemp(prefix="flint-bench-")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        script = os.path.join(root, "resources", "host-boot-args.sh")
        self.host_args = subprocess.run([script], capture_output=True, text=True).stdout.strip()

    def flint_cmd(self, kernel, args, mem=128, vcpus=1, initrd=None, extra=(), rootfs=None):
        cfg = {"boot-source": {"kernel_image_path": kernel, "boot_args": args},
               "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem}}
        if initrd:
            cfg["boot-source"]["initrd_path"] = initrd
        if rootfs:  # flint adds root=/dev/vda ro, as Firecracker does
            cfg["drives"] = [{"drive_id": "rootfs", "path_on_host": rootfs,
                              "is_root_device": True, "is_read_only": True}]
        path = os.path.join(self.tmp, "vm.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        # flint is static (no LD_PRELOAD): it logs its own first KVM_RUN at
        # Debug level, on the same CLOCK_MONOTONIC the probe uses.
        return [self.flint, "--no-api", "--level", "Debug", "--config-file", path] + list(extra)

    def qemu_cmd(self, kernel, args, mem=128, vcpus=1, initrd=None, rootfs=None):
        cmd = [QEMU, "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host",
               "-m", str(mem), "-smp", str(vcpus), "-nodefaults", "-no-user-config",
               "-nographic", "-serial", "stdio", "-no-reboot", "-kernel", kernel,
               "-append", args]
        if initrd:
            cmd += ["-initrd", initrd]
        if rootfs:
            cmd[cmd.index("-append") + 1] = "root=/dev/vda ro " + args
            cmd += ["-global", "virtio-mmio.force-legacy=false",
                    "-drive", f"id=root,file={rootfs},format=raw,if=none,readonly=on",
                    "-device", "virtio-blk-device,drive=root"]
        return cmd

    def spawn(self, cmd, until=None, timeout=120, keep=False):
        """Run cmd; return times (s) from spawn to the first KVM_RUN, to a
        console line containing `until`, and to exit, plus CPU and RSS."""
        probe_out = os.path.join(self.tmp, "probe")
        if os.path.exists(probe_out):
            os.unlink(probe_out)
        env = dict(os.environ, LD_PRELOAD=self.probe, FLINT_PROBE_OUT=probe_out)
        log = open(os.path.join(self.tmp, "stderr"), "w+")
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=log, env=env)
        r = {"line": None, "exit": None}

        def at_line():
            r["line_cpu"] = self.process_cpu(p.pid)
            if keep:
                r["rss_overhead_kib"] = self.rss_overhead(p.pid)
                p.kill()
        r["line"] = watch_output(p, t0, until.encode() if until else None, t0 + timeout, at_line)
        try:
            _, status, ru = os.wait4(p.pid, 0)
            r["exit"] = time.monotonic() - t0 if status == 0 else None
        except ChildProcessError:
            pass
        log.seek(0)
        text = log.read()
        log.close()
        m = re.search(r"first KVM_RUN at monotonic (\d+) us, process CPU (\d+) us", text)
        entered = re.search(r"main entered at monotonic (\d+) us, process CPU (\d+) us", text)
        if entered:  # flint: what fork and exec cost before its own code ran
            r["main_wall"] = int(entered.group(1)) / 1e6 - t0
            r["main_cpu"] = int(entered.group(2)) / 1e6
        if m:
            mono, cpu = int(m.group(1)), int(m.group(2))
        elif os.path.exists(probe_out):
            with open(probe_out) as f:
                mono, cpu = (int(x) for x in f.read().split())
        else:  # never ran a vCPU (the exec floor)
            return r
        r["first_run_wall"] = mono / 1e6 - t0
        r["first_run_cpu"] = cpu / 1e6
        return r

    @staticmethod
    def process_cpu(pid):
        """User + system CPU seconds the process has used so far: on a
        kvm_pvm host the guest's emulated instructions are charged here as
        system time, so this is steadier than wall time on a busy host."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    @staticmethod
    def rss_overhead(pid):
        """Resident memory that is not guest RAM: total RSS minus the RSS of
        the largest anonymous mappings (the guest's RAM) in KiB."""
        maps = []
        cur = None
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if "-" in parts[0] and len(parts) >= 5:
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    cur = {"size": hi - lo, "rss": 0, "name": parts[5] if len(parts) > 5 else ""}
                    maps.append(cur)
                elif parts[0] == "Rss:" and cur is not None:
                    cur["rss"] = int(parts[1])
        total = sum(m["rss"] for m in maps)
        guest = sum(m["rss"] for m in maps if m["size"] >= 64 * 2**20 and not m["name"])
        return total - guest


def summary(values, scale=1.0):
    vals = [v * scale for v in values if v is not None]
    if not vals:
        return None, "n/a"
    med = statistics.median(vals)
    return med, f"{med:.1f} [{min(vals):.1f}-{max(vals):.1f}]"


def row(name, unit, flint_vals, qemu_vals, scale):
    fm, fs = summary(flint_vals, scale)
    qm, qs = summary(qemu_vals, scale)
    ratio = f"{fm / qm:.2f}" if fm is not None and qm else "n/a"
    return f"| {name} | {unit} | {fs} | {qs} | {ratio} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--linux-runs", type=int, default=3)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    b = Bench(a.build)
    tg = os.path.join(b.guest, "test-guest.elf")
    vmlinux = os.path.join(b.guest, "vmlinux")
    rootfs = os.path.join(b.guest, "rootfs.ext4")
    rows = []

    def both(n, fcmd, qcmd, until, keep=False, timeout=120, qemu_keep=None):
        # Alternate the two VMMs so that load from elsewhere on the host
        # falls on both alike.
        f, q = [], []
        for _ in range(n):
            f.append(b.spawn(fcmd, until, timeout, keep))
            if QEMU:
                q.append(b.spawn(qcmd, until, timeout, keep if qemu_keep is None else qemu_keep))
        return f, q

    if a.only in ("", "startup"):
        args = "tests=timer reset=triple"
        f, q = both(a.runs, b.flint_cmd(tg, args), b.qemu_cmd(tg, args), "ALL DONE")
        rows.append(row("spawn to first KVM_RUN (wall)", "ms", [x["first_run_wall"] for x in f],
                        [x["first_run_wall"] for x in q], 1e3))
        rows.append(row("spawn to first KVM_RUN (CPU)", "ms", [x["first_run_cpu"] for x in f],
                        [x["first_run_cpu"] for x in q], 1e3))
        # The split of flint's figure: fork + exec of a 2.3 MiB static
        # binary (no flint code runs yet), then flint's own set-up.
        rows.append(row("of which spawn to main() (wall)", "ms", [x.get("main_wall") for x in f],
                        [], 1e3))
        rows.append(row("of which spawn to main() (CPU)", "ms", [x.get("main_cpu") for x in f],
                        [], 1e3))
        floor = os.path.join(b.build, "bench", "exec_floor")
        if os.path.exists(floor):
            e = [b.spawn([floor]) for _ in range(a.runs)]
            rows.append(row("an empty static program: spawn to main() (CPU)", "ms",
                            [x.get("main_cpu") for x in e], [], 1e3))
        rows.append(row("test guest: spawn to boot-timer signal", "ms", [x["line"] for x in f],
                        [x["line"] for x in q], 1e3))
        rows.append(row("test guest: spawn to exit", "ms", [x["exit"] for x in f],
                        [x["exit"] for x in q], 1e3))
        args = "tests=timer reset=none"
        f, q = both(max(3, a.runs // 3), b.flint_cmd(tg, args), b.qemu_cmd(tg, args),
                    "ALL DONE", keep=True)
        rows.append(row("RSS minus guest RAM (test guest)", "MiB",
                        [x.get("rss_overhead_kib") for x in f],
                        [x.get("rss_overhead_kib") for x in q], 1 / 1024))
    if a.only in ("", "linux") and os.path.exists(vmlinux):
        args = f"console=ttyS0 reboot=k panic=1 pci=off {b.host_args}"
        # QEMU microvm has no i8042, so reboot=k never ends it: it is killed at
        # the milestone and its exit column reads n/a.
        f, q = both(a.linux_runs, b.flint_cmd(vmlinux, args, rootfs=rootfs),
                    b.qemu_cmd(vmlinux, args, rootfs=rootfs), "Run /sbin/init", False, 300,
                    qemu_keep=True)
        rows.append(row("Linux: spawn to first KVM_RUN (wall)", "ms",
                        [x["first_run_wall"] for x in f], [x["first_run_wall"] for x in q], 1e3))
        rows.append(row("Linux: spawn to `Run /sbin/init`", "s", [x["line"] for x in f],
                        [x["line"] for x in q], 1))
        rows.append(row("Linux: process CPU to `Run /sbin/init`", "s",
                        [x.get("line_cpu") for x in f], [x.get("line_cpu") for x in q], 1))
        rows.append(row("Linux: spawn to exit (panic=1 reboot)", "s", [x["exit"] for x in f],
                        [x["exit"] for x in q], 1))
    print(f"Host: {host_kind()}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
          f"QEMU: {subprocess.run([QEMU, '--version'], capture_output=True, text=True).stdout.splitlines()[0] if QEMU else 'absent'}")
    print(f"flint binary: {os.path.getsize(b.flint) / 1024:.0f} KiB"
          + (f"; QEMU binary: {os.path.getsize(QEMU) / 1024:.0f} KiB" if QEMU else ""))
    print()
    print("| benchmark | unit | flint median [min-max] | QEMU microvm median [min-max] | flint/QEMU |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
