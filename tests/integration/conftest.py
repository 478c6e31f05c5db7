"""Shared fixtures for flint's integration tests: they start the real binary
and boot real guests, talking to them only through the console, the API,
the disk image, the tap and vsock, as a user would."""
import json
import os
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLINT = os.path.abspath(os.environ.get("FLINT_BIN", os.path.join(ROOT, "build", "flint")))
GUEST_DIR = os.environ.get("FLINT_GUEST_DIR", os.path.join(ROOT, "build", "guest"))
TEST_GUEST = os.path.join(GUEST_DIR, "test-guest.elf")

# A stock kernel runs only in kernel mode on a kvm_pvm host (see
# ../shared/HOST.md): its first system call faults. FLINT_TEST_KERNEL names a
# kernel that can run user space here.
PVM_HOST = os.path.exists("/sys/module/kvm_pvm")
USER_SPACE_KERNEL = os.environ.get("FLINT_TEST_KERNEL")
USER_SPACE_OK = USER_SPACE_KERNEL is not None or not PVM_HOST
USER_SPACE_SKIP = ("this host's KVM (kvm_pvm) cannot run a stock guest's user space; "
                   "set FLINT_TEST_KERNEL to a kernel that can")


def host_boot_args():
    """Extra kernel arguments this host needs (resources/host-boot-args.sh)."""
    script = os.path.join(ROOT, "resources", "host-boot-args.sh")
    out = subprocess.run([script], capture_output=True, text=True, check=True)
    return out.stdout.strip()


class Run:
    """The outcome of one flint process."""

    def __init__(self, returncode, stdout, stderr, seconds):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def lines(self, prefix):
        return [l for l in self.stdout.splitlines() if l.startswith(prefix)]


def write_config(tmp_path, config, name="vm.json"):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def run_flint(args, timeout=120, stdin=subprocess.DEVNULL, env=None):
    start = time.monotonic()
    p = subprocess.run([FLINT] + args, stdin=stdin, capture_output=True, text=True,
                       timeout=timeout, errors="replace", env=env)
    return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - start)


def boot_config(tmp_path, kernel, boot_args, vcpus=1, mem_mib=128, initrd=None, extra=None):
    cfg = {
        "boot-source": {"kernel_image_path": kernel, "boot_args": boot_args},
        "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem_mib},
    }
    if initrd:
        cfg["boot-source"]["initrd_path"] = initrd
    if extra:
        cfg.update(extra)
    return write_config(tmp_path, cfg)


def run_config(tmp_path, config_path, timeout=120, extra_args=()):
    return run_flint(["--no-api", "--config-file", config_path] + list(extra_args),
                     timeout=timeout)


def run_test_guest(tmp_path, guest_args, vcpus=1, mem_mib=128, timeout=60, extra=None,
                   extra_args=()):
    cfg = boot_config(tmp_path, TEST_GUEST, guest_args, vcpus, mem_mib, extra=extra)
    return run_config(tmp_path, cfg, timeout, extra_args)


def guest_kit(name):
    path = os.path.join(GUEST_DIR, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run 'make guest'")
    return path


@pytest.fixture
def test_guest():
    if not os.path.exists(TEST_GUEST):
        pytest.fail(f"{TEST_GUEST} is missing: run 'make guest'")
    return TEST_GUEST
