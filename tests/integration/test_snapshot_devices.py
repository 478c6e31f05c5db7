"""Snapshot and restore of the legacy devices, and the serial console's
rate limiter: the test guest's counter test with counter_legacy=1 puts the
UART and the i8042 in a non-reset state and reports, every tick, what it
reads back from them (tests/guest/counter.c)."""
import os
import re
import time

from apiclient import Flint, TEST_GUEST, read_metrics
from test_snapshot import assert_continues, create, load, pause, wait_ticks, workdir

LEGACY_RE = re.compile(r"uart=([0-9a-f,]+) kbd=(\w+) rx=(\w+)")
# IER THRI, 8N1, DTR|RTS, scratch a7, divisor 3, IIR: FIFO on + THR empty pending
UART_SET = "02,03,03,a7,0003,c2"
KBD_CTR = "47"


def legacy_of(lines):
    return [m.groups() for m in map(LEGACY_RE.search, lines) if m]


def console_fifo(tmp_path):
    """A FIFO for flint's standard input (the serial console's input) and
    the prefix that starts flint reading it. Held open read-write here, so
    neither side blocks opening it."""
    path = str(tmp_path / "console.in")
    os.mkfifo(path)
    wfd = os.open(path, os.O_RDWR)
    return wfd, ["sh", "-c", 'exec "$@" <"$0"', path]


def boot_legacy(vm, mem_mib=128):
    a = vm.api
    r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST,
                               "boot_args": "tests=counter counter_ms=20 counter_legacy=1"})
    assert r.status == 204, r
    assert a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": mem_mib}).status == 204
    r = a.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 204, r


def test_uart_and_i8042_state_survive_a_restore(tmp_path):
    """Registers, the pending THR-empty interrupt, bytes in the receive FIFO
    and the i8042's command byte and output buffer come back in the new
    process: the guest reads on as if nothing happened."""
    typed = b"SNAP-RX-0123456789"  # what the guest has not read yet
    wfd, prefix = console_fifo(tmp_path)
    vm = Flint(workdir(tmp_path, "a"), prefix=prefix)
    try:
        boot_legacy(vm)
        wait_ticks(vm, 4)
        seen = legacy_of(vm.serial())[1:]
        assert seen and all(s == (UART_SET, KBD_CTR, "none") for s in seen), seen
        pause(vm)
        # Paused, the guest cannot read: the input waits in the UART's FIFO.
        os.write(wfd, typed)
        time.sleep(0.3)
        create(vm, tmp_path / "s.state", tmp_path / "s.mem")
    finally:
        vm.kill()
        os.close(wfd)
    before = vm.serial()

    vm2 = Flint(workdir(tmp_path, "b"))
    try:
        r = load(vm2, tmp_path / "s.state", tmp_path / "s.mem")
        assert r.status == 204, r
        assert_continues(before, vm2, disk=False, count=len(typed) + 3)
        after = vm2.serial()
    finally:
        vm2.kill()
    states = legacy_of(after)
    assert len(states) >= len(typed) + 3, after
    # the first tick after the restore already reads the saved state
    for uart, kbd, _ in states:
        assert uart == UART_SET, (uart, after[:3])
        assert kbd == KBD_CTR, (kbd, after[:3])
    rx = bytes(int(x, 16) for _, _, x in states if x != "none")
    assert rx == typed, (rx, before[-2:], after[:3])


def test_serial_rate_limiter_drops_and_counts(tmp_path):
    """A guest printing faster than PUT /serial's rate_limiter allows loses
    bytes; what reaches the console is what the bucket lets through, and
    uart.rate_limiter_dropped_bytes counts the rest."""
    metrics, console = str(tmp_path / "metrics.json"), tmp_path / "console.out"
    vm = Flint(workdir(tmp_path, "a"))
    try:
        a = vm.api
        size, refill_ms = 1000, 1000
        r = a.put("/serial", {"serial_out_path": str(console),
                              "rate_limiter": {"size": size, "refill_time": refill_ms}})
        assert r.status == 204, r
        assert a.put("/metrics", {"metrics_path": metrics}).status == 204
        r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST,
                                   "boot_args": "tests=counter counter_ms=2"})
        assert r.status == 204, r
        assert a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}).status == 204
        start = time.monotonic()
        assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
        time.sleep(3)
        pause(vm)
        elapsed = time.monotonic() - start
        assert a.put("/actions", {"action_type": "FlushMetrics"}).status == 204
        uart = read_metrics(metrics)[-1]["uart"]
        out = console.read_bytes()
    finally:
        vm.kill()
    written, dropped = uart["write_count"], uart["rate_limiter_dropped_bytes"]
    assert dropped > 0, uart
    # the bucket: full at the start, then size bytes per refill time
    assert written <= size + size * elapsed * 1000 / refill_ms + 64, (written, elapsed)
    # what reached the console is what the metric says went out
    assert len(out) == written, (len(out), written)
    # the guest printed well over the limit: ticks are missing from the console
    ns = [int(m.group(1)) for m in re.finditer(rb"counter: n=(\d+) ", out)]
    assert ns and max(ns) + 1 > len(ns), ns[-5:]
