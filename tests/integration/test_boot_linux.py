"""Real Linux guests under flint, checked from the guest kernel's own
report on the serial console. On a kvm_pvm host a stock kernel runs in
kernel mode only (HOST.md): the kernel-mode milestones are asserted there,
and the user-space checks run where the host can run them. Each boot costs
seconds here, so the assertions share few boots."""
import gzip
import os
import re
import subprocess

import pytest

from conftest import (FLINT, PVM_HOST, USER_SPACE_KERNEL, USER_SPACE_OK, USER_SPACE_SKIP,
                      boot_config, guest_kit, host_boot_args, run_config)

BASE_ARGS = "console=ttyS0 reboot=k panic=1 pci=off"
# Generous: a boot here is 30-60 s on a quiet host, several times that on a
# busy one, and a deadline that trips on load says nothing about flint.
TIMEOUT = 600


def kernel(name="vmlinux"):
    if name == "vmlinux" and USER_SPACE_KERNEL:
        return USER_SPACE_KERNEL
    return guest_kit(name)


def tiny_initrd(tmp_path):
    """A gzip'd newc cpio holding one small file. The guest kit's initramfs
    takes minutes to unpack in this host's emulator; this one proves flint
    placed an initrd the kernel finds, in a second."""
    body = b"flint initrd\n"

    def entry(name, data, mode):
        name_b = name.encode() + b"\0"
        hdr = ("070701" + "%08x" * 13) % (1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0,
                                          len(name_b), 0)
        out = hdr.encode() + name_b
        out += b"\0" * (-len(out) % 4) + data
        return out + b"\0" * (-len(out) % 4)

    archive = entry("hello.txt", body, 0o100644) + entry("TRAILER!!!", b"", 0)
    path = tmp_path / "tiny.cpio.gz"
    path.write_bytes(gzip.compress(archive))
    return str(path)


def boot_linux(tmp_path, kernel_path, mem_mib=128, vcpus=1, root=True, initrd=None,
               args="", extra_args=(), timeout=TIMEOUT):
    """Boot Linux with the guest kit's rootfs.ext4 as a read-only root drive
    (the kit's initramfs unpacks too slowly here; see resources/README.md)."""
    boot_args = f"{BASE_ARGS} {host_boot_args()} {args}".strip()
    extra = None
    if root:
        extra = {"drives": [{"drive_id": "rootfs", "path_on_host": guest_kit("rootfs.ext4"),
                             "is_root_device": True, "is_read_only": True}]}
    cfg = boot_config(tmp_path, kernel_path, boot_args, vcpus, mem_mib, initrd=initrd,
                      extra=extra)
    return run_config(tmp_path, cfg, timeout, extra_args)


def e820_usable(console):
    return [(int(a, 16), int(b, 16)) for a, b in
            re.findall(r"BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] usable", console)]


def memory_total_kib(console):
    m = re.search(r"Memory: \d+K/(\d+)K available", console)
    assert m, "no 'Memory:' line on the console"
    return int(m.group(1))


def assert_reached_init(run):
    assert "Linux version" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    assert re.search(r"Run /(s?bin/)?init as init process", run.stdout), run.stdout[-3000:]
    assert "virtio_blk virtio0: [vda]" in run.stdout
    assert re.search(r"EXT4-fs \(vda\): mounted filesystem", run.stdout), run.stdout[-3000:]
    if USER_SPACE_OK:
        assert "flint-init: command exited with status 0" in run.stdout, run.stdout[-3000:]
    # The guest ends by rebooting (init's reboot, or panic=1 when user space
    # cannot start): flint's documented status for a guest reboot is 0.
    assert run.returncode == 0, run.stderr[-2000:]


def test_vmlinux_pvh_128m(tmp_path):
    run = boot_linux(tmp_path, kernel(), args="-- uname -a")
    assert_reached_init(run)
    usable = e820_usable(run.stdout)
    assert usable and usable[-1][1] == 128 * 2**20 - 1, usable
    assert 120 * 1024 < memory_total_kib(run.stdout) <= 128 * 1024
    assert re.search(r"Brought up 1 node, 1 CPU", run.stdout), run.stdout[-3000:]
    if USER_SPACE_OK:
        assert re.search(r"^Linux \S+ 6\.1", run.stdout, re.M)


def test_bzimage_linux_boot_protocol_1g_with_initrd(tmp_path):
    run = boot_linux(tmp_path, kernel("bzImage"), mem_mib=1024, initrd=tiny_initrd(tmp_path))
    assert_reached_init(run)
    # The kernel found flint's initrd and unpacked it.
    assert re.search(r"Freeing initrd memory: \d+K", run.stdout), run.stdout[-3000:]
    assert "RAMDISK: [mem" in run.stdout
    usable = e820_usable(run.stdout)
    assert usable[-1][1] == 2**30 - 1, usable
    assert 1000 * 1024 < memory_total_kib(run.stdout) <= 1024 * 1024


def test_vmlinux_64bit_boot_protocol_above_4g(tmp_path):
    # 3 GiB below the 32-bit MMIO hole and 128 MiB above 4 GiB: the smallest
    # guest that needs the split. The emulated kernel spends about 40 s per
    # GiB initialising its page structures on this host (HOST.md), so the
    # size is kept to what the test needs, with a longer deadline.
    run = boot_linux(tmp_path, kernel(), mem_mib=3 * 1024 + 128,
                     extra_args=["--boot-protocol", "linux"], timeout=2 * TIMEOUT)
    assert_reached_init(run)
    usable = e820_usable(run.stdout)
    assert (0x100000000, 0x107ffffff) in usable, usable
    assert any(lo < 0xc0000000 and hi == 0xbfffffff for lo, hi in usable), usable
    assert 3100 * 1024 < memory_total_kib(run.stdout) <= (3 * 1024 + 128) * 1024


def test_kernel_panic_ends_flint_with_status_0(tmp_path):
    # No initrd and no disk: the kernel cannot mount its root and panics;
    # panic=1 reboots, reboot=k resets through the i8042, flint exits 0.
    run = boot_linux(tmp_path, kernel(), root=False, args="root=/dev/vda")
    assert "Kernel panic" in run.stdout, run.stdout[-3000:]
    assert "Unable to mount root fs" in run.stdout
    assert run.returncode == 0
    assert "reset through the i8042" in run.stderr


@pytest.mark.skipif(PVM_HOST and not USER_SPACE_KERNEL,
                    reason="a stock kernel stalls in SMP bring-up on this kvm_pvm host "
                           "(HOST.md); SMP is proved by the test guest here")
@pytest.mark.parametrize("vcpus", [2, 4])
def test_linux_smp(tmp_path, vcpus):
    run = boot_linux(tmp_path, kernel(), vcpus=vcpus,
                     args="-- grep -c ^processor /proc/cpuinfo")
    assert_reached_init(run)
    assert re.search(rf"Brought up 1 node, {vcpus} CPUs", run.stdout)
    assert re.search(rf"^{vcpus}\s*$", run.stdout, re.M)


@pytest.mark.skipif(not USER_SPACE_OK, reason=USER_SPACE_SKIP)
def test_meminfo_from_user_space(tmp_path):
    run = boot_linux(tmp_path, kernel(), mem_mib=256, args="-- cat /proc/meminfo")
    assert_reached_init(run)
    m = re.search(r"MemTotal:\s+(\d+) kB", run.stdout)
    assert m and 230 * 1024 < int(m.group(1)) <= 256 * 1024


@pytest.mark.skipif(not USER_SPACE_OK, reason=USER_SPACE_SKIP)
def test_serial_input_reaches_guest_shell(tmp_path):
    boot_args = f"{BASE_ARGS} {host_boot_args()}"
    cfg = boot_config(tmp_path, kernel(), boot_args, initrd=guest_kit("initramfs.cpio.gz"))
    p = subprocess.Popen([FLINT, "--no-api", "--config-file", cfg], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, _ = p.communicate("echo flint-$((6*7))\nexit\n", timeout=TIMEOUT)
    assert "flint-42" in out
    assert p.returncode == 0
