"""virtio-vsock with a Linux guest and its user space: resources/guest-tools'
vsock-echo in the rootfs talks AF_VSOCK through Linux's virtio-vsock driver
to host programs on flint's Unix sockets, both directions. Needs a host
that can run guest user space (see conftest.USER_SPACE_OK)."""
import hashlib
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import (FLINT, USER_SPACE_KERNEL, USER_SPACE_OK, USER_SPACE_SKIP, boot_config,
                      guest_kit, host_boot_args)

pytestmark = pytest.mark.skipif(not USER_SPACE_OK, reason=USER_SPACE_SKIP)

BLOB = 4 << 20
TIMEOUT = 240


def kernel():
    return USER_SPACE_KERNEL or guest_kit("vmlinux")


def echo_server(path, count):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(TIMEOUT)

    def run():
        for _ in range(count):
            c, _ = srv.accept()
            with c:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    c.sendall(b)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv


def connect(uds, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        line += b
    return s, line


def roundtrip(s, data):
    got = []

    def reader():
        while sum(map(len, got)) < len(data):
            b = s.recv(1 << 20)
            if not b:
                break
            got.append(b)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    t.join(TIMEOUT)
    return b"".join(got)


def test_linux_vsock_echo_both_ways(tmp_path):
    uds = os.path.join(str(tmp_path), "v.sock")
    srv = echo_server(uds + "_5000", 1)
    # Guest: an echo listener on 52; a 4 MiB blob through the host's echo
    # server on port 5000 (checksums before and after); then wait for us.
    cmd = (f"vsock-echo listen 52 & head -c {BLOB} /dev/urandom > /tmp/blob; "
           "md5sum /tmp/blob; vsock-echo connect 2 5000 < /tmp/blob | md5sum; "
           "echo VSOCK-READY; sleep 30")
    boot_args = f"console=ttyS0 reboot=k panic=1 pci=off {host_boot_args()} -- {cmd}"
    cfg = boot_config(tmp_path, kernel(), boot_args.strip(),
                      initrd=guest_kit("initramfs.cpio.gz"),
                      extra={"vsock": {"guest_cid": 3, "uds_path": uds}})
    p = subprocess.Popen([FLINT, "--no-api", "--config-file", cfg], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace")
    lines = []
    ready = threading.Event()

    def read():
        for line in p.stdout:
            lines.append(line)
            if "VSOCK-READY" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(TIMEOUT), "".join(lines)[-3000:]
        # Host -> guest: two streams one after the other (vsock-echo serves
        # one at a time), each checked whole.
        for n in (BLOB, 64 * 1024):
            s, ok = connect(uds, 52)
            assert ok.startswith(b"OK "), ok
            data = os.urandom(n)
            assert hashlib.sha256(roundtrip(s, data)).digest() == hashlib.sha256(data).digest()
            s.close()
        # A port nobody listens on in the guest: Linux answers RST.
        s, ok = connect(uds, 99)
        assert ok == b""
        s.close()
    finally:
        p.kill()
        p.wait()
        srv.close()
    sums = re.findall(r"^([0-9a-f]{32})\s", "".join(lines), re.M)
    assert len(sums) == 2 and sums[0] == sums[1], "".join(lines)[-3000:]
