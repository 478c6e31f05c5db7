"""PATCH /drives and /network-interfaces on a running microVM."""
import os

from apiclient import Flint, TEST_GUEST


def boot(vm, tmp_path, drives):
    a = vm.api
    for d in drives:
        assert a.put(f"/drives/{d['drive_id']}", d).status == 204
    assert a.put("/boot-source", {"kernel_image_path": TEST_GUEST,
                                  "boot_args": "tests=timer reset=none"}).status == 204
    assert a.put("/actions", {"action_type": "InstanceStart"}).status == 204
    vm.wait_serial("guest: halting")


def image(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def test_patch_drive_swaps_the_image_and_rate_limiter(tmp_path):
    old = image(tmp_path / "old.img", 1 << 20)
    new = image(tmp_path / "new.img", 4 << 20)
    vm = Flint(tmp_path)
    try:
        boot(vm, tmp_path, [{"drive_id": "data", "path_on_host": old,
                             "is_root_device": False, "is_read_only": False}])
        a = vm.api
        r = a.patch("/drives/data", {"drive_id": "data", "path_on_host": new,
                                     "rate_limiter": {"ops": {"size": 100,
                                                              "refill_time": 1000}}})
        assert r.status == 204, r
        cfg = a.get("/vm/config").json
        d = cfg["drives"][0]
        assert d["path_on_host"] == new
        assert d["rate_limiter"]["ops"]["size"] == 100
        # flint now holds the new image open, not the old one.
        fds = [os.readlink(f"/proc/{vm.proc.pid}/fd/{fd}")
               for fd in os.listdir(f"/proc/{vm.proc.pid}/fd")]
        assert new in fds and old not in fds
        # A missing image is refused and the current one kept.
        r = a.patch("/drives/data", {"drive_id": "data",
                                     "path_on_host": str(tmp_path / "absent.img")})
        assert r.status == 400 and "absent.img" in r.fault, r
        assert a.get("/vm/config").json["drives"][0]["path_on_host"] == new
        # Unknown drive, and a path id that differs from the body's.
        assert a.patch("/drives/nope", {"drive_id": "nope", "path_on_host": new}).status == 400
        r = a.patch("/drives/data", {"drive_id": "other", "path_on_host": new})
        assert r.status == 400 and "does not match" in r.fault
        assert vm.alive()
    finally:
        vm.kill()
