"""Bad input to flint itself: each gives a clear message and a non-zero
status, and nothing crashes."""
import os
import shutil
import subprocess

import pytest

from conftest import FLINT, TEST_GUEST, boot_config, run_config, run_flint, write_config


def test_missing_kernel(tmp_path):
    cfg = boot_config(tmp_path, str(tmp_path / "no-such-vmlinux"), "console=ttyS0")
    run = run_config(tmp_path, cfg)
    assert run.returncode == 152
    assert "kernel_image_path" in run.stderr and "No such file" in run.stderr


@pytest.mark.parametrize("content", [b"", b"\x7fELF" + b"\x00" * 60, os.urandom(8192),
                                     b"MZ" + b"\x00" * 1024])
def test_corrupt_kernel(tmp_path, content):
    kernel = tmp_path / "vmlinux"
    kernel.write_bytes(content)
    run = run_config(tmp_path, boot_config(tmp_path, str(kernel), "console=ttyS0"))
    assert run.returncode == 1, run.stderr
    assert "flint: " in run.stderr
    assert "Sanitizer" not in run.stderr


def test_truncated_test_guest(tmp_path, test_guest):
    data = open(test_guest, "rb").read()
    kernel = tmp_path / "truncated.elf"
    # Headers intact, the loadable segments cut short.
    kernel.write_bytes(data[:2048])
    run = run_config(tmp_path, boot_config(tmp_path, str(kernel), "tests=timer"))
    assert run.returncode == 1
    assert "flint: " in run.stderr


@pytest.mark.parametrize("doc,needle", [
    ("{", "JSON"),
    ('{"boot-source": {"kernel_image_path": "@GUEST@"}, "bogus": {}}', "bogus"),
    ('{"boot-source": {"kernel_image_path": 5}}', "kernel_image_path"),
    ('{"boot-source": {"kernel_image_path": "@GUEST@"}, '
     '"machine-config": {"vcpu_count": 33, "mem_size_mib": 128}}', "vcpu_count"),
    ('{"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}', "boot"),
])
def test_bad_config_file(tmp_path, doc, needle):
    path = tmp_path / "vm.json"
    path.write_text(doc.replace("@GUEST@", TEST_GUEST))
    run = run_config(tmp_path, str(path))
    assert run.returncode == 152, run.stderr
    assert needle.lower() in run.stderr.lower(), run.stderr


def test_missing_config_file(tmp_path):
    run = run_config(tmp_path, str(tmp_path / "absent.json"))
    assert run.returncode == 152
    assert "absent.json" in run.stderr


def test_bad_arguments():
    run = run_flint(["--no-such-flag"])
    assert run.returncode == 153
    assert "unknown argument" in run.stderr


def test_version_and_help():
    assert run_flint(["--version"]).stdout.startswith("flint v")
    assert "--config-file" in run_flint(["--help"]).stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root to hide /dev/kvm in a private mount namespace")
def test_dev_kvm_missing(tmp_path, test_guest):
    cfg = boot_config(tmp_path, test_guest, "tests=timer")
    # A private mount namespace with an empty /dev: /dev/kvm does not exist.
    script = f"mount -t tmpfs none /dev && exec {FLINT} --no-api --config-file {cfg}"
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "/dev/kvm does not exist" in p.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make an inaccessible /dev/kvm")
def test_dev_kvm_not_kvm(tmp_path, test_guest):
    cfg = boot_config(tmp_path, test_guest, "tests=timer")
    script = (f"mount --bind /dev/null /dev/kvm && exec {FLINT} --no-api "
              f"--config-file {cfg}")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "KVM API version" in p.stderr
