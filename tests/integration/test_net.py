"""virtio-net under flint, seen from both ends: the test guest's console and
the host side of a tap. Every test works inside its own network namespace
(flint-test-<random>) holding the tap; flint runs inside it too, and all
traffic stays on that tap. Needs root (netns, tap, AF_PACKET)."""
import os
import re
import secrets
import select
import subprocess
import sys
import time

import pytest

from conftest import FLINT, GUEST_DIR, boot_config, guest_kit, host_boot_args

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: netns, tap, AF_PACKET")

TAP = "tap0"
GUEST_MAC = "06:00:ac:10:00:02"
HOST_MAC = "02:00:00:00:00:01"
ETHERTYPE = 0x88B5  # what the test guest sends (IEEE local experimental)

# Run inside the namespace: print "ready", then one line per frame of the
# given ethertype that arrives on the interface: "<monotonic> <hex>".
CAPTURE = r"""
import socket, sys, time
ifname, want, timeout, etype = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4], 16)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifname, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
print("ready", flush=True)
end = time.monotonic() + timeout
n = 0
while n < want:
    left = end - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data, addr = s.recvfrom(70000)
    except socket.timeout:
        break
    if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
        continue
    if int.from_bytes(data[12:14], "big") == etype:
        print("%.6f %s" % (time.monotonic(), data.hex()), flush=True)
        n += 1
"""

# Run inside the namespace: send each hex frame given out of the interface.
SEND = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"""


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Netns:
    """A private network namespace with a tap in it."""

    def __init__(self):
        self.name = "flint-test-" + secrets.token_hex(4)
        sh("ip", "netns", "add", self.name)
        # No IPv6: the kernel's own router/MLD chatter would reach the guest.
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", check=False)
        self.run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", check=False)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *args, check=True):
        return sh("ip", "netns", "exec", self.name, *args, check=check)

    def popen(self, args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name] + list(args), **kw)

    def add_tap(self, name=TAP):
        self.run("ip", "tuntap", "add", "dev", name, "mode", "tap")
        self.run("ip", "link", "set", name, "up")

    def delete(self):
        sh("ip", "netns", "del", self.name, check=False)


@pytest.fixture
def netns():
    ns = Netns()
    try:
        ns.add_tap()
        yield ns
    finally:
        ns.delete()


def net_config(tmp_path, boot_args, kernel=None, mac=GUEST_MAC, tap=TAP, tx_rl=None, rx_rl=None,
               mem_mib=128, initrd=None):
    iface = {"iface_id": "eth0", "host_dev_name": tap}
    if mac:
        iface["guest_mac"] = mac
    if tx_rl:
        iface["tx_rate_limiter"] = tx_rl
    if rx_rl:
        iface["rx_rate_limiter"] = rx_rl
    return boot_config(tmp_path, kernel or os.path.join(GUEST_DIR, "test-guest.elf"),
                       boot_args, mem_mib=mem_mib, initrd=initrd,
                       extra={"network-interfaces": [iface]})


def start_flint(ns, cfg):
    args = [FLINT, "--no-api", "--config-file", cfg]
    return ns.popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    errors="replace")


def wait_line(proc, pattern, timeout):
    """Read proc's stdout until the text matches; return (match, text so far).
    Reads the fd directly, so communicate() later sees only what is left."""
    text = ""
    fd = proc.stdout.fileno()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        text += chunk.decode(errors="replace")
        m = re.search(pattern, text)
        if m:
            return m, text
    return None, text


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return out or "", err or ""


def start_capture(ns, want, timeout):
    cap = ns.popen([sys.executable, "-c", CAPTURE, TAP, str(want), str(timeout),
                    "%x" % ETHERTYPE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True)
    assert cap.stdout.readline().strip() == "ready", cap.stderr.read()
    return cap


def captured(cap, timeout=60):
    out, err = cap.communicate(timeout=timeout)
    frames = []
    for line in out.splitlines():
        t, h = line.split()
        frames.append((float(t), bytes.fromhex(h)))
    return frames


def mac_bytes(mac):
    return bytes(int(b, 16) for b in mac.split(":"))


def host_frame(i, dst=GUEST_MAC):
    payload = f"FLINT-HOST-FRAME {i}".encode()
    f = mac_bytes(dst) + mac_bytes(HOST_MAC) + ETHERTYPE.to_bytes(2, "big") + payload
    return f + bytes(max(0, 60 - len(f)))


def guest_rx_lines(text):
    return re.findall(r"net: rx frame len=(\d+) dst=(\S+) src=(\S+) type=0x(\w+) payload=(.*)",
                      text)


@pytest.fixture
def test_guest_elf():
    return guest_kit("test-guest.elf")


def test_guest_frames_appear_on_the_tap(tmp_path, netns, test_guest_elf):
    cap = start_capture(netns, 5, 30)
    cfg = net_config(tmp_path, "tests=net net_tx=5 net_wait_ms=100")
    proc = start_flint(netns, cfg)
    out, err = finish(proc)
    frames = captured(cap)
    assert proc.returncode == 0, err[-2000:]
    assert "TEST net PASS" in out, out
    assert f"net: mac={GUEST_MAC}" in out
    assert len(frames) == 5, (frames, out)
    for i, (_, f) in enumerate(frames):
        assert f[0:6] == b"\xff" * 6  # broadcast
        assert f[6:12] == mac_bytes(GUEST_MAC)  # the configured guest_mac as source
        assert f[14:].rstrip(b"\0") == f"FLINT-GUEST-FRAME {i}/5".encode()
        assert len(f) == 60


def test_tap_frames_arrive_in_the_guest(tmp_path, netns, test_guest_elf):
    cfg = net_config(tmp_path, "tests=net net_tx=0 net_rx=3 net_wait_ms=20000")
    proc = start_flint(netns, cfg)
    m, text = wait_line(proc, r"net: mac=", 30)
    assert m, text
    frames = [host_frame(i) for i in range(3)]
    netns.run(sys.executable, "-c", SEND, TAP, *[f.hex() for f in frames])
    out, err = finish(proc)
    out = text + out
    assert proc.returncode == 0, err[-2000:]
    assert "TEST net PASS" in out, out
    rx = guest_rx_lines(out)
    assert len(rx) == 3, out
    for i, (length, dst, src, etype, payload) in enumerate(rx):
        assert int(length) == 60
        assert dst == GUEST_MAC and src == HOST_MAC and int(etype, 16) == ETHERTYPE
        assert payload == f"FLINT-HOST-FRAME {i}"


def test_many_frames_in_flight_cross_both_ways(tmp_path, netns, test_guest_elf):
    # The benchmark mode (net_bench=1): up to a queue's worth of frames in
    # flight each way, EVENT_IDX, polled rings, no interrupts.
    tx, rx = 300, 200
    cap = start_capture(netns, tx, 60)
    cfg = net_config(tmp_path, f"tests=net net_bench=1 net_tx={tx} net_rx={rx} "
                     "net_wait_ms=30000")
    proc = start_flint(netns, cfg)
    m, text = wait_line(proc, rf"net: tx {tx} frames", 60)
    assert m, text
    frames = [host_frame(i) for i in range(rx)]
    netns.run(sys.executable, "-c", SEND, TAP, *[f.hex() for f in frames])
    out, err = finish(proc)
    out = text + out
    sent = captured(cap)
    assert proc.returncode == 0, err[-2000:]
    assert "TEST net PASS" in out, out
    assert f"net: rx {rx} frames" in out
    assert re.search(r"netbench: kicks tx=\d+ rx=\d+ event_idx=1", out), out
    # Every frame crossed once, in the order the guest queued them: each
    # carries its sequence number (little-endian) at byte 46.
    assert len(sent) == tx, out
    seqs = [int.from_bytes(f[46:50], "little") for _, f in sent]
    assert seqs == list(range(tx))
    for _, f in sent:
        assert f[6:12] == mac_bytes(GUEST_MAC) and len(f) == 60


def test_without_guest_mac_the_guest_picks_its_own(tmp_path, netns, test_guest_elf):
    cap = start_capture(netns, 1, 30)
    cfg = net_config(tmp_path, "tests=net net_tx=1 net_wait_ms=100", mac=None)
    proc = start_flint(netns, cfg)
    out, err = finish(proc)
    frames = captured(cap)
    assert proc.returncode == 0, err[-2000:]
    m = re.search(r"virtio: features offered=0x([0-9a-f]+)", out)
    assert m and not int(m.group(1), 16) & (1 << 5), out  # no VIRTIO_NET_F_MAC
    assert "net: mac=02:01:02:03:04:05" in out  # the test guest's fallback
    assert len(frames) == 1 and frames[0][1][6:12] == bytes([2, 1, 2, 3, 4, 5])


def test_tx_rate_limit_bounds_the_frame_rate(tmp_path, netns, test_guest_elf):
    # 10 frames at once (the full bucket), then 10 frames per second.
    rl = {"ops": {"size": 10, "refill_time": 1000}}
    n = 30
    cap = start_capture(netns, n, 60)
    cfg = net_config(tmp_path, f"tests=net net_tx={n} net_wait_ms=100", tx_rl=rl)
    proc = start_flint(netns, cfg)
    out, err = finish(proc, timeout=90)
    frames = captured(cap)
    assert proc.returncode == 0, err[-2000:]
    assert "TEST net PASS" in out, out
    assert len(frames) == n
    times = [t for t, _ in frames]
    # After the initial burst, n - 10 frames need at least (n - 10) / 10 s.
    span = times[-1] - times[0]
    assert span >= (n - 10) / 10 * 0.9, span
    assert span < (n - 10) / 10 * 2 + 2, span  # and the limiter does let them through
    late = [t for t in times if t >= times[0] + 1.0]
    rate = (len(late) - 1) / (late[-1] - late[0])
    assert rate <= 10 * 1.2, rate


def test_rx_rate_limit_bounds_delivery(tmp_path, netns, test_guest_elf):
    # 2 frames in the bucket, then 4 per second: 10 frames need about 2 s.
    rl = {"ops": {"size": 2, "refill_time": 500}}
    cfg = net_config(tmp_path, "tests=net net_tx=0 net_rx=10 net_wait_ms=30000", rx_rl=rl)
    proc = start_flint(netns, cfg)
    m, text = wait_line(proc, r"net: mac=", 30)
    assert m, text
    t0 = time.monotonic()
    netns.run(sys.executable, "-c", SEND, TAP, *[host_frame(i).hex() for i in range(10)])
    m, text2 = wait_line(proc, r"net: rx 10 frames", 60)
    took = time.monotonic() - t0
    out, err = finish(proc)
    assert m, text + text2 + out
    assert proc.returncode == 0, err[-2000:]
    rx = guest_rx_lines(text + text2)
    assert [p for *_, p in rx] == [f"FLINT-HOST-FRAME {i}" for i in range(10)]
    assert took >= 8 / 4 * 0.9, took


def test_missing_tap_is_a_clear_error(tmp_path, netns, test_guest_elf):
    cfg = net_config(tmp_path, "tests=net", tap="nosuchtap7")
    proc = start_flint(netns, cfg)
    out, err = finish(proc)
    assert proc.returncode != 0
    assert "nosuchtap7" in err and "eth0" in err, err
    # flint must not have created it either
    assert netns.run("ip", "link", "show", "nosuchtap7", check=False).returncode != 0


def ping_once(ns, addr, timeout=2.0):
    """One ICMP echo from inside the namespace (Python raw socket)."""
    script = r"""
import socket, struct, sys, time
addr, timeout = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(timeout)
def csum(b):
    if len(b) % 2:
        b += b"\0"
    v = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    v = (v >> 16) + (v & 0xffff)
    v += v >> 16
    return ~v & 0xffff
payload = b"flint-ping"
hdr = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1)
pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), 0x1234, 1) + payload
s.sendto(pkt, (addr, 0))
end = time.monotonic() + timeout
while time.monotonic() < end:
    try:
        data, src = s.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (data[0] & 15) * 4
    if src[0] == addr and data[ihl] == 0 and data[ihl + 4:ihl + 6] == b"\x12\x34":
        print("reply")
        break
"""
    r = ns.run(sys.executable, "-c", script, addr, str(timeout), check=False)
    return "reply" in r.stdout


def test_linux_configures_eth0_and_answers_arp_and_ping(tmp_path, netns):
    """The one Linux boot of the net suite: the kernel probes virtio-net,
    configures eth0 from ip=, and answers ARP and ping from the tap side
    while it waits in rootdelay (kernel mode only: fine on this host)."""
    vmlinux = guest_kit("vmlinux")
    netns.run("ip", "addr", "add", "192.168.249.1/24", "dev", TAP)
    args = (f"console=ttyS0 reboot=k panic=1 pci=off {host_boot_args()} root=/dev/vda "
            "rootdelay=30 ip=192.168.249.2::192.168.249.1:255.255.255.0::eth0:off")
    cfg = net_config(tmp_path, args, kernel=vmlinux)
    proc = start_flint(netns, cfg)
    try:
        # ~15 s on an idle host; minutes when the 2 CPUs are shared with other boots
        m, text = wait_line(proc, r"IP-Config: Complete:[^\n]*\n[^\n]*\n", 480)
        assert m, text[-3000:]
        assert f"hwaddr={GUEST_MAC}" in text and "ipaddr=192.168.249.2" in text, text[-2000:]
        assert "device=eth0" in text
        # the kernel's probe of the command-line device, then the driver bound to it
        assert re.search(r"virtio-mmio: Registering device virtio-mmio\.0 at 0x[0-9a-f]+-", text), \
            text[-3000:]
        replies = [ping_once(netns, "192.168.249.2", 3.0) for _ in range(3)]
        assert sum(replies) >= 2, (replies, text[-2000:])
        neigh = netns.run("ip", "neigh", "show", "192.168.249.2", "dev", TAP).stdout
        assert GUEST_MAC in neigh, neigh  # the guest answered ARP
    finally:
        proc.kill()
        finish(proc)
