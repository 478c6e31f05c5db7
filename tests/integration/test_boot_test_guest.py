"""The freestanding test guest under flint: boot path, memory layout,
serial console, boot timer, SMP start-up and the ways a guest ends flint."""
import re

import pytest

from conftest import run_test_guest


def parse_mem(run):
    line = run.lines("guest: mem:")
    assert line, run.stdout
    m = re.search(r"total=(\d+) regions=(\S+)", line[0])
    regions = []
    for r in m.group(2).split(","):
        base, rest = r.split("+")
        size, kind = rest.split(":")
        regions.append((int(base, 16), int(size, 16), int(kind)))
    return int(m.group(1)), regions


@pytest.mark.parametrize("vcpus", [1, 2, 4, 32])
def test_smp_every_vcpu_reports_in(tmp_path, test_guest, vcpus):
    run = run_test_guest(tmp_path, "tests=smp", vcpus=vcpus)
    assert run.returncode == 0, run.stderr
    assert f"smp: {vcpus} cpus up" in run.stdout
    assert "TEST smp PASS" in run.stdout
    # The MP table flint wrote lists exactly the configured vCPUs.
    assert re.search(rf"smp: source=mptable cpus={vcpus} ", run.stdout), run.stdout


@pytest.mark.parametrize("mem_mib", [128, 1024, 3072, 3074, 5120])
def test_memory_map_matches_the_size(tmp_path, test_guest, mem_mib):
    run = run_test_guest(tmp_path, "tests=mem", mem_mib=mem_mib)
    assert run.returncode == 0, run.stderr
    assert "TEST mem PASS" in run.stdout
    total, regions = parse_mem(run)
    ram = [(b, s) for b, s, k in regions if k == 1]
    # RAM below 1 MiB stops at the EBDA; the rest is split around the
    # 32-bit MMIO hole at 3 GiB and continues at 4 GiB.
    ram_bytes = sum(s for _, s in ram)
    assert ram_bytes == mem_mib * 2**20 - 0x60400, regions
    assert all(b + s <= 3 * 2**30 or b >= 4 * 2**30 for b, s in ram), regions
    if mem_mib > 3072:
        assert ram[-1][0] == 4 * 2**30
        assert ram[-1][1] == (mem_mib - 3072) * 2**20
    assert total >= ram_bytes


def test_boot_timer_logs_like_firecracker(tmp_path, test_guest):
    run = run_test_guest(tmp_path, "tests=timer", extra_args=["--boot-timer"])
    assert run.returncode == 0
    m = re.search(r"Guest-boot-time = +(\d+) us (\d+) ms, +(\d+) CPU us (\d+) CPU ms",
                  run.stderr)
    assert m, run.stderr
    us, ms, cpu_us, cpu_ms = map(int, m.groups())
    assert us // 1000 == ms and cpu_us // 1000 == cpu_ms
    assert 0 < us < 60_000_000


def test_boot_timer_absent_without_the_flag(tmp_path, test_guest):
    run = run_test_guest(tmp_path, "tests=timer")
    assert run.returncode == 0
    assert "Guest-boot-time" not in run.stderr


def test_i8042_reset_ends_flint_with_status_0(tmp_path, test_guest):
    run = run_test_guest(tmp_path, "tests=timer reset=i8042")
    assert run.returncode == 0
    assert "guest: reset via i8042" in run.stdout
    assert "reset through the i8042" in run.stderr


def test_triple_fault_ends_flint_with_status_0(tmp_path, test_guest):
    run = run_test_guest(tmp_path, "tests=timer reset=triple")
    assert run.returncode == 0, run.stderr
    assert "triple fault" in run.stderr
