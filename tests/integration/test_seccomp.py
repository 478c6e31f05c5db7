"""Seccomp: every thread kind installs its filter, a system call outside a
thread's list ends flint with status 148 and a log line naming the call and
the thread, --no-seccomp turns filtering off, and --seccomp-filter installs a
user-supplied compiled filter (raw BPF for every thread, or Firecracker's
thread-name map).

The violations are triggered by FLINT_TEST_SECCOMP_VIOLATION=api|vmm|vcpu,
a hook compiled only into FLINT_TEST_HOOKS (sanitized) builds: with a
release build those tests skip."""
import http.client
import os
import re
import struct

import pytest

from apiclient import Flint
from conftest import FLINT, TEST_GUEST, boot_config, run_flint

BAD_SYSCALL = 148
HOOK_SYSCALL = "system call 111 (getpgrp)"  # vmm/seccomp.c's test hook
# How each thread kind is named in log lines.
THREAD_NAME = {"api": "fc_api", "vmm": "main", "vcpu": "fc_vcpu 0"}

# Classic BPF and seccomp constants (linux/filter.h, linux/seccomp.h).
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
RET_ALLOW, RET_TRAP = 0x7FFF0000, 0x00030000
AUDIT_ARCH_X86_64 = 0xC000003E


def has_test_hooks():
    with open(FLINT, "rb") as f:
        return b"FLINT_TEST_SECCOMP_VIOLATION" in f.read()


needs_hooks = pytest.mark.skipif(not has_test_hooks(),
                                 reason="FLINT_BIN has no test hooks (a release build)")


def insn(code, k, jt=0, jf=0):
    return struct.pack("<HBBI", code, jt, jf, k)


def allow_all_but(nr):
    """Raw BPF: trap nr (and any foreign ABI), allow everything else."""
    return b"".join([
        insn(BPF_LD_W_ABS, 4),                        # arch
        insn(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        insn(BPF_RET_K, RET_TRAP),
        insn(BPF_LD_W_ABS, 0),                        # nr
        insn(BPF_JEQ_K, nr, 0, 1),
        insn(BPF_RET_K, RET_TRAP),
        insn(BPF_RET_K, RET_ALLOW),
    ])


def fc_map(progs):
    """Firecracker's compiled format: bincode of {thread name: [sock_filter]}."""
    out = struct.pack("<Q", len(progs))
    for name, prog in progs.items():
        out += struct.pack("<Q", len(name)) + name.encode()
        out += struct.pack("<Q", len(prog) // 8) + prog
    return out


def guest_config(tmp_path, guest_args="tests=timer"):
    return boot_config(tmp_path, TEST_GUEST, guest_args)


def run_guest(tmp_path, extra_args=(), violation=None, api=True):
    env = dict(os.environ)
    env.pop("FLINT_TEST_SECCOMP_VIOLATION", None)
    if violation:
        env["FLINT_TEST_SECCOMP_VIOLATION"] = violation
    args = ["--config-file", guest_config(tmp_path), "--level", "Debug"]
    args += ["--api-sock", str(tmp_path / "api.sock")] if api else ["--no-api"]
    return run_flint(args + list(extra_args), timeout=60, env=env)


def write_filter(tmp_path, data, name="filter.bpf"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_every_thread_installs_its_filter(tmp_path):
    run = run_guest(tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for kind in ("api", "vmm", "vcpu"):
        m = re.search(rf"seccomp: {kind} filter installed \((\d+) instructions\)", run.stderr)
        assert m, f"no {kind} filter line in {run.stderr[-3000:]}"
        assert 0 < int(m.group(1)) <= 4096
    assert "ALL DONE" in run.stdout and "fail=0" in run.stdout


def test_no_seccomp_installs_nothing(tmp_path):
    run = run_guest(tmp_path, ["--no-seccomp"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert "filter installed" not in run.stderr


@needs_hooks
@pytest.mark.parametrize("kind", ["api", "vmm", "vcpu"])
def test_violation_ends_flint_with_148(tmp_path, kind):
    run = run_guest(tmp_path, violation=kind)
    assert run.returncode == BAD_SYSCALL, (run.returncode, run.stderr[-3000:])
    lines = [l for l in run.stderr.splitlines() if "seccomp: thread" in l]
    assert len(lines) == 1, run.stderr[-3000:]
    assert f"thread {THREAD_NAME[kind]} made {HOOK_SYSCALL}" in lines[0]
    assert ":ERROR]" in lines[0]


@needs_hooks
def test_violation_report_goes_to_the_log_file(tmp_path):
    log = tmp_path / "flint.log"
    run = run_guest(tmp_path, ["--log-path", str(log)], violation="vcpu", api=False)
    assert run.returncode == BAD_SYSCALL
    text = log.read_text()
    assert f"thread fc_vcpu 0 made {HOOK_SYSCALL}" in text
    assert "[anonymous-instance:fc_vcpu 0:ERROR]" in text


@needs_hooks
def test_vmm_filter_after_api_instance_start(tmp_path, monkeypatch):
    """Booted through the API, the VMM thread serves pre-boot requests
    unfiltered and installs its filter at the end of InstanceStart."""
    monkeypatch.setenv("FLINT_TEST_SECCOMP_VIOLATION", "vmm")
    fl = Flint(tmp_path, ["--level", "Debug"])
    try:
        a = fl.api
        r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST, "boot_args": "tests=timer"})
        assert r.status == 204, r  # pre-boot: unfiltered, alive
        assert a.get("/machine-config").status == 200
        try:  # the hook fires before the answer is written
            a.put("/actions", {"action_type": "InstanceStart"})
        except (http.client.HTTPException, OSError):
            pass
        assert fl.wait(timeout=30) == BAD_SYSCALL
        assert f"thread main made {HOOK_SYSCALL}" in fl.stderr()
    finally:
        fl.kill()


@needs_hooks
@pytest.mark.parametrize("kind", ["api", "vmm", "vcpu"])
def test_no_seccomp_survives_the_hook(tmp_path, kind):
    run = run_guest(tmp_path, ["--no-seccomp"], violation=kind)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "seccomp: thread" not in run.stderr


def test_user_raw_filter_allows_a_boot(tmp_path):
    path = write_filter(tmp_path, allow_all_but(111))
    run = run_guest(tmp_path, ["--seccomp-filter", path])
    assert run.returncode == 0, run.stderr[-3000:]
    for kind in ("api", "vmm", "vcpu"):
        assert f"seccomp: {kind} filter installed (7 instructions)" in run.stderr


@needs_hooks
@pytest.mark.parametrize("kind", ["api", "vmm", "vcpu"])
def test_user_raw_filter_traps_its_one_call(tmp_path, kind):
    path = write_filter(tmp_path, allow_all_but(111))
    run = run_guest(tmp_path, ["--seccomp-filter", path], violation=kind)
    assert run.returncode == BAD_SYSCALL, run.stderr[-3000:]
    assert f"thread {THREAD_NAME[kind]} made {HOOK_SYSCALL}" in run.stderr


@needs_hooks
def test_user_map_filters_per_thread(tmp_path):
    """Firecracker's map: only the vCPU gets a filter; empty ones install nothing."""
    path = write_filter(tmp_path, fc_map({"vmm": b"", "api": b"", "vcpu": allow_all_but(111)}))
    run = run_guest(tmp_path, ["--seccomp-filter", path], violation="vmm")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "seccomp: vcpu filter installed (7 instructions)" in run.stderr
    assert "seccomp: vmm filter installed" not in run.stderr
    run = run_guest(tmp_path, ["--seccomp-filter", path], violation="vcpu")
    assert run.returncode == BAD_SYSCALL, run.stderr[-3000:]


@pytest.mark.parametrize("data", [b"", b"\x06\x00\x00", b"\x00" * (8 * 4097)],
                         ids=["empty", "not-instructions", "too-long"])
def test_bad_filter_file_refused_at_start(tmp_path, data):
    path = write_filter(tmp_path, data)
    run = run_guest(tmp_path, ["--seccomp-filter", path])
    assert run.returncode == 153
    assert "--seccomp-filter" in run.stderr


def test_missing_filter_file_refused(tmp_path):
    run = run_guest(tmp_path, ["--seccomp-filter", str(tmp_path / "nope.bpf")])
    assert run.returncode == 153
    assert "nope.bpf" in run.stderr


def test_filter_the_kernel_refuses_is_refused_at_start(tmp_path):
    """Well-formed bytes, but not a valid program (no return at the end)."""
    path = write_filter(tmp_path, insn(BPF_LD_W_ABS, 0))
    run = run_guest(tmp_path, ["--seccomp-filter", path])
    assert run.returncode == 153, run.stderr[-3000:]
    assert "the kernel refuses the vmm thread's filter" in run.stderr
