"""Snapshot and restore of the legacy devices, and the serial console's
rate limiter: the test guest's counter test with counter_legacy=1 puts the
UART and the i8042 in a non-reset state and reports, every tick, what it
reads back from them (tests/guest/counter.c)."""
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from apiclient import Flint, TEST_GUEST, read_metrics
from test_net import CAPTURE, ETHERTYPE, GUEST_MAC, HOST_MAC, SEND, Netns
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
        size, refill_ms = 100, 1000
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
    # the full bucket let the start of the banner through whole; the guest
    # printed far more than the bucket allows after it
    assert out.startswith(b"\nguest: flint test guest, start_info=0x"), out[:64]
    assert dropped > 2 * written, uart


def echo_through(ns, tap, payload, timeout=30):
    """Send the guest a frame of the test's ethertype on tap (inside ns) and
    return the frame it answers with (net_echo=1), as bytes."""
    cap = ns.popen([sys.executable, "-c", CAPTURE, tap, "1", str(timeout), "%x" % ETHERTYPE],
                   stdout=subprocess.PIPE, text=True)
    try:
        assert cap.stdout.readline().strip() == "ready"
        frame = (bytes.fromhex(GUEST_MAC.replace(":", "")) +
                 bytes.fromhex(HOST_MAC.replace(":", "")) +
                 ETHERTYPE.to_bytes(2, "big") + payload)
        ns.run(sys.executable, "-c", SEND, tap, frame.hex())
        line = cap.stdout.readline().split()
    finally:
        cap.kill()
        cap.wait()
    assert len(line) == 2, f"no answer from the guest on {tap}"
    return bytes.fromhex(line[1])


def assert_echo(frame, payload):
    assert frame[:6] == bytes.fromhex(HOST_MAC.replace(":", "")), frame[:14].hex()
    assert frame[6:12] == bytes.fromhex(GUEST_MAC.replace(":", "")), frame[:14].hex()
    assert frame[14:].rstrip(b"\0") == b"ECHO " + payload, frame


@pytest.mark.skipif(os.geteuid() != 0, reason="taps need root")
def test_network_works_both_ways_after_restore_on_another_tap(tmp_path):
    """Frames cross a tap both ways before the snapshot and, in the restored
    process, on the tap network_overrides names instead."""
    ns = Netns()
    inside = ["ip", "netns", "exec", ns.name]
    try:
        ns.add_tap("flsa")
        ns.add_tap("flsb")
        vm = Flint(workdir(tmp_path, "a"), prefix=inside)
        try:
            a = vm.api
            r = a.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "flsa",
                                                   "guest_mac": GUEST_MAC})
            assert r.status == 204, r
            r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST, "boot_args":
                                       "tests=net net_tx=1 net_rx=1000 net_wait_ms=600000 "
                                       "net_echo=1"})
            assert r.status == 204, r
            assert a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}).status == 204
            assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
            vm.wait_serial("net: tx frame 0")
            assert_echo(echo_through(ns, "flsa", b"PING-BEFORE"), b"PING-BEFORE")
            pause(vm)
            create(vm, tmp_path / "n.state", tmp_path / "n.mem")
        finally:
            vm.kill()
        vm = Flint(workdir(tmp_path, "b"), prefix=inside)
        try:
            r = load(vm, tmp_path / "n.state", tmp_path / "n.mem",
                     network_overrides=[{"iface_id": "eth0", "host_dev_name": "flsb"}])
            assert r.status == 204, r
            for i in range(3):
                p = b"PING-AFTER-%d" % i
                assert_echo(echo_through(ns, "flsb", p), p)
                vm.wait_serial("payload=" + p.decode())
            assert not any("FAIL" in l or "EXCEPTION" in l for l in vm.serial()), vm.serial()
        finally:
            vm.kill()
    finally:
        ns.delete()


def vsock_connect(uds, port):
    """Host-initiated stream on Firecracker's hybrid vsock: (socket, OK line)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(uds))
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        line += b
    return s, line


def vsock_echo(s, data):
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got += b
    return got


def test_vsock_after_restore_resets_old_connections_and_works_both_ways(tmp_path):
    """A connection open at the snapshot is reset in the restored guest
    (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, as Firecracker); then a host->guest
    connection and two guest->host ones carry data."""
    uds = tmp_path / "v.sock"
    args = ("tests=vsock vsock_listen=5000 vsock_conns=2 vsock_port=6000 vsock_reset=1 "
            "vsock_wait_ms=600000")
    vm = Flint(workdir(tmp_path, "a"))
    old = None
    try:
        a = vm.api
        assert a.put("/vsock", {"guest_cid": 3, "uds_path": str(uds)}).status == 204
        r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST, "boot_args": args})
        assert r.status == 204, r
        assert a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}).status == 204
        assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
        vm.wait_serial("vsock: listening on port 5000")
        old, ok = vsock_connect(uds, 5000)
        assert ok.startswith(b"OK "), ok
        assert vsock_echo(old, b"before the snapshot") == b"before the snapshot"
        pause(vm)
        create(vm, tmp_path / "v.state", tmp_path / "v.mem")
    finally:
        vm.kill()
    # the guest connects to port 6000 once the old connection is gone
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(uds) + "_6000")
    srv.listen(1)
    srv.settimeout(60)
    vm = Flint(workdir(tmp_path, "b"))
    try:
        r = load(vm, tmp_path / "v.state", tmp_path / "v.mem")
        assert r.status == 204, r
        vm.wait_serial("vsock: transport reset, 1 connections dropped")
        assert old.recv(1) == b""  # its host end went with the old process
        s, ok = vsock_connect(uds, 5000)
        assert ok.startswith(b"OK "), ok
        assert vsock_echo(s, b"after the restore") == b"after the restore"
        s.close()
        # vsock_conns=2: the guest opens two connections to port 6000
        conns = [srv.accept()[0] for _ in range(2)]
        for c in conns:
            c.settimeout(30)
            ping = c.recv(64)
            assert ping == b"FLINT-VSOCK-PING 0123456789abcdef", ping
            c.sendall(ping)
        vm.wait_serial("TEST vsock PASS")
        for c in conns:
            c.close()
        assert sum("vsock: echo ok 33 bytes" in l for l in vm.serial()) == 2
    finally:
        vm.kill()
        srv.close()
        old.close()
