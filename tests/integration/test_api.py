"""Firecracker's HTTP API served by flint: the getting-started flow with curl,
every endpoint with valid and invalid bodies, the pre-/post-boot rules,
pause/resume, Ctrl-Alt-Del, /vm/config round trip, many requests and clients,
and hostile clients. Guests: flint's freestanding test guest."""
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from apiclient import (FLINT, POST_BOOT_MSG, PRE_BOOT_MSG, TEST_GUEST, Api, Flint, read_metrics,
                       wait_for_socket)

# Sixteen runs of the mem test keep the test guest busy for about two
# seconds here (the emulator is slow), printing a line every ~150 ms: a
# clock of serial output that pause must stop.
BUSY_ARGS = "tests=" + ",".join(["mem"] * 16) + " reset=none"


@pytest.fixture
def flint(tmp_path):
    if not os.path.exists(TEST_GUEST):
        pytest.fail(f"{TEST_GUEST} is missing: run 'make guest'")
    procs = []

    def start(args=(), **kw):
        f = Flint(tmp_path, args, **kw)
        procs.append(f)
        return f

    yield start
    for f in procs:
        f.kill()


def curl(sock, *args):
    out = subprocess.run(["curl", "-sS", "--unix-socket", sock, "-i"] + list(args),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


# --- Firecracker's getting-started flow, with curl -------------------------

def test_getting_started_with_curl(tmp_path, flint):
    """docs/getting-started.md, the commands as written (socket path and the
    images aside: the kernel is the test guest, the rootfs an empty image)."""
    shutil.copy(TEST_GUEST, tmp_path / "hello-vmlinux.bin")
    with open(tmp_path / "hello-rootfs.ext4", "wb") as f:
        f.truncate(1 << 20)
    f = flint(sock_name="firecracker.sock")
    sock = f.sock
    script = f"""set -e
curl --unix-socket {sock} -i \\
    -X PUT 'http://localhost/boot-source'   \\
    -H 'Accept: application/json'           \\
    -H 'Content-Type: application/json'     \\
    -d '{{
        "kernel_image_path": "./hello-vmlinux.bin",
        "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"
    }}'
curl --unix-socket {sock} -i \\
    -X PUT 'http://localhost/drives/rootfs' \\
    -H 'Accept: application/json'           \\
    -H 'Content-Type: application/json'     \\
    -d '{{
        "drive_id": "rootfs",
        "path_on_host": "./hello-rootfs.ext4",
        "is_root_device": true,
        "is_read_only": false
    }}'
curl --unix-socket {sock} -i  \\
    -X PUT 'http://localhost/machine-config' \\
    -H 'Accept: application/json'            \\
    -H 'Content-Type: application/json'      \\
    -d '{{
        "vcpu_count": 2,
        "mem_size_mib": 1024
    }}'
curl --unix-socket {sock} -i \\
    -X PUT 'http://localhost/actions'       \\
    -H  'Accept: application/json'          \\
    -H  'Content-Type: application/json'    \\
    -d '{{
        "action_type": "InstanceStart"
     }}'
"""
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    statuses = [l.split()[1] for l in out.stdout.splitlines() if l.startswith("HTTP/1.1")]
    assert statuses == ["204"] * 4, out.stdout
    # The default tests (timer, mem, smp over the two vCPUs), then the
    # guest resets through the i8042 and flint ends with status 0.
    f.wait_serial("ALL DONE pass=3 fail=0")
    assert f.wait(timeout=60) == 0
    assert "smp: 2 cpus up" in f.serial()
    assert any("root=/dev/vda" in l for l in f.serial() if l.startswith("guest: cmdline:"))


# --- Every endpoint, valid and invalid bodies ------------------------------

def _cases(d):
    disk = os.path.join(d, "disk.img")
    G = TEST_GUEST
    drive = {"drive_id": "rootfs", "path_on_host": disk, "is_root_device": True,
             "is_read_only": False}
    return [
        # (method, path, body, status, words the fault_message must contain)
        ("PUT", "/boot-source", {"kernel_image_path": G, "boot_args": "tests=timer"}, 204, []),
        ("PUT", "/boot-source", {"kernel_image_path": G, "bogus": 1}, 400, ["bogus"]),
        ("PUT", "/boot-source", {"boot_args": "x"}, 400, ["missing", "kernel_image_path"]),
        ("PUT", "/boot-source", {"kernel_image_path": 5}, 400, ["kernel_image_path", "string"]),
        ("PUT", "/boot-source", {"kernel_image_path": d + "/absent"}, 400, ["kernel_image_path"]),
        ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}, 204, []),
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "x": 1}, 400, ["x"]),
        ("PUT", "/machine-config", {"vcpu_count": 1}, 400, ["missing", "mem_size_mib"]),
        ("PUT", "/machine-config", {"vcpu_count": "1", "mem_size_mib": 128}, 400, ["vcpu_count"]),
        ("PUT", "/machine-config", {"vcpu_count": 1.5, "mem_size_mib": 128}, 400,
         ["vcpu_count"]),
        ("PUT", "/machine-config", {"vcpu_count": 0, "mem_size_mib": 128}, 400, ["vcpu_count"]),
        ("PUT", "/machine-config", {"vcpu_count": 33, "mem_size_mib": 128}, 400, ["vcpu_count"]),
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 0}, 400, ["mem_size_mib"]),
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 2 ** 64}, 400,
         ["mem_size_mib"]),
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "smt": 1}, 400,
         ["smt"]),
        ("PATCH", "/machine-config", {"vcpu_count": 1}, 204, []),
        ("PATCH", "/machine-config", {"vcpus": 1}, 400, ["vcpus"]),
        ("PATCH", "/machine-config", {"mem_size_mib": "big"}, 400, ["mem_size_mib"]),
        ("PATCH", "/machine-config", {"vcpu_count": 64}, 400, ["vcpu_count"]),
        ("PUT", "/drives/rootfs", drive, 204, []),
        ("PUT", "/drives/rootfs", dict(drive, drive_id="other"), 400, ["id", "path", "body"]),
        ("PUT", "/drives/rootfs", dict(drive, cache="Fast"), 400, ["cache"]),
        ("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": disk}, 400,
         ["is_root_device"]),
        ("PUT", "/drives/rootfs", dict(drive, is_read_only="no"), 400, ["is_read_only"]),
        ("PUT", "/drives/rootfs", dict(drive, path_on_host=d + "/absent"), 400,
         ["path_on_host"]),
        ("PUT", "/drives/rootfs", dict(drive, bogus=True), 400, ["bogus"]),
        ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0"}, 204,
         []),
        ("PUT", "/network-interfaces/eth0", {"iface_id": "eth1", "host_dev_name": "tap0"}, 400,
         ["id", "path", "body"]),
        ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0"}, 400, ["host_dev_name"]),
        ("PUT", "/network-interfaces/eth0",
         {"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "zz"}, 400, ["guest_mac"]),
        ("PUT", "/network-interfaces/eth0",
         {"iface_id": "eth0", "host_dev_name": ["tap0"]}, 400, ["host_dev_name"]),
        ("PUT", "/vsock", {"guest_cid": 3, "uds_path": d + "/v.sock"}, 204, []),
        ("PUT", "/vsock", {"guest_cid": 2, "uds_path": d + "/v.sock"}, 400, ["guest_cid"]),
        ("PUT", "/vsock", {"guest_cid": 3}, 400, ["uds_path"]),
        ("PUT", "/vsock", {"guest_cid": "3", "uds_path": d + "/v.sock"}, 400, ["guest_cid"]),
        ("PUT", "/vsock", {"guest_cid": 3, "uds_path": d + "/v.sock", "port": 1}, 400, ["port"]),
        ("PUT", "/entropy", {}, 204, []),
        ("PUT", "/entropy", {"bogus": 1}, 400, ["bogus"]),
        ("PUT", "/entropy", {"rate_limiter": {"bandwidth": {"size": -1, "refill_time": 100}}},
         400, ["size"]),
        ("PUT", "/entropy", {"rate_limiter": {"bandwidth": {"refill_time": 100}}}, 400,
         ["size"]),
        ("PUT", "/logger", {"log_path": d + "/fc.log", "level": "Info"}, 204, []),
        ("PUT", "/logger", {"level": "debug"}, 204, []),  # levels are case-insensitive
        ("PUT", "/logger", {"level": "WARNING", "show_level": True}, 204, []),
        ("PUT", "/logger", {"log_path": d + "/fc.log", "level": "Loud"}, 400, ["level"]),
        ("PUT", "/logger", {"log_path": d + "/fc.log", "show_level": "yes"}, 400,
         ["show_level"]),
        ("PUT", "/logger", {"log_path": d + "/fc.log", "colour": True}, 400, ["colour"]),
        ("PUT", "/metrics", {"metrics_path": d + "/metrics.json"}, 204, []),
        ("PUT", "/metrics", {"metrics_path": d + "/m2.json"}, 400, ["Reinitialization"]),
        ("PUT", "/metrics", {}, 400, ["metrics_path"]),
        ("PUT", "/metrics", {"metrics_path": 7}, 400, ["metrics_path"]),
        ("PUT", "/serial", {"serial_out_path": d + "/serial.out"}, 204, []),
        ("PUT", "/serial", {"bogus": 1}, 400, ["bogus"]),
        ("PUT", "/actions", {"action_type": "Reboot"}, 400, ["action_type"]),
        ("PUT", "/actions", {}, 400, ["action_type"]),
        ("PUT", "/actions", {"action_type": 1}, 400, ["action_type"]),
        ("PUT", "/actions", {"action_type": "FlushMetrics"}, 400, [PRE_BOOT_MSG]),
        ("PUT", "/actions", {"action_type": "SendCtrlAltDel"}, 400, [PRE_BOOT_MSG]),
        ("PATCH", "/vm", {"state": "Paused"}, 400, [PRE_BOOT_MSG]),
        ("PATCH", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": disk}, 400,
         [PRE_BOOT_MSG]),
        ("PATCH", "/network-interfaces/eth0", {"iface_id": "eth0"}, 400, [PRE_BOOT_MSG]),
        # Features flint does not have yet: 400 naming the feature.
        ("PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": False}, 400, ["balloon"]),
        ("GET", "/balloon", None, 400, ["balloon"]),
        ("PUT", "/mmds", {"a": 1}, 400, ["MMDS"]),
        ("GET", "/mmds", None, 400, ["MMDS"]),
        ("PUT", "/mmds/config", {"network_interfaces": ["eth0"]}, 400, ["MMDS"]),
        ("PUT", "/snapshot/load", {"snapshot_path": "s", "mem_file_path": "m"}, 400,
         ["Snapshot"]),
        ("PUT", "/cpu-config", {"cpuid_modifiers": []}, 400, ["CPU"]),
        ("PUT", "/pmem/p0", {"id": "p0", "path_on_host": disk}, 400, ["pmem"]),
        ("PUT", "/hotplug/memory", {"total_size_mib": 1024}, 400, ["hotplug"]),
        # Unknown paths and methods.
        ("GET", "/nothing", None, 400, ["Invalid request method and/or path"]),
        ("POST", "/actions", {"action_type": "InstanceStart"}, 400,
         ["Invalid request method and/or path"]),
        ("DELETE", "/drives/rootfs", None, 400, ["Invalid request method and/or path"]),
        ("PUT", "/drives/bad%20id", dict(drive, drive_id="bad id"), 400, ["ID"]),
    ]


def test_every_endpoint_valid_and_invalid(tmp_path, flint):
    with open(tmp_path / "disk.img", "wb") as f:
        f.truncate(1 << 20)
    f = flint()
    bad = []
    for method, path, body, status, words in _cases(str(tmp_path)):
        r = f.api.request(method, path, body)
        ok = r.status == status
        if status >= 400:
            ok = ok and r.json is not None and all(w.lower() in r.fault.lower() for w in words)
        else:
            ok = ok and r.body == ""
        if not ok:
            bad.append((method, path, body, r))
    assert not bad, "\n".join(map(repr, bad))
    assert f.alive()


@pytest.mark.parametrize("raw,words", [
    ('{"vcpu_count": 1,', ["JSON"]),
    ('{"vcpu_count": 1, "mem_size_mib": 128', ["JSON"]),
    ("vcpu_count=1", ["JSON"]),
    ("[]", ["object"]),
    ('{"vcpu_count": 1, "vcpu_count": 2, "mem_size_mib": 128}', ["duplicate", "vcpu_count"]),
    ('{"vcpu_count": 1, "mem_size_mib": 128}garbage', ["JSON"]),
    ('\xff\xfe', ["JSON"]),
    ("", ["Empty PUT request."]),
])
def test_bad_json(tmp_path, flint, raw, words):
    f = flint()
    r = f.api.put("/machine-config", raw=raw.encode("latin-1"))
    assert r.status == 400, r
    assert all(w.lower() in r.fault.lower() for w in words), r
    assert f.api.get("/machine-config").json["mem_size_mib"] == 128


def test_empty_bodies_and_get_with_body(tmp_path, flint):
    f = flint()
    assert f.api.patch("/machine-config", raw="").fault == "Empty PATCH request."
    assert f.api.put("/actions", raw="").fault == "Empty PUT request."
    r = f.api.request("GET", "/machine-config", raw="{}")
    assert (r.status, r.fault) == (400, "GET request cannot have a body.")
    r = f.api.request("GET", "/", raw='{"a": 1}')
    assert r.status == 400 and "body" in r.fault


def test_info_version_and_machine_config(tmp_path, flint):
    f = flint(["--id", "api-test-1"])
    r = f.api.get("/")
    assert r.status == 200
    assert r.json == {"id": "api-test-1", "state": "Not started",
                      "vmm_version": r.json["vmm_version"], "app_name": "Firecracker"}
    v = f.api.get("/version")
    assert v.status == 200 and v.json["firecracker_version"] == r.json["vmm_version"]
    m = f.api.get("/machine-config")
    assert m.status == 200
    assert m.json["vcpu_count"] == 1 and m.json["mem_size_mib"] == 128
    assert f.api.patch("/machine-config", {"mem_size_mib": 256}).status == 204
    m2 = f.api.get("/machine-config").json
    assert m2 == dict(m.json, mem_size_mib=256)


# --- Pre-boot-only requests after boot; pause, resume, Ctrl-Alt-Del --------

def test_pre_boot_requests_refused_after_boot(tmp_path, flint):
    with open(tmp_path / "disk.img", "wb") as fd:
        fd.truncate(1 << 20)
    f = flint()
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE pass=1 fail=0")
    a = f.api
    assert a.get("/").json["state"] == "Running"
    refused = [
        ("PUT", "/boot-source", {"kernel_image_path": TEST_GUEST}),
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
        ("PATCH", "/machine-config", {"vcpu_count": 1}),
        ("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": str(tmp_path / "disk.img"),
                                   "is_root_device": True}),
        ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0"}),
        ("PUT", "/vsock", {"guest_cid": 3, "uds_path": str(tmp_path / "v.sock")}),
        ("PUT", "/entropy", {}),
        ("PUT", "/logger", {"log_path": str(tmp_path / "log")}),
        ("PUT", "/metrics", {"metrics_path": str(tmp_path / "m")}),
        ("PUT", "/serial", {"serial_out_path": str(tmp_path / "s")}),
        ("PUT", "/actions", {"action_type": "InstanceStart"}),
    ]
    for method, path, body in refused:
        r = a.request(method, path, body)
        assert (r.status, r.fault) == (400, POST_BOOT_MSG), (method, path, r)
    # Reads still work after boot.
    assert a.get("/machine-config").status == 200
    assert a.get("/vm/config").json["boot-source"]["kernel_image_path"] == TEST_GUEST
    # Without a metrics file FlushMetrics writes nothing, as in Firecracker.
    assert a.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    assert f.alive()


def _flush(f, path):
    n = len(read_metrics(path)) if os.path.exists(path) else 0
    r = f.api.put("/actions", {"action_type": "FlushMetrics"})
    assert r.status == 204, r
    objs = read_metrics(path)
    assert len(objs) == n + 1
    return objs[-1]


def test_pausing_never_waits_out_a_guest_device_reset(tmp_path, flint):
    # The guest brings virtio-rng to DRIVER_OK and resets it, over and over;
    # the host pauses and resumes as fast as it can. A reset of a running
    # device holds its vCPU until the VMM thread settles it; if that thread
    # is itself waiting in the pause for this vCPU, only the reset's 200 ms
    # bound ended the wait (logged "did not settle"): before flint settled
    # devices while it waits, every run of this test met that moment (1 to
    # 4 times in 3000 pauses).
    f = flint()
    assert f.api.put("/entropy", {}).status == 204
    f.boot_test_guest("tests=rng rng_resets_ms=20000")
    f.wait_serial("guest: cmdline")
    a = f.api
    pauses = 0
    while pauses < 3000 and not any(l.startswith("rng: ") for l in f.serial()):
        assert a.patch("/vm", {"state": "Paused"}).status == 204
        assert a.patch("/vm", {"state": "Resumed"}).status == 204
        pauses += 1
        time.sleep(0.003)
    f.wait_serial("TEST rng PASS", timeout=60)
    resets = int(f.wait_serial(" resets").split()[1])  # "rng: N resets"
    assert resets > 100 and pauses > 1000, (resets, pauses)
    assert "did not settle" not in f.stderr()


def test_pause_stops_the_guest_and_resume_restarts_it(tmp_path, flint):
    metrics = str(tmp_path / "metrics.json")
    f = flint(["--metrics-path", metrics])
    f.boot_test_guest(BUSY_ARGS)
    f.wait_serial("TEST mem PASS")
    a = f.api
    assert a.patch("/vm", {"state": "Paused"}).status == 204
    assert a.get("/").json["state"] == "Paused"
    _flush(f, metrics)
    lines = f.serial()
    assert not any(l.startswith("ALL DONE") for l in lines), "the guest finished too early"
    time.sleep(1.0)
    paused = _flush(f, metrics)
    # Not one exit and not one byte of serial output in a second.
    assert f.serial() == lines
    vcpu = paused["vcpu"]
    assert vcpu["exit_io_out"] == 0 and vcpu["exit_io_in"] == 0, vcpu
    assert vcpu["exit_mmio_read"] == 0 and vcpu["exit_mmio_write"] == 0, vcpu
    assert paused["uart"]["write_count"] == 0
    assert paused["latencies_us"]["vmm_pause_vm"] > 0
    # Pausing again is harmless; pre-boot-only requests are still refused.
    assert a.patch("/vm", {"state": "Paused"}).status == 204
    assert a.put("/boot-source", {"kernel_image_path": TEST_GUEST}).fault == POST_BOOT_MSG
    assert a.patch("/vm", {"state": "Resumed"}).status == 204
    assert a.get("/").json["state"] == "Running"
    f.wait_serial("ALL DONE pass=16 fail=0", timeout=60)
    resumed = _flush(f, metrics)
    assert resumed["vcpu"]["exit_io_out"] > 0
    assert resumed["uart"]["write_count"] > 0
    assert resumed["latencies_us"]["vmm_resume_vm"] > 0
    assert resumed["put_api_requests"]["actions_count"] == 1  # this FlushMetrics


@pytest.mark.parametrize("body,word", [({"state": "Stopped"}, "state"), ({}, "state"),
                                       ({"state": "Paused", "x": 1}, "x")])
def test_patch_vm_bad_bodies(tmp_path, flint, body, word):
    f = flint()
    f.boot_test_guest("tests=timer reset=none")
    r = f.api.patch("/vm", body)
    assert r.status == 400 and word in r.fault, r
    assert f.api.get("/").json["state"] == "Running"


def test_send_ctrl_alt_del_reaches_the_i8042(tmp_path, flint):
    """The test guest does not read its keyboard (see the report: it cannot
    shut down on Ctrl-Alt-Del); what is checked here is that the request is
    accepted while the VM runs and leaves it running, and refused before boot.
    test_ctrl_alt_del_linux shuts a Linux guest down."""
    f = flint()
    assert f.api.put("/actions", {"action_type": "SendCtrlAltDel"}).fault == PRE_BOOT_MSG
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE")
    assert f.api.put("/actions", {"action_type": "SendCtrlAltDel"}).status == 204
    time.sleep(0.2)
    assert f.alive() and f.api.get("/").json["state"] == "Running"


def _linux_kernel():
    """The guest kit's kernel, whose config (resources/guest-kernel.config)
    has the VT keyboard handler that reboots Linux on Ctrl-Alt-Del; or
    FLINT_TEST_KERNEL, which may not."""
    from conftest import guest_kit
    path = os.environ.get("FLINT_TEST_KERNEL")
    if not path:
        cfg = open(guest_kit("kernel.config")).read()
        assert "CONFIG_VT=y" in cfg and "CONFIG_KEYBOARD_ATKBD=y" in cfg
        return guest_kit("vmlinux")
    for c in (os.path.join(os.path.dirname(path), "kernel.config"),
              os.path.join(os.path.dirname(path), "config")):
        if os.path.exists(c) and ("CONFIG_VT=y" not in open(c).read()
                                  or "CONFIG_KEYBOARD_ATKBD=y" not in open(c).read()):
            pytest.skip("FLINT_TEST_KERNEL has no CONFIG_VT/ATKBD: Linux only reboots on "
                        "Ctrl-Alt-Del through the VT keyboard handler")
    return path


def test_ctrl_alt_del_linux(tmp_path, flint):
    """One Linux boot: once the kernel has its keyboard, Ctrl-Alt-Del makes it
    reboot (reboot=k: through the i8042), which ends flint with status 0."""
    kernel = _linux_kernel()
    from conftest import host_boot_args
    f = flint()
    a = f.api
    # No disk and rootwait: the kernel waits for its root for ever, so only
    # the Ctrl-Alt-Del can end this guest (not a panic).
    args = "console=ttyS0 reboot=k panic=0 pci=off root=/dev/vda rootwait " + host_boot_args()
    assert a.put("/boot-source", {"kernel_image_path": kernel, "boot_args": args}).status == 204
    assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
    # Generous deadlines: a boot takes 30-60 s here, more on a busy host.
    f.wait_serial("serio: i8042 KBD port", timeout=600)
    f.wait_serial("input: AT Translated Set 2 keyboard", timeout=300)
    f.wait_serial("Waiting for root device", timeout=300)
    assert a.put("/actions", {"action_type": "SendCtrlAltDel"}).status == 204
    assert f.wait(timeout=300) == 0
    assert "reset through the i8042" in f.stderr()
    assert not any("Kernel panic" in line for line in f.serial())


# --- /vm/config round trip --------------------------------------------------

def _wait_lines(proc, needle, timeout):
    lines = []
    deadline = time.monotonic() + timeout
    for line in iter(proc.stdout.readline, b""):
        lines.append(line.decode(errors="replace").rstrip())
        if needle in lines[-1] or time.monotonic() > deadline:
            break
    return lines


def test_vm_config_round_trips_through_config_file(tmp_path, flint):
    with open(tmp_path / "disk.img", "wb") as fd:
        fd.truncate(1 << 20)
    f = flint()
    a = f.api
    boot_args = "tests=timer,mem,smp reset=none"
    assert a.put("/boot-source", {"kernel_image_path": TEST_GUEST,
                                  "boot_args": boot_args}).status == 204
    assert a.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 192}).status == 204
    assert a.put("/drives/rootfs", {"drive_id": "rootfs", "is_root_device": True,
                                    "path_on_host": str(tmp_path / "disk.img"),
                                    "is_read_only": True}).status == 204
    assert a.put("/entropy", {}).status == 204
    assert a.put("/logger", {"log_path": str(tmp_path / "fc.log"), "level": "Debug",
                             "show_level": True}).status == 204
    assert a.put("/metrics", {"metrics_path": str(tmp_path / "metrics.json")}).status == 204
    before = a.get("/vm/config").json
    assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
    first = f.wait_serial("ALL DONE")
    after = a.get("/vm/config")
    assert after.status == 200 and after.json == before
    path = tmp_path / "vm_config.json"
    path.write_text(after.body)

    # The file boots the same guest in a new flint with no API ...
    p = subprocess.Popen([FLINT, "--no-api", "--config-file", str(path)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _wait_lines(p, "ALL DONE", 60)
    finally:
        p.kill()
        p.wait()
    assert lines[-1] == first, lines
    same = [l for l in f.serial() if l.startswith(("guest: cmdline", "guest: mem:", "smp: 2"))]
    assert same and all(l in lines for l in same), (same, lines)

    # ... and read back through a second API, it is the same configuration.
    g = Flint(tmp_path, ["--config-file", str(path)], sock_name="api2.sock")
    try:
        g.wait_serial("ALL DONE")
        assert g.api.get("/vm/config").json == before
    finally:
        g.kill()


# --- Many requests, many clients, hostile clients --------------------------

def test_thousand_requests_on_one_connection(tmp_path, flint):
    f = flint()
    a = Api(f.sock)
    for i in range(1000):
        r = a.get("/machine-config") if i % 2 else a.put(
            "/machine-config", {"vcpu_count": 1 + (i % 4 == 0), "mem_size_mib": 128 + i})
        assert r.status == (200 if i % 2 else 204), (i, r)
    assert a.get("/machine-config").json["mem_size_mib"] == 128 + 998
    a.close()


def test_pipelined_requests_answered_in_order(tmp_path, flint):
    f = flint()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(f.sock)
    req = b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n"
    bad = b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"
    s.sendall((req + bad) * 100)
    data = b""
    s.settimeout(10)
    while data.count(b"HTTP/1.1 ") < 200:
        chunk = s.recv(65536)
        assert chunk, data[-200:]
        data += chunk
    s.close()
    codes = re.findall(rb"HTTP/1\.1 (\d+) ", data)
    assert codes == [b"200", b"400"] * 100


def test_fifty_clients_at_once(tmp_path, flint):
    f = flint()
    f.boot_test_guest("tests=timer reset=none")
    results, errors = [], []
    barrier = threading.Barrier(50)

    def client(i):
        try:
            a = Api(f.sock, timeout=30)
            a.conn.connect()
            barrier.wait()
            for _ in range(10):
                r = a.get("/") if i % 2 else a.get("/vm/config")
                results.append(r.status)
            a.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == [200] * 500


def _raw(sock_path, data, read=True, shut=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        return s.recv(65536) if read else b""
    except OSError:
        return b""
    finally:
        s.close()


def test_garbage_and_vanishing_clients_leave_api_and_guest_running(tmp_path, flint):
    metrics = str(tmp_path / "metrics.json")
    f = flint(["--metrics-path", metrics])
    f.boot_test_guest(BUSY_ARGS)
    f.wait_serial("TEST mem PASS")
    sock = f.sock
    # Answered with 400 and closed.
    for junk in (b"\x00\xff" * 100 + b"\r\n\r\n", b"HELLO\r\n\r\n",
                 b"GET / HTTP/9.9\r\n\r\n", b"PUT /actions HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                 b"PUT /actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                 b"PUT /actions HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"):
        reply = _raw(sock, junk)
        assert reply.startswith(b"HTTP/1.1 4"), (junk[:40], reply[:100])
    # Truncated requests and clients that vanish mid-request or before
    # reading their answer.
    _raw(sock, b"PUT /actions HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"action_", read=False)
    _raw(sock, b"GET /machine-con", read=False)
    _raw(sock, b"GET /machine-config HTTP/1.1\r\n", read=False, shut=True)
    _raw(sock, b"GET /vm/config HTTP/1.1\r\n\r\n" * 50, read=False)
    _raw(sock, b"PUT /actions HTTP/1.1\r\nContent-Length: 33\r\n\r\n"
               b"{\"action_type\": \"FlushMetrics\"}  ", read=False)
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.close()
    assert f.api.get("/").json["state"] == "Running"
    assert f.api.get("/version").status == 200
    f.wait_serial("ALL DONE pass=16 fail=0", timeout=60)
    assert f.alive()


def test_api_sock_on_existing_file_is_refused(tmp_path):
    path = tmp_path / "not-a-socket"
    path.write_text("precious")
    p = subprocess.run([FLINT, "--api-sock", str(path)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode != 0
    assert str(path) in p.stderr
    assert path.read_text() == "precious"


def test_api_sock_replaces_stale_socket(tmp_path, flint):
    path = tmp_path / "api.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # a socket file nobody listens on, as a crashed VMM leaves
    f = flint()
    assert f.api.get("/").status == 200
    f.kill()
    assert not os.path.exists(f.sock) or not wait_for_socket(f.sock, 0.2)


def test_fault_messages_are_json(tmp_path, flint):
    f = flint()
    for method, path, raw in (("PUT", "/actions", '{"action_type": "\\u0022\\n"}'),
                              ("GET", '/"quoted"', None)):
        r = f.api.request(method, path, raw=raw)
        assert r.status == 400
        assert json.loads(r.body)["fault_message"]
