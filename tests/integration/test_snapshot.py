"""Snapshot and restore through the API, with the test guest's counter test
(tests/guest/counter.c): a guest is paused, snapshotted, killed and restored
in a new flint process, and must go on where it stopped."""
import hashlib
import os
import re
import shutil
import struct
import subprocess
import time

import pytest

from apiclient import FLINT, Flint, POST_BOOT_MSG, TEST_GUEST
from test_machine import hugepages  # noqa: F401 (a fixture)

COUNTER_RE = re.compile(r"counter: n=(\d+) tsc=(\d+)"
                        r"(?: prev=([0-9a-f]+) sum=([0-9a-f]+) sector=(\d+))?")
SECTOR = 512


class Tick:
    def __init__(self, m):
        self.n = int(m.group(1))
        self.tsc = int(m.group(2))
        self.prev = m.group(3)
        self.sum = m.group(4)
        self.sector = int(m.group(5)) if m.group(5) else None

    def key(self):
        return (self.n, self.prev, self.sum, self.sector)


def ticks_of(lines):
    out = []
    for line in lines:
        m = COUNTER_RE.search(line)
        if m:
            out.append(Tick(m))
    return out


def ticks(vm):
    return ticks_of(vm.serial())


def wait_ticks(vm, count, timeout=30):
    """Wait until vm printed at least count counter lines; returns them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = ticks(vm)
        if len(t) >= count:
            return t
        assert vm.alive(), vm.stderr()[-2000:]
        time.sleep(0.02)
    raise AssertionError(f"only {len(ticks(vm))} counter lines: {vm.serial()[-10:]} "
                         f"stderr={vm.stderr()[-2000:]}")


def host_sector(n):
    """The disk pattern (tests/guest/README.md): n as u64, then (n + i) & 0xff."""
    return struct.pack("<Q", n) + bytes((n + i) & 0xff for i in range(8, SECTOR))


def fnv(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return "%x" % h


def make_disk(path, sectors=128):
    with open(path, "wb") as f:
        for n in range(sectors):
            f.write(host_sector(n))
    return path


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def boot_counter(vm, tmp_path, disk=True, track=False, mem_mib=128, extra_args="",
                 entropy=True):
    a = vm.api
    args = "tests=counter counter_ms=20" + (" counter_blk=1" if disk else "") + extra_args
    r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST, "boot_args": args})
    assert r.status == 204, r
    r = a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": mem_mib,
                                  "track_dirty_pages": track})
    assert r.status == 204, r
    if disk:
        img = make_disk(os.path.join(str(tmp_path), "disk.img"))
        r = a.put("/drives/scratch", {"drive_id": "scratch", "path_on_host": img,
                                      "is_root_device": False, "is_read_only": False})
        assert r.status == 204, r
    if entropy:
        assert a.put("/entropy", {}).status == 204
    r = a.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 204, r


def pause(vm):
    r = vm.api.patch("/vm", {"state": "Paused"})
    assert r.status == 204, r
    # what the guest wrote before it stopped is in the pipe: let the
    # serial reader thread take it
    time.sleep(0.2)


def create(vm, state, mem, kind="Full"):
    r = vm.api.put("/snapshot/create", {"snapshot_type": kind, "snapshot_path": str(state),
                                        "mem_file_path": str(mem)})
    assert r.status == 204, r
    return r


def load(vm, state, mem, resume=True, backend="File", **extra):
    body = {"snapshot_path": str(state),
            "mem_backend": {"backend_type": backend, "backend_path": str(mem)},
            "resume_vm": resume}
    body.update(extra)
    return vm.api.put("/snapshot/load", body)


def workdir(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return d


def snapshot_of_counter(tmp_path, disk=False, track=False, min_ticks=5):
    """Boot a counter guest, pause it, take a Full snapshot, kill it.
    Returns (state, mem, its serial lines)."""
    vm = Flint(workdir(tmp_path, "origin"))
    try:
        boot_counter(vm, tmp_path, disk=disk, track=track)
        wait_ticks(vm, min_ticks)
        pause(vm)
        state, mem = tmp_path / "snap.state", tmp_path / "snap.mem"
        create(vm, state, mem)
    finally:
        vm.kill()
    return state, mem, vm.serial()


def assert_continues(before, vm, disk, count=5):
    """The restored vm's console goes on from the serial lines `before` of
    the guest it was snapshotted from. The pause may have come in the middle
    of a line: the restored guest then starts with the rest of it. Returns
    the restored guest's ticks."""
    wait_ticks(vm, count)
    lines = vm.serial()
    if lines and not lines[0].startswith("counter:"):
        before = before[:-1] + [before[-1] + lines[0]]
        lines = lines[1:]
        after = ticks_of(before[-1:]) + ticks_of(lines)
        before = ticks_of(before[:-1])
    else:
        before, after = ticks_of(before), ticks_of(lines)
    last, first = before[-1], after[0]
    assert first.n == last.n + 1, (last.n, first.n)
    assert first.tsc > last.tsc, "the guest's clock went backwards"
    for a, b in zip(after, after[1:]):
        assert b.n == a.n + 1 and b.tsc > a.tsc
    if disk:
        # The buffer the device filled before the snapshot came back, and
        # the disk still reads right.
        assert first.prev == last.sum
        for t in after:
            assert t.sum == fnv(host_sector(t.sector)), t.key()
    return after


def test_restored_guest_continues_in_a_new_process(tmp_path):
    vm = Flint(workdir(tmp_path, "a"))
    try:
        boot_counter(vm, tmp_path, disk=True)
        wait_ticks(vm, 10)
        pause(vm)
        n_paused = ticks(vm)[-1].n
        time.sleep(0.2)
        assert ticks(vm)[-1].n == n_paused, "the guest ran while paused"
        state, mem = tmp_path / "a.state", tmp_path / "a.mem"
        create(vm, state, mem)
    finally:
        vm.kill()
    before = vm.serial()
    assert os.path.getsize(mem) == 128 << 20

    vm2 = Flint(workdir(tmp_path, "b"))
    try:
        r = load(vm2, state, mem)
        assert r.status == 204, r
        assert_continues(before, vm2, disk=True, count=10)
        assert not any("blk read failed" in l for l in vm2.serial())
        info = vm2.api.get("/").json
        assert info["state"] == "Running"
    finally:
        vm2.kill()


def test_load_paused_then_resume(tmp_path):
    state, mem, before = snapshot_of_counter(tmp_path)
    vm = Flint(workdir(tmp_path, "b"))
    try:
        r = load(vm, state, mem, resume=False)
        assert r.status == 204, r
        assert vm.api.get("/").json["state"] == "Paused"
        time.sleep(0.3)
        assert ticks(vm) == []
        assert vm.api.patch("/vm", {"state": "Resumed"}).status == 204
        assert_continues(before, vm, disk=False, count=3)
    finally:
        vm.kill()


def test_describe_snapshot(tmp_path):
    state, _, _ = snapshot_of_counter(tmp_path)
    p = subprocess.run([FLINT, "--describe-snapshot", str(state)], capture_output=True,
                       text=True, timeout=10)
    if "not yet supported" in p.stderr:
        pytest.skip("--describe-snapshot is not wired into vmm/main.c in this build")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "v1.1.0"
    p = subprocess.run([FLINT, "--describe-snapshot", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "cannot open" in p.stderr


def data_extents(path):
    """(offset, length) of every data extent of a sparse file."""
    out = []
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        off = 0
        while off < size:
            try:
                start = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start, end - start))
            off = end
    return out


def apply_diff(base, diff, out):
    """Firecracker's way to use a diff: its data extents over a copy of the base."""
    shutil.copyfile(base, out)
    with open(diff, "rb") as d, open(out, "r+b") as o:
        for off, length in data_extents(diff):
            d.seek(off)
            o.seek(off)
            o.write(d.read(length))


def test_diff_snapshot_on_a_full_one_runs_identically(tmp_path):
    vm = Flint(workdir(tmp_path, "a"))
    try:
        boot_counter(vm, tmp_path, disk=True, track=True)
        wait_ticks(vm, 5)
        pause(vm)
        create(vm, tmp_path / "base.state", tmp_path / "base.mem")
        base_n = ticks(vm)[-1].n
        assert vm.api.patch("/vm", {"state": "Resumed"}).status == 204
        # Both the vCPU (counter, stack) and the device (each tick's disk
        # read lands in a page only the device writes) change memory.
        wait_ticks(vm, base_n + 1 + 20)
        pause(vm)
        create(vm, tmp_path / "diff.state", tmp_path / "diff.mem", kind="Diff")
        create(vm, tmp_path / "full.state", tmp_path / "full.mem")
    finally:
        vm.kill()
    before = vm.serial()
    size = os.path.getsize(tmp_path / "full.mem")
    assert os.path.getsize(tmp_path / "diff.mem") == size
    written = sum(length for _, length in data_extents(tmp_path / "diff.mem"))
    assert 0 < written < size // 8, f"diff holds {written} of {size} bytes"
    merged = tmp_path / "merged.mem"
    apply_diff(tmp_path / "base.mem", tmp_path / "diff.mem", merged)
    # Every page written since the base, by the vCPU or a device, is in the diff.
    assert sha(merged) == sha(tmp_path / "full.mem")

    runs = []
    for name, state, mem in (("from-diff", "diff.state", merged),
                             ("from-full", "full.state", tmp_path / "full.mem")):
        r_vm = Flint(workdir(tmp_path, name))
        try:
            r = load(r_vm, tmp_path / state, mem)
            assert r.status == 204, r
            after = assert_continues(before, r_vm, disk=True, count=8)
            runs.append([t.key() for t in after[:8]])
        finally:
            r_vm.kill()
    assert runs[0] == runs[1]


def test_diff_needs_tracking_and_a_base(tmp_path):
    vm = Flint(workdir(tmp_path, "a"))
    try:
        boot_counter(vm, tmp_path, disk=False, track=False)
        wait_ticks(vm, 2)
        r = vm.api.put("/snapshot/create", {"snapshot_path": str(tmp_path / "s"),
                                            "mem_file_path": str(tmp_path / "m")})
        assert r.status == 400 and "not paused" in r.fault, r
        pause(vm)
        r = vm.api.put("/snapshot/create", {"snapshot_type": "Diff",
                                            "snapshot_path": str(tmp_path / "s"),
                                            "mem_file_path": str(tmp_path / "m")})
        assert r.status == 400 and "track_dirty_pages" in r.fault, r
    finally:
        vm.kill()
    vm = Flint(workdir(tmp_path, "b"))
    try:
        boot_counter(vm, tmp_path, disk=False, track=True)
        wait_ticks(vm, 2)
        pause(vm)
        r = vm.api.put("/snapshot/create", {"snapshot_type": "Diff",
                                            "snapshot_path": str(tmp_path / "s"),
                                            "mem_file_path": str(tmp_path / "m")})
        assert r.status == 400 and "needs a base" in r.fault, r
    finally:
        vm.kill()


def test_ten_clones_diverge_and_never_write_the_shared_file(tmp_path):
    state, mem, before = snapshot_of_counter(tmp_path)
    digest, mtime = sha(mem), os.stat(mem).st_mtime_ns
    clones = []
    try:
        for i in range(10):
            c = Flint(workdir(tmp_path, f"clone{i}"))
            clones.append(c)
            r = load(c, state, mem)
            assert r.status == 204, r
        for c in clones:  # all ten run at once
            assert_continues(before, c, disk=False, count=3)
        # Each clone goes its own way: stop them at different times and
        # snapshot each into its own file.
        outs = []
        for i, c in enumerate(clones):
            wait_ticks(c, 3 + 2 * i)
            pause(c)
            outs.append(tmp_path / f"clone{i}.mem")
            create(c, tmp_path / f"clone{i}.state", outs[-1])
        lasts = [ticks(c)[-1].n for c in clones]
        assert len(set(lasts)) > 1, lasts
        assert len({sha(o) for o in outs}) == 10, "clone memories did not diverge"
        # a clone may not overwrite the file it was loaded from
        r = clones[0].api.put("/snapshot/create", {"snapshot_path": str(tmp_path / "x"),
                                                   "mem_file_path": str(mem)})
        assert r.status == 400 and "never written" in r.fault, r
    finally:
        for c in clones:
            c.kill()
    assert sha(mem) == digest and os.stat(mem).st_mtime_ns == mtime


# CRC-64/XZ, to forge files whose only fault is the one a test wants.
def _crc64_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xC96C5795D7870F42 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _crc64_table()


def crc64(data):
    c = 0xFFFFFFFFFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


def with_crc(body):
    return body + struct.pack("<Q", crc64(body))


def section(body, want_type, want_index=0):
    """Offset of the data of section (type, index) in a state file."""
    off = 16
    for _ in range(struct.unpack_from("<I", body, 12)[0]):
        typ, idx, length, _ = struct.unpack_from("<IIII", body, off)
        if (typ, idx) == (want_type, want_index):
            return off + 16
        off += 16 + ((length + 7) & ~7)
    raise KeyError(want_type)


def patched(body, off, data):
    """The state file with data at off, and a CRC that matches."""
    return with_crc(body[:off] + data + body[off + len(data):])


# Section types and offsets of snapshot/state.h (x86-64 layouts).
SEC_VCPU, SEC_DEVICE, SEC_SERIAL_FIFO, SEC_I8042 = 4, 6, 7, 8
DEVICE_HDR = 88   # sizeof(struct snap_device_hdr)
MMIO_ISR = 20     # offsetof(struct virtio_mmio_state, isr)
VCPU_CR0 = 368    # offsetof(struct snap_vcpu, sregs.cr0)
VCPU_NMSRS = 6172  # offsetof(struct snap_vcpu, nmsrs)


def test_bad_state_and_memory_files_are_refused(tmp_path):
    state, mem, before = snapshot_of_counter(tmp_path, disk=True)
    good = state.read_bytes()
    body = good[:-8]
    bad = {
        "corrupt": (good[:len(good) // 2] + bytes([good[len(good) // 2] ^ 0x40]) +
                    good[len(good) // 2 + 1:], "CRC64"),
        "truncated": (good[:len(good) // 2], "CRC64"),
        "wrong-crc": (good[:-1] + bytes([good[-1] ^ 1]), "CRC64"),
        "wrong-version": (with_crc(body[:8] + struct.pack("<H", 2) + body[10:]),
                          "unsupported snapshot format version v2.1.0"),
        "newer-minor": (with_crc(body[:10] + struct.pack("<H", 7) + body[12:]),
                        "unsupported snapshot format version v1.7.0"),
        "wrong-magic": (b"NOTFLINT" + good[8:], "wrong magic"),
        "empty": (b"", "truncated"),
        "short-section": (with_crc(body[:-8]), "truncated"),
        "oversized": (good + bytes(17 << 20), "larger than"),
        # state that only the device's own checks, or KVM, can refuse
        "device-isr": (patched(body, section(body, SEC_DEVICE) + DEVICE_HDR + MMIO_ISR,
                               b"\xff"), "saved virtio state is invalid"),
        "vcpu-cr0": (patched(body, section(body, SEC_VCPU) + VCPU_CR0,
                             struct.pack("<Q", 0x80000000)), "KVM_SET_SREGS"),
        "vcpu-msrs": (patched(body, section(body, SEC_VCPU) + VCPU_NMSRS,
                              struct.pack("<I", 100000)), "too many MSRs"),
        # legacy device states (struct serial_fifo's len, struct i8042_state's len)
        "serial-fifo": (patched(body, section(body, SEC_SERIAL_FIFO), struct.pack("<I", 65)),
                        "serial port state is invalid"),
        "i8042-buffer": (patched(body, section(body, SEC_I8042) + 3, b"\x11"),
                         "i8042 state is invalid"),
    }
    short_mem = tmp_path / "short.mem"
    with open(mem, "rb") as src, open(short_mem, "wb") as dst:
        dst.write(src.read(os.path.getsize(mem) - 4096))
    vm = Flint(workdir(tmp_path, "b"))
    try:
        for name, (data, msg) in bad.items():
            p = tmp_path / f"{name}.state"
            p.write_bytes(data)
            r = load(vm, p, mem)
            assert r.status == 400 and msg in r.fault, (name, r)
            assert vm.alive()
            assert vm.api.get("/").json["state"] == "Not started", name
        r = load(vm, state, short_mem)
        assert r.status == 400 and "bytes, the snapshot's guest has" in r.fault, r
        r = load(vm, state, tmp_path / "missing.mem")
        assert r.status == 400 and "cannot open the memory file" in r.fault, r
        # Nothing was touched: the same process still loads the good one.
        r = load(vm, state, mem)
        assert r.status == 204, r
        assert_continues(before, vm, disk=False, count=3)
        # ... and only once.
        r = load(vm, state, mem)
        assert r.status == 400 and r.fault == POST_BOOT_MSG, r
    finally:
        vm.kill()


def test_load_only_in_a_fresh_process(tmp_path):
    state, mem, _ = snapshot_of_counter(tmp_path)
    vm = Flint(workdir(tmp_path, "b"))
    try:
        r = vm.api.put("/boot-source", {"kernel_image_path": TEST_GUEST})
        assert r.status == 204
        r = load(vm, state, mem)
        assert r.status == 400 and "fresh" in r.fault, r
    finally:
        vm.kill()


def build_uffd_handler(tmp_path):
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    out = tmp_path / "handler-build"
    subprocess.run(["make", "-s", "-C", os.path.join(root, "resources", "uffd-handler"),
                    f"BUILD={out}"], check=True, capture_output=True)
    return str(out / "uffd-handler")


def test_uffd_restore_with_the_example_handler(tmp_path):
    handler = build_uffd_handler(tmp_path)
    state, mem, before = snapshot_of_counter(tmp_path, disk=True)
    sock = tmp_path / "uffd.sock"
    herr = open(tmp_path / "handler.err", "w+")
    h = subprocess.Popen([handler, str(sock), str(mem)], stderr=herr)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        vm = Flint(workdir(tmp_path, "b"))
        try:
            r = load(vm, state, sock, backend="Uffd")
            assert r.status == 204, r
            assert_continues(before, vm, disk=True)
        finally:
            vm.kill()
        assert h.wait(timeout=10) == 0
    finally:
        if h.poll() is None:
            h.kill()
            h.wait()
    herr.seek(0)
    log = herr.read()
    served = int(re.search(r"served (\d+) pages", log).group(1))
    assert 0 < served < (128 << 20) // 4096, log


def test_uffd_without_a_handler_is_refused(tmp_path):
    state, _, _ = snapshot_of_counter(tmp_path)
    vm = Flint(workdir(tmp_path, "b"))
    try:
        r = load(vm, state, tmp_path / "nobody.sock", backend="Uffd")
        assert r.status == 400 and "page-fault handler" in r.fault, r
        assert vm.api.get("/").json["state"] == "Not started"
    finally:
        vm.kill()


def netns(*cmd):
    return subprocess.run(["ip", "netns"] + list(cmd), check=True, capture_output=True)


def tap_add(ns, name):
    netns("exec", ns, "ip", "tuntap", "add", "dev", name, "mode", "tap")
    # up, so that one no process holds shows NO-CARRIER
    netns("exec", ns, "ip", "link", "set", name, "up")


def tap_attached(ns, name):
    out = subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "show", name],
                         capture_output=True, text=True).stdout
    return "NO-CARRIER" not in out


@pytest.mark.skipif(os.geteuid() != 0, reason="taps need root")
def test_network_and_vsock_devices_restore_with_overrides(tmp_path):
    # The taps live in a network namespace of the test's own; flint runs there.
    ns = "flint-snap-%x" % (os.getpid() & 0xffffff)
    inside = ["ip", "netns", "exec", ns]
    tap_a, tap_b = "flsna", "flsnb"
    netns("add", ns)
    try:
        tap_add(ns, tap_a)
        tap_add(ns, tap_b)
        vm = Flint(workdir(tmp_path, "a"), prefix=inside)
        try:
            a = vm.api
            assert a.put("/network-interfaces/eth0", {"iface_id": "eth0",
                                                      "host_dev_name": tap_a}).status == 204
            assert a.put("/vsock", {"guest_cid": 3,
                                    "uds_path": str(tmp_path / "v.sock")}).status == 204
            boot_counter(vm, tmp_path, disk=True)
            wait_ticks(vm, 5)
            pause(vm)
            create(vm, tmp_path / "n.state", tmp_path / "n.mem")
        finally:
            vm.kill()
        before = vm.serial()
        vm = Flint(workdir(tmp_path, "bad"), prefix=inside)
        try:
            r = load(vm, tmp_path / "n.state", tmp_path / "n.mem",
                     network_overrides=[{"iface_id": "eth9", "host_dev_name": tap_b}])
            assert r.status == 400 and "eth9" in r.fault, r
        finally:
            vm.kill()
        vm = Flint(workdir(tmp_path, "b"), prefix=inside)
        try:
            r = load(vm, tmp_path / "n.state", tmp_path / "n.mem",
                     network_overrides=[{"iface_id": "eth0", "host_dev_name": tap_b}],
                     vsock_override={"uds_path": str(tmp_path / "v2.sock")})
            assert r.status == 204, r
            assert_continues(before, vm, disk=True)
            assert tap_attached(ns, tap_b) and not tap_attached(ns, tap_a)
            assert os.path.exists(tmp_path / "v2.sock")
            cfg = vm.api.get("/vm/config").json
            assert cfg["network-interfaces"][0]["host_dev_name"] == tap_b
        finally:
            vm.kill()
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_large_guest_with_several_vcpus_split_around_the_hole(tmp_path):
    """4 GiB of RAM is split around the 3-4 GiB MMIO hole (the second part
    at 4 GiB); three vCPUs, two of them halted APs. Pages the guest signed in
    both parts before the snapshot read back right after the restore."""
    vm = Flint(workdir(tmp_path, "a"))
    try:
        a = vm.api
        r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST, "boot_args":
                                   "tests=smp,counter counter_ms=20 counter_high=1"})
        assert r.status == 204, r
        r = a.put("/machine-config", {"vcpu_count": 3, "mem_size_mib": 4096})
        assert r.status == 204, r
        assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
        wait_ticks(vm, 4, timeout=60)
        pause(vm)
        create(vm, tmp_path / "big.state", tmp_path / "big.mem")
    finally:
        vm.kill()
    before = vm.serial()
    assert any("smp: 3 cpus up" in l for l in before), before[:20]
    assert any("0x100000000+0x40000000:1" in l for l in before if "guest: mem:" in l)
    # first, middle and last page of both RAM regions the guest signs
    assert all("high=ok 6" in l for l in before if l.startswith("counter: n=")), before[-3:]
    assert os.path.getsize(tmp_path / "big.mem") == 4 << 30
    vm = Flint(workdir(tmp_path, "b"))
    try:
        r = load(vm, tmp_path / "big.state", tmp_path / "big.mem")
        assert r.status == 204, r
        assert_continues(before, vm, disk=False, count=5)
        after = vm.serial()
        assert vm.api.get("/vm/config").json["machine-config"]["vcpu_count"] == 3
    finally:
        vm.kill()
    assert not any("EXCEPTION" in l or "high=bad" in l for l in after), after
    assert sum("high=ok 6" in l for l in after) >= 4, after


def unclaimed_hugepages():
    """Huge pages neither in use nor reserved by a mapping."""
    m = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":")
        m[k] = int(v.split()[0])
    return m["HugePages_Free"] - m["HugePages_Rsvd"]


def test_hugetlbfs_guest_restores_through_uffd_only(tmp_path, hugepages):
    """As Firecracker documents for huge pages: a hugetlbfs-backed guest's
    snapshot loads only with the Uffd backend, whose handler is told the
    2 MiB page size and serves whole huge pages; the File backend is
    refused with a clear error."""
    if hugepages(80) < 64:
        pytest.skip("the host could not reserve 64 huge pages")
    handler = build_uffd_handler(tmp_path)
    vm = Flint(workdir(tmp_path, "a"))
    try:
        a = vm.api
        r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST,
                                   "boot_args": "tests=counter counter_ms=20 counter_high=1"})
        assert r.status == 204, r
        r = a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                      "huge_pages": "2M"})
        assert r.status == 204, r
        assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
        wait_ticks(vm, 4)
        assert unclaimed_hugepages() <= 80 - 64
        pause(vm)
        create(vm, tmp_path / "h.state", tmp_path / "h.mem")
    finally:
        vm.kill()
    before = vm.serial()
    free = unclaimed_hugepages()
    vm = Flint(workdir(tmp_path, "file"))
    try:
        r = load(vm, tmp_path / "h.state", tmp_path / "h.mem")
        assert r.status == 400 and "only be loaded with the Uffd" in r.fault, r
    finally:
        vm.kill()
    sock = tmp_path / "uffd.sock"
    herr = open(tmp_path / "handler.err", "w+")
    h = subprocess.Popen([handler, str(sock), str(tmp_path / "h.mem")], stderr=herr)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        vm = Flint(workdir(tmp_path, "b"))
        try:
            r = load(vm, tmp_path / "h.state", sock, backend="Uffd")
            assert r.status == 204, r
            assert_continues(before, vm, disk=False)
            assert unclaimed_hugepages() <= free - 64  # the restored guest's RAM is huge pages
            after = vm.serial()
        finally:
            vm.kill()
        assert h.wait(timeout=10) == 0
    finally:
        if h.poll() is None:
            h.kill()
            h.wait()
    assert all("high=ok" in l for l in after if l.startswith("counter: n=")), after
    herr.seek(0)
    log = herr.read()
    # whole 2 MiB pages: 128 MiB are at most 64 of them (the guest's image
    # alone is hundreds of 4 KiB pages)
    served = int(re.search(r"served (\d+) pages", log).group(1))
    assert 0 < served <= 64, log
