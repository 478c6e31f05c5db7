"""machine-config and serial options with the test guest: huge pages,
the serial output file."""
import os

import pytest

from conftest import run_test_guest

NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"


@pytest.fixture
def hugepages():
    """Reserve 2 MiB pages for the test, restoring the old count after."""
    if os.geteuid() != 0:
        pytest.skip("needs root to reserve huge pages")
    old = open(NR_HUGEPAGES).read().strip()

    def reserve(n):
        with open(NR_HUGEPAGES, "w") as f:
            f.write(str(n))
        return int(open(NR_HUGEPAGES).read())

    yield reserve
    reserve(old)


def free_hugepages():
    for line in open("/proc/meminfo"):
        if line.startswith("HugePages_Free:"):
            return int(line.split()[1])
    return 0


def test_hugetlbfs_backed_guest_memory(tmp_path, test_guest, hugepages):
    if hugepages(80) < 64:
        pytest.skip("the host could not reserve 64 huge pages")
    before = free_hugepages()
    run = run_test_guest(tmp_path, "tests=mem,smp", vcpus=2, mem_mib=128,
                         extra={"machine-config": {"vcpu_count": 2, "mem_size_mib": 128,
                                                   "huge_pages": "2M"}})
    assert run.returncode == 0, run.stderr
    assert "TEST mem PASS" in run.stdout and "TEST smp PASS" in run.stdout
    assert free_hugepages() == before  # all given back


def test_hugetlbfs_without_reserved_pages_is_a_clear_error(tmp_path, test_guest, hugepages):
    hugepages(0)
    run = run_test_guest(tmp_path, "tests=mem",
                         extra={"machine-config": {"vcpu_count": 1, "mem_size_mib": 128,
                                                   "huge_pages": "2M"}})
    assert run.returncode != 0
    assert "huge pages" in run.stderr


def test_transparent_huge_pages(tmp_path, test_guest):
    run = run_test_guest(tmp_path, "tests=mem",
                         extra={"machine-config": {"vcpu_count": 1, "mem_size_mib": 256,
                                                   "huge_pages": "Transparent"}})
    assert run.returncode == 0 and "TEST mem PASS" in run.stdout


def test_serial_output_to_a_file(tmp_path, test_guest):
    out = tmp_path / "console.log"
    run = run_test_guest(tmp_path, "tests=timer",
                         extra={"serial": {"serial_out_path": str(out)}})
    assert run.returncode == 0, run.stderr
    console = out.read_text()
    assert "ALL DONE pass=1 fail=0" in console
    assert "ALL DONE" not in run.stdout


def test_metrics_from_the_config_file_flushed_at_exit(tmp_path, test_guest):
    import json
    path = tmp_path / "metrics.json"
    run = run_test_guest(tmp_path, "tests=timer",
                         extra={"metrics": {"metrics_path": str(path)}})
    assert run.returncode == 0, run.stderr
    objs = [json.loads(l) for l in path.read_text().splitlines()]
    assert objs, "no metrics were written"
    last = objs[-1]
    # The guest printed its lines through the UART before it reset.
    assert sum(o["uart"]["write_count"] for o in objs) > 20
    assert last["i8042"]["reset_count"] + sum(o["i8042"]["reset_count"] for o in objs[:-1]) == 1
