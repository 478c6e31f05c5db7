"""virtio-blk with the test guest: data really reaches the image file and
comes back, read-only drives refuse writes, flush works, several drives at
once, and hostile rings leave flint and the other devices working."""
import ctypes
import mmap
import os
import struct

import pytest

from conftest import run_test_guest

SECTOR = 512
# Every data-path test runs with both io_engine values: Sync (preadv/pwritev
# on the VMM thread) and Async (io_uring, requests completed from the ring).
ENGINES = pytest.mark.parametrize("engine", ["Sync", "Async"])


def sector_pattern(n):
    """Sector n of the host pattern the test guest checks (tests/guest/README.md)."""
    return struct.pack("<Q", n) + bytes((n + i) & 0xFF for i in range(8, SECTOR))


def host_pattern_image(path, sectors=2048):
    with open(path, "wb") as f:
        for n in range(sectors):
            f.write(sector_pattern(n))
    return str(path)


def guest_pattern(n):
    return b"FLINTGST" + bytes(((n & 0xFF) + i) & 0xFF ^ 0xA5 for i in range(8, SECTOR))


def sector(path, n):
    with open(path, "rb") as f:
        f.seek(n * SECTOR)
        return f.read(SECTOR)


def drive(drive_id, path, root=False, ro=False, **kw):
    d = {"drive_id": drive_id, "path_on_host": path, "is_root_device": root,
         "is_read_only": ro}
    d.update(kw)
    return d


@ENGINES
def test_guest_writes_reach_the_file_and_host_data_reads_back(tmp_path, engine):
    img = host_pattern_image(tmp_path / "disk.img")
    before = open(img, "rb").read()
    run = run_test_guest(tmp_path, "tests=blk",
                         extra={"drives": [drive("rootfs", img, root=True, io_engine=engine)]})
    assert "TEST blk PASS" in run.stdout, run.stdout
    assert "blk: host pattern ok" in run.stdout
    assert "blk: get_id status=0 id=rootfs" in run.stdout
    assert "blk: read past end status=1" in run.stdout
    # The guest's writes are in the file at the right offsets, including
    # the last sector; every other sector is untouched.
    assert sector(img, 1) == guest_pattern(1)
    assert sector(img, 2047) == guest_pattern(2047)
    after = open(img, "rb").read()
    changed = {i // SECTOR for i in range(0, len(after), SECTOR)
               if after[i:i + SECTOR] != before[i:i + SECTOR]}
    assert changed == {1, 2047}
    assert run.returncode == 0
    assert ("io_engine Async (io_uring" in run.stderr) == (engine == "Async"), run.stderr


@ENGINES
def test_read_only_drive_refuses_writes(tmp_path, engine):
    img = host_pattern_image(tmp_path / "ro.img")
    before = open(img, "rb").read()
    run = run_test_guest(tmp_path, "tests=blk blk_ro=1",
                         extra={"drives": [drive("ro", img, ro=True, io_engine=engine)]})
    assert "TEST blk PASS" in run.stdout, run.stdout
    assert "ro=1" in run.stdout
    assert "refused with IOERR" in run.stdout
    assert open(img, "rb").read() == before


@ENGINES
def test_writeback_drive_offers_flush(tmp_path, engine):
    img = host_pattern_image(tmp_path / "wb.img")
    run = run_test_guest(tmp_path, "tests=blk",
                         extra={"drives": [drive("wb", img, cache_type="Writeback",
                                                 io_engine=engine)]})
    assert "TEST blk PASS" in run.stdout, run.stdout
    assert "blk: flush status=0" in run.stdout
    assert sector(img, 1) == guest_pattern(1)


def test_unsafe_drive_does_not_offer_flush(tmp_path):
    img = host_pattern_image(tmp_path / "unsafe.img")
    run = run_test_guest(tmp_path, "tests=blk", extra={"drives": [drive("u", img)]})
    assert "blk: flush not offered" in run.stdout


def test_several_drives_at_once(tmp_path):
    imgs = [host_pattern_image(tmp_path / f"d{i}.img", sectors=64 * (i + 1)) for i in range(3)]
    drives = [drive(f"d{i}", p, root=(i == 1)) for i, p in enumerate(imgs)]
    # The root drive comes first (/dev/vda); the third configured drive is
    # the third on the command line.
    run = run_test_guest(tmp_path, "tests=blk blk_dev=2", extra={"drives": drives})
    assert "TEST blk PASS" in run.stdout, run.stdout
    assert f"blk: capacity={64 * 3} sectors" in run.stdout
    assert sector(imgs[2], 1) == guest_pattern(1)
    # The other drives were not written.
    for other in imgs[:2]:
        assert sector(other, 1)[:8] == struct.pack("<Q", 1)
    assert run.stdout.count("virtio_mmio.device=4K@") >= 3


@ENGINES
def test_hostile_rings_leave_flint_and_other_devices_working(tmp_path, engine):
    img = host_pattern_image(tmp_path / "h.img")
    run = run_test_guest(tmp_path, "tests=hostile,rng,blk", timeout=120,
                         extra={"drives": [drive("h", img, io_engine=engine)],
                                "entropy": {}})
    cases = [l for l in run.stdout.splitlines() if l.startswith("hostile: case=")
             and "after_reset=" in l]
    assert len(cases) >= 11, run.stdout
    assert all(l.endswith("after_reset=alive") for l in cases), cases
    assert "TEST hostile PASS" in run.stdout
    # The other device, and the same device after reset, still work.
    assert "TEST rng PASS" in run.stdout
    assert "TEST blk PASS" in run.stdout
    assert run.returncode == 0
    assert "Sanitizer" not in run.stderr


@ENGINES
def test_many_requests_in_flight_land_at_their_offsets(tmp_path, engine):
    # The benchmark mode keeps 16 writes in flight; each 4 KiB request
    # carries its sector number in its first 8 bytes.
    img = host_pattern_image(tmp_path / "bench.img", sectors=4096)
    run = run_test_guest(tmp_path, "tests=blk blk_bench=seqwrite,randread blk_bench_mib=1 "
                         "blk_bench_kib=4 blk_bench_qd=16 blk_bench_ios=300",
                         extra={"drives": [drive("b", img, io_engine=engine)]})
    assert "TEST blk PASS" in run.stdout, run.stdout
    assert "blkbench: done seqwrite requests=256 bytes=1048576" in run.stdout
    assert "blkbench: done randread requests=300 bytes=1228800" in run.stdout
    with open(img, "rb") as f:
        data = f.read()
    for req in range(256):
        assert struct.unpack_from("<Q", data, req * 4096)[0] == req * 8, req
    # Past the 1 MiB written, the host pattern is untouched.
    assert sector(img, 2048) == sector_pattern(2048)


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDWR)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident_pages(path):
    """How many of the file's pages are in the host page cache (mincore)."""
    size = os.path.getsize(path)
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), size, flags=mmap.MAP_PRIVATE,
                      prot=mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            buf = ctypes.c_char.from_buffer(m)
            vec = (ctypes.c_ubyte * pages)()
            rc = libc.mincore(ctypes.c_void_p(ctypes.addressof(buf)), ctypes.c_size_t(size), vec)
            del buf
            assert rc == 0, os.strerror(ctypes.get_errno())
            return sum(v & 1 for v in vec)
        finally:
            m.close()


@ENGINES
def test_reads_of_an_uncached_image_complete(tmp_path, engine):
    # Served from the host's disk, a read completes after the submit (for
    # io_uring: from task work, not inside io_uring_enter), the path a
    # page-cache image never takes.
    img = host_pattern_image(tmp_path / "cold.img", sectors=4096)
    drop_from_page_cache(img)
    if resident_pages(img) != 0:
        pytest.skip("the image's file system keeps it in memory (tmpfs?): reads cannot go "
                    "to a disk")
    run = run_test_guest(tmp_path, "tests=blk blk_bench=randread blk_bench_ios=500 "
                         "blk_bench_qd=8",
                         extra={"drives": [drive("cold", img, io_engine=engine)]})
    assert "TEST blk PASS" in run.stdout, run.stdout
    assert "blkbench: done randread requests=500 bytes=2048000" in run.stdout
    assert resident_pages(img) > 0  # the guest's reads really went to the file


def test_drive_file_missing_is_a_clear_error(tmp_path):
    run = run_test_guest(tmp_path, "tests=blk",
                         extra={"drives": [drive("gone", str(tmp_path / "absent.img"))]})
    assert run.returncode == 152
    assert "absent.img" in run.stderr


def test_entropy_bytes_arrive(tmp_path):
    run = run_test_guest(tmp_path, "tests=rng", extra={"entropy": {}})
    assert "TEST rng PASS" in run.stdout, run.stdout
