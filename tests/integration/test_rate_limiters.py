"""Block and entropy rate limiters bound what the test guest really gets
(the net ones are in test_net.py). Each test times, on the host, the span
between two console lines the guest prints around its requests, and checks
it against the least time the token bucket allows: a bucket starts full
(`size` tokens), then refills `size` tokens per `refill_time` ms."""
import os
import subprocess
import time

import pytest

from conftest import FLINT, TEST_GUEST, boot_config

ENGINES = pytest.mark.parametrize("engine", ["Sync", "Async"])
# The bucket's arithmetic gives the least time; scheduling and timer slack
# only add to it, so the bound may be tight. This margin covers the guest
# starting its clock a little after the first request is admitted.
MARGIN_S = 0.1


def timed_lines(tmp_path, boot_args, extra, timeout=60):
    """Run the test guest under flint; return [(monotonic time, line)]."""
    cfg = boot_config(tmp_path, TEST_GUEST, boot_args, extra=extra)
    p = subprocess.Popen([FLINT, "--no-api", "--config-file", cfg], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace")
    lines = []
    end = time.monotonic() + timeout
    try:
        for line in p.stdout:
            lines.append((time.monotonic(), line.rstrip("\n")))
            if time.monotonic() > end:
                break
    finally:
        p.kill()
        _, err = p.communicate()
    assert not any("Sanitizer" in l for l in err.splitlines()), err[-2000:]
    return lines


def span(lines, first, last):
    """Seconds from the line starting with first to the one starting with last."""
    t0 = next(t for t, l in lines if l.startswith(first))
    t1 = next(t for t, l in lines if l.startswith(last))
    return t1 - t0


def text(lines):
    return "\n".join(l for _, l in lines)


def drive(path, engine, limiter):
    return {"drive_id": "rl", "path_on_host": str(path), "is_root_device": False,
            "is_read_only": False, "io_engine": engine, "rate_limiter": limiter}


def image(path, size=4 << 20):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@ENGINES
def test_block_ops_limit_bounds_the_request_rate(tmp_path, engine):
    # 10 ops at once, then 20 per second: 40 reads need 1.5 s or more.
    limiter = {"ops": {"size": 10, "refill_time": 500}}
    lines = timed_lines(tmp_path, "tests=blk blk_bench=randread blk_bench_ios=40 blk_bench_qd=8",
                        {"drives": [drive(image(tmp_path / "d.img"), engine, limiter)]})
    out = text(lines)
    assert "TEST blk PASS" in out, out
    assert "blkbench: done randread requests=40" in out
    assert span(lines, "blkbench: start", "blkbench: done") >= 1.5 - MARGIN_S, out


def test_block_bandwidth_limit_bounds_the_byte_rate(tmp_path):
    # 256 KiB at once, then 1 MiB/s: 2 MiB in 64 KiB reads need 1.75 s.
    limiter = {"bandwidth": {"size": 256 << 10, "refill_time": 250}}
    lines = timed_lines(tmp_path, "tests=blk blk_bench=seqread blk_bench_mib=2 blk_bench_kib=64",
                        {"drives": [drive(image(tmp_path / "d.img"), "Sync", limiter)]})
    out = text(lines)
    assert "TEST blk PASS" in out, out
    assert "blkbench: done seqread requests=32 bytes=2097152" in out
    assert span(lines, "blkbench: start", "blkbench: done") >= 1.75 - MARGIN_S, out


def test_block_one_time_burst_is_spent_first(tmp_path):
    # The same 2 MiB with a 2 MiB one-time burst on top: no waiting at all,
    # where without the burst the bucket alone needs 1.75 s.
    limiter = {"bandwidth": {"size": 256 << 10, "one_time_burst": 2 << 20,
                             "refill_time": 250}}
    lines = timed_lines(tmp_path, "tests=blk blk_bench=seqread blk_bench_mib=2 blk_bench_kib=64",
                        {"drives": [drive(image(tmp_path / "d.img"), "Sync", limiter)]})
    out = text(lines)
    assert "TEST blk PASS" in out, out
    assert span(lines, "blkbench: start", "blkbench: done") < 1.75 - MARGIN_S, out


def test_entropy_bandwidth_limit_bounds_the_byte_rate(tmp_path):
    # 256 bytes at once, then 512 bytes/s: 1280 bytes need 2 s or more.
    limiter = {"bandwidth": {"size": 256, "refill_time": 500}}
    lines = timed_lines(tmp_path, "tests=rng rng_rounds=20",
                        {"entropy": {"rate_limiter": limiter}})
    out = text(lines)
    assert "TEST rng PASS" in out, out
    assert "rng: 1280 bytes" in out
    assert span(lines, "rng: reading 1280 bytes", "rng: 1280 bytes") >= 2.0 - MARGIN_S, out


def test_entropy_without_a_limiter_is_not_held_back(tmp_path):
    # The same reads unthrottled: the bound above comes from the limiter.
    lines = timed_lines(tmp_path, "tests=rng rng_rounds=20", {"entropy": {}})
    out = text(lines)
    assert "TEST rng PASS" in out, out
    assert span(lines, "rng: reading 1280 bytes", "rng: 1280 bytes") < 2.0 - MARGIN_S, out
