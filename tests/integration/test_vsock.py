"""virtio-vsock under flint with the freestanding test guest, through the
hybrid Unix-socket model exactly as a host program sees it: CONNECT/OK on
uds_path for host-initiated streams, listeners on <uds_path>_<port> for
guest-initiated ones. Data is checked end to end with SHA-256."""
import hashlib
import json
import os
import queue
import socket
import subprocess
import threading
import time

import pytest

from apiclient import UnixHTTPConnection
from conftest import FLINT, TEST_GUEST, write_config

PAT = bytes(((i * 7 + (i >> 8) * 13) & 0xFF) for i in range(65536))
MiB = 1 << 20


def pattern(n):
    """The guest's bulk stream (tests/guest/vsock.c): byte o is PAT[o % 65536]."""
    return (PAT * (n // len(PAT) + 1))[:n]


class VM:
    """flint running the test guest, its console read line by line."""

    def __init__(self, tmp_path, args, entropy=True, cid=3, mem_mib=128):
        self.uds = os.path.join(str(tmp_path), "v.sock")
        self.metrics = os.path.join(str(tmp_path), "metrics.json")
        cfg = {
            "boot-source": {"kernel_image_path": TEST_GUEST, "boot_args": args},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": mem_mib},
            "vsock": {"guest_cid": cid, "uds_path": self.uds},
        }
        if entropy:
            cfg["entropy"] = {}
        path = write_config(tmp_path, cfg)
        self.api = os.path.join(str(tmp_path), "api.sock")
        self.lines = []
        self.q = queue.Queue()
        self.p = subprocess.Popen([FLINT, "--api-sock", self.api, "--config-file", path,
                                   "--metrics-path", self.metrics],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))
            self.q.put(line)
        self.q.put(None)

    def wait_for(self, text, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in l for l in self.lines):
                return
            try:
                self.q.get(timeout=0.1)
            except queue.Empty:
                pass
        raise AssertionError(f"no '{text}' on the console:\n" + self.out())

    def finish(self, timeout=60):
        try:
            self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        time.sleep(0.1)  # the reader thread takes the last lines
        return self.p.returncode

    def out(self):
        return "\n".join(self.lines)

    def connect(self, port):
        """Host-initiated stream: CONNECT <port>; returns (socket, OK line)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.uds)
        s.sendall(b"CONNECT %d\n" % port)
        line = b""
        while not line.endswith(b"\n"):
            b = s.recv(1)
            if not b:
                break
            line += b
        return s, line


def echo_roundtrip(s, data, results, key):
    """Send data and read the same amount back, concurrently."""
    got = hashlib.sha256()
    n = [0]

    def reader():
        while n[0] < len(data):
            b = s.recv(1 << 20)
            if not b:
                break
            got.update(b)
            n[0] += len(b)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    t.join(120)
    results[key] = (n[0], got.hexdigest() == hashlib.sha256(data).hexdigest())


def listen(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    srv.settimeout(60)
    return srv


def serve(srv, count, handler):
    """Accept count connections, one thread each."""
    threads = []

    def loop():
        for i in range(count):
            c, _ = srv.accept()
            t = threading.Thread(target=handler, args=(c, i))
            t.start()
            threads.append(t)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t, threads


def echo_handler(c, i):
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                return
            c.sendall(b)


def vsock_metrics(vm):
    """Flush metrics through the API; the "vsock" group summed over flushes
    (counters are reported as deltas)."""
    c = UnixHTTPConnection(vm.api)
    c.request("PUT", "/actions", json.dumps({"action_type": "FlushMetrics"}),
              {"Content-Type": "application/json"})
    assert c.getresponse().status == 204
    c.close()
    total = {}
    if os.path.exists(vm.metrics):
        for line in open(vm.metrics):
            obj = json.loads(line)
            for k, v in obj.get("vsock", {}).items():
                total[k] = total.get(k, 0) + v
    return total


def test_host_to_guest_concurrent_echo_and_large(tmp_path, test_guest):
    vm = VM(tmp_path, "tests=vsock,rng vsock_listen=52 vsock_conns=4 vsock_wait_ms=10000")
    vm.wait_for("vsock: listening on port 52")
    sizes = [4 * MiB, 256 * 1024, 256 * 1024, 64 * 1024]
    socks, results, threads, ports = [], {}, [], set()
    for i, n in enumerate(sizes):
        s, ok = vm.connect(52)
        assert ok.startswith(b"OK ") and ok.endswith(b"\n"), ok
        ports.add(int(ok[3:]))
        socks.append(s)
        t = threading.Thread(target=echo_roundtrip, args=(s, os.urandom(n), results, i))
        t.start()
        threads.append(t)
    assert len(ports) == 4  # each stream got its own host port
    assert min(ports) >= 1 << 30
    for t in threads:
        t.join(180)
    m = vsock_metrics(vm)  # Firecracker's names, group "vsock"
    assert m["conns_added"] == 4 and m["rx_bytes_count"] >= sum(sizes), m
    assert m["tx_bytes_count"] >= sum(sizes) and m["rx_packets_count"] > 0, m
    for k in ("activate_fails", "tx_queue_event_fails", "rx_queue_event_fails",
              "tx_flush_fails", "rx_read_fails", "conns_killed", "killq_resync"):
        assert m[k] == 0, (k, m)
    for s in socks:
        s.close()
    assert vm.finish() == 0, vm.out()
    for i, n in enumerate(sizes):
        assert results[i] == (n, True), (i, results[i])
    out = vm.out()
    assert out.count("vsock: accepted cid 2 port ") == 4
    for n in sizes:
        assert f"vsock: echoed {n} bytes" in out
    assert "TEST vsock PASS" in out
    assert "TEST rng PASS" in out  # the other device still works


def test_guest_to_host_concurrent_echo(tmp_path, test_guest):
    srv = listen(os.path.join(str(tmp_path), "v.sock_5000"))
    acc, _ = serve(srv, 4, echo_handler)
    vm = VM(tmp_path, "tests=vsock,rng vsock_port=5000 vsock_conns=4")
    assert vm.finish() == 0, vm.out()
    out = vm.out()
    for i in range(4):
        assert f"vsock: connected to cid 2 port 5000 (local port {1025 + i})" in out
    assert out.count("vsock: echo ok 33 bytes") == 4, out
    assert out.count("vsock: after shutdown: op 3") == 4, out  # flint answers RST
    assert "TEST vsock PASS" in out and "TEST rng PASS" in out
    srv.close()


def test_guest_to_host_large_transfer(tmp_path, test_guest):
    size = 6 * MiB
    srv = listen(os.path.join(str(tmp_path), "v.sock_5001"))
    got = {}

    def sink(c, i):
        h, n = hashlib.sha256(), 0
        with c:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
        got[i] = (n, h.hexdigest())

    acc, threads = serve(srv, 2, sink)
    vm = VM(tmp_path, f"tests=vsock vsock_port=5001 vsock_conns=2 vsock_bulk={size}")
    assert vm.finish() == 0, vm.out()
    acc.join(10)
    for t in threads:
        t.join(30)
    want = hashlib.sha256(pattern(size)).hexdigest()
    assert got == {0: (size, want), 1: (size, want)}
    assert vm.out().count(f"sent {size} bytes") == 2
    assert "TEST vsock PASS" in vm.out()
    srv.close()


def test_guest_connect_refused(tmp_path, test_guest):
    # Nobody listens on v.sock_5999: the guest gets an RST.
    vm = VM(tmp_path, "tests=vsock,rng vsock_port=5999")
    assert vm.finish() == 0, vm.out()
    assert "TEST vsock FAIL connect to port 5999: op 3 (3 = RST: refused)" in vm.out()
    assert "TEST rng PASS" in vm.out()


def test_host_connect_refused_then_accepted(tmp_path, test_guest):
    vm = VM(tmp_path, "tests=vsock vsock_listen=52")
    vm.wait_for("vsock: listening on port 52")
    # The guest refuses port 99: no OK, the program's socket is closed.
    s, line = vm.connect(99)
    assert line == b""
    assert s.recv(1) == b""
    s.close()
    vm.wait_for("vsock: refused port 99")
    # Bad commands are closed without reaching the guest.
    for bad in (b"CONNECT\n", b"HELLO 52\n", b"CONNECT 52x\n"):
        b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        b.settimeout(10)
        b.connect(vm.uds)
        b.sendall(bad)
        assert b.recv(16) == b""
        b.close()
    # The listener still works.
    s, line = vm.connect(52)
    assert line.startswith(b"OK ")
    results = {}
    echo_roundtrip(s, b"still alive", results, 0)
    s.close()
    assert results[0] == (11, True)
    assert vm.finish() == 0, vm.out()
    assert "TEST vsock PASS" in vm.out()


def test_host_closes_mid_stream(tmp_path, test_guest):
    vm = VM(tmp_path, "tests=vsock,rng vsock_listen=52 vsock_conns=2 vsock_wait_ms=10000")
    vm.wait_for("vsock: listening on port 52")
    # First stream: write 2 MiB, read a little, vanish without reading the rest.
    s, line = vm.connect(52)
    assert line.startswith(b"OK ")
    def writer():
        try:
            s.sendall(os.urandom(2 * MiB))
        except OSError:
            pass  # closed under it: that is the point

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    assert len(s.recv(4096)) > 0
    s.shutdown(socket.SHUT_RDWR)
    s.close()
    # A second stream still works end to end.
    s2, line = vm.connect(52)
    assert line.startswith(b"OK ")
    results = {}
    echo_roundtrip(s2, os.urandom(MiB), results, 0)
    s2.close()
    assert results[0] == (MiB, True)
    assert vm.finish() == 0, vm.out()
    assert "TEST vsock PASS" in vm.out() and "TEST rng PASS" in vm.out()


def test_host_sink_closes_mid_stream(tmp_path, test_guest):
    srv = listen(os.path.join(str(tmp_path), "v.sock_5002"))

    def quitter(c, i):
        c.recv(100000)
        c.close()  # the guest is still sending: flint resets its stream

    serve(srv, 1, quitter)
    vm = VM(tmp_path, f"tests=vsock,rng vsock_port=5002 vsock_bulk={8 * MiB}")
    assert vm.finish() == 0, vm.out()
    assert "TEST vsock FAIL conn 0 reset by the host after" in vm.out()
    assert "TEST rng PASS" in vm.out()  # flint and the other devices carry on
    srv.close()


def test_stale_socket_replaced_and_removed(tmp_path, test_guest):
    uds = os.path.join(str(tmp_path), "v.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(uds)
    stale.close()  # a socket file nobody listens on any more
    vm = VM(tmp_path, "tests=vsock vsock_listen=52")
    vm.wait_for("vsock: listening on port 52")
    s, line = vm.connect(52)
    assert line.startswith(b"OK ")
    results = {}
    echo_roundtrip(s, b"x" * 1000, results, 0)
    s.close()
    assert vm.finish() == 0, vm.out()
    assert not os.path.exists(uds)


def test_uds_path_unusable(tmp_path, test_guest):
    cfg = {
        "boot-source": {"kernel_image_path": TEST_GUEST, "boot_args": "tests=timer"},
        "vsock": {"guest_cid": 3, "uds_path": os.path.join(str(tmp_path), "no", "v.sock")},
    }
    p = subprocess.run([FLINT, "--no-api", "--config-file", write_config(tmp_path, cfg)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "vsock" in (p.stdout + p.stderr)
