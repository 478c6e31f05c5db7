"""flint's logger and metrics as a Firecracker user sees them: the log line
format with its options, log files and FIFOs (a FIFO nobody reads costs lines,
never progress), metrics objects in files and FIFOs with Firecracker's group
and key names."""
import json
import os
import re
import select
import threading
import time

import pytest

from apiclient import PRE_BOOT_MSG, TEST_GUEST, Flint, read_metrics

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}) \[([^\]]*)\] (.*)$")

# Firecracker's metric keys, group by group, for the groups flint reports
# (from Firecracker's FirecrackerMetrics and its host_tools/fcmetrics.py).
FC_KEYS = {
    "api_server": ["process_startup_time_us", "process_startup_time_cpu_us",
                   "sync_response_fails", "sync_vmm_send_timeout_count"],
    "get_api_requests": ["instance_info_count", "machine_cfg_count", "mmds_count",
                         "vmm_version_count"],
    "i8042": ["error_count", "missed_read_count", "missed_write_count", "read_count",
              "reset_count", "write_count"],
    "latencies_us": ["full_create_snapshot", "diff_create_snapshot", "load_snapshot",
                     "pause_vm", "resume_vm", "vmm_full_create_snapshot",
                     "vmm_diff_create_snapshot", "vmm_load_snapshot", "vmm_pause_vm",
                     "vmm_resume_vm"],
    "logger": ["missed_metrics_count", "metrics_fails", "missed_log_count", "log_fails"],
    "patch_api_requests": ["drive_count", "drive_fails", "network_count", "network_fails",
                           "machine_cfg_count", "machine_cfg_fails", "mmds_count", "mmds_fails"],
    "put_api_requests": ["actions_count", "actions_fails", "boot_source_count",
                         "boot_source_fails", "drive_count", "drive_fails", "logger_count",
                         "logger_fails", "machine_cfg_count", "machine_cfg_fails",
                         "cpu_cfg_count", "cpu_cfg_fails", "metrics_count", "metrics_fails",
                         "network_count", "network_fails", "mmds_count", "mmds_fails",
                         "vsock_count", "vsock_fails"],
    "seccomp": ["num_faults"],
    "vcpu": ["exit_io_in", "exit_io_out", "exit_mmio_read", "exit_mmio_write", "failures"],
    "vmm": ["panic_count"],
    "uart": ["error_count", "flush_count", "missed_read_count", "missed_write_count",
             "read_count", "write_count"],
}


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


def log_lines(path):
    with open(path, errors="replace") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def parse(line):
    m = LINE.match(line)
    assert m, f"not a Firecracker log line: {line!r}"
    return m.group(2).split(":"), m.group(3)


class FifoReader:
    """Reads a FIFO in a thread, as a log or metrics consumer would."""

    def __init__(self, path):
        self.path = path
        self.data = b""
        self.lock = threading.Lock()
        self.stop = False
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except BlockingIOError:
                    continue
                with self.lock:
                    self.data += chunk

    def lines(self):
        with self.lock:
            return self.data.decode(errors="replace").splitlines()

    def wait(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.lines()):
                return self.lines()
            time.sleep(0.02)
        raise AssertionError(f"FIFO {self.path}: condition not met; got {self.lines()[-5:]}")

    def close(self):
        self.stop = True
        self.thread.join(2)
        os.close(self.fd)


def drain(path):
    """Everything queued in a FIFO (read non-blocking until empty)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data


# --- Logger -----------------------------------------------------------------

def test_put_logger_file_with_level_and_origin(tmp_path, flint):
    log = str(tmp_path / "fc.log")
    f = flint(["--id", "vm-log-1"])
    r = f.api.put("/logger", {"log_path": log, "level": "Info", "show_level": True,
                              "show_log_origin": True})
    assert r.status == 204, r
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE")
    assert f.api.patch("/vm", {"state": "Paused"}).status == 204
    lines = log_lines(log)
    running = [l for l in lines if "Running microVM with 1 vCPU(s) and 128 MiB" in l]
    assert len(running) == 1, lines
    fields, _ = parse(running[0])
    assert fields[0] == "vm-log-1" and fields[1] == "main" and fields[2] == "INFO", fields
    assert re.fullmatch(r"[\w/]+\.c", fields[3]) and fields[4].isdigit(), fields
    paused = [l for l in lines if "'pause vm' VMM action took" in l]
    assert paused and parse(paused[0])[0][2:4] == ["INFO", "api/handle_instance.c"]
    for l in lines:
        parse(l)


def test_put_logger_turns_flags_off(tmp_path, flint):
    """show_level / show_log_origin false turn a flag off; leaving one out
    keeps it (Firecracker's Option<bool>), also one set on the command line."""
    log = str(tmp_path / "fc.log")
    f = flint(["--show-level"])
    a = f.api
    assert a.put("/logger", {"log_path": log, "show_log_origin": True}).status == 204
    assert a.put("/logger", {"level": "Info"}).status == 204
    cfg = a.get("/vm/config").json["logger"]
    assert (cfg["log_path"], cfg["show_level"], cfg["show_log_origin"]) == (log, None, True)
    assert a.put("/logger", {"show_level": False}).status == 204
    assert a.get("/vm/config").json["logger"]["show_level"] is False
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE")
    running = [l for l in log_lines(log) if "Running microVM" in l]
    assert len(running) == 1, log_lines(log)
    fields, _ = parse(running[0])
    # [id:thread:file:line]: the origin stayed on, the level went off.
    assert len(fields) == 4 and fields[1] == "main", fields
    assert fields[2].endswith(".c") and fields[3].isdigit(), fields
    g = flint(["--show-level", "--show-log-origin"], sock_name="api2.sock")
    log2 = str(tmp_path / "fc2.log")
    assert g.api.put("/logger", {"log_path": log2, "show_log_origin": False}).status == 204
    g.boot_test_guest("tests=timer reset=none")
    g.wait_serial("ALL DONE")
    running = [l for l in log_lines(log2) if "Running microVM" in l]
    fields, _ = parse(running[0])
    assert fields[2:] == ["INFO"], fields


def test_log_path_flag_plain_format(tmp_path, flint):
    log = str(tmp_path / "fc.log")
    f = flint(["--log-path", log])
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE")
    lines = log_lines(log)
    listening = [l for l in lines if "API server listening on " + f.sock in l]
    assert listening, lines
    fields, msg = parse(listening[0])
    # Without show_level/show_log_origin: [instance id:thread] only.
    assert fields == ["anonymous-instance", "main"], fields
    assert any("Running microVM" in l for l in lines)
    assert "Running microVM" not in f.stderr()


def test_log_level_and_module_filters(tmp_path, flint):
    warn_log, api_log = str(tmp_path / "warn.log"), str(tmp_path / "api.log")
    f = flint(["--log-path", warn_log, "--level", "Warning", "--show-level"])
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE")
    assert all(parse(l)[0][2] in ("WARN", "ERROR") for l in log_lines(warn_log))
    assert not any("Running microVM" in l for l in log_lines(warn_log))
    f.kill()
    g = flint(["--log-path", api_log, "--module", "api/", "--show-log-origin"],
              sock_name="api2.sock")
    g.boot_test_guest("tests=timer reset=none")
    g.wait_serial("ALL DONE")
    assert g.api.patch("/vm", {"state": "Paused"}).status == 204
    assert g.api.patch("/vm", {"state": "Resumed"}).status == 204
    lines = log_lines(api_log)
    assert len(lines) >= 2, lines
    assert all(parse(l)[0][2].startswith("api/") for l in lines), lines


def test_logger_fifo(tmp_path, flint):
    fifo = str(tmp_path / "log.fifo")
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    try:
        f = flint()
        assert f.api.put("/logger", {"log_path": fifo, "show_level": True}).status == 204
        f.boot_test_guest("tests=timer reset=none")
        lines = reader.wait(lambda ls: any("Running microVM" in l for l in ls))
        for l in lines:
            parse(l)
    finally:
        reader.close()


def test_logger_fifo_nobody_reads_never_blocks(tmp_path, flint):
    """A log FIFO that nobody reads fills up; flint drops and counts lines
    (logger.missed_log_count) and keeps answering promptly."""
    fifo, metrics = str(tmp_path / "log.fifo"), str(tmp_path / "metrics.json")
    os.mkfifo(fifo)
    f = flint(["--metrics-path", metrics])
    a = f.api
    # Nobody has the FIFO open: this must neither block nor fail.
    assert a.put("/logger", {"log_path": fifo, "level": "Info", "show_level": True,
                             "show_log_origin": True}).status == 204
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE")
    worst = 0.0
    # Each pause/resume logs four lines of ~120 bytes: 600 of them are far
    # more than a pipe holds (64 KiB).
    for _ in range(600):
        for state in ("Paused", "Resumed"):
            t = time.monotonic()
            assert a.patch("/vm", {"state": state}).status == 204
            worst = max(worst, time.monotonic() - t)
    assert worst < 2.0, worst  # a blocked write would hang here for good
    assert a.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    m = read_metrics(metrics)[-1]
    assert m["logger"]["missed_log_count"] > 0, m["logger"]
    # What did get through is whole lines.
    data = drain(fifo).decode(errors="replace")
    assert data.endswith("\n") and len(data) > 32768
    for l in data.splitlines():
        parse(l)
    assert a.get("/").json["state"] == "Running"
    # After the reader drained the pipe, lines flow again.
    assert a.patch("/vm", {"state": "Paused"}).status == 204
    assert "microVM paused" in drain(fifo).decode()


# --- Metrics ----------------------------------------------------------------

def check_fc_keys(obj):
    assert abs(obj["utc_timestamp_ms"] - time.time() * 1000) < 10000
    for group, keys in FC_KEYS.items():
        assert group in obj, group
        missing = [k for k in keys if k not in obj[group]]
        assert not missing, (group, missing)
        assert all(isinstance(v, int) and v >= 0 for v in obj[group].values()), obj[group]


def test_metrics_file(tmp_path, flint):
    metrics = str(tmp_path / "metrics.json")
    f = flint()
    a = f.api
    r = a.put("/actions", {"action_type": "FlushMetrics"})
    assert (r.status, r.fault) == (400, PRE_BOOT_MSG)
    assert a.put("/metrics", {"metrics_path": metrics}).status == 204
    assert a.put("/actions", {"action_type": "FlushMetrics"}).fault == PRE_BOOT_MSG
    assert a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 0}).status == 400
    assert a.get("/machine-config").status == 200
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE pass=1")
    f.wait_serial("guest: halting")  # its last output: from here on it sleeps
    assert a.get("/").status == 200
    assert a.get("/version").status == 200
    assert a.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    assert a.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    with open(metrics) as fd:
        text = fd.read()
    assert text.endswith("\n")
    objs = [json.loads(l) for l in text.splitlines()]
    assert len(objs) == 2  # one object per line per flush
    first, second = objs
    check_fc_keys(first)
    assert first["api_server"]["process_startup_time_us"] > 0
    assert first["api_server"]["process_startup_time_cpu_us"] > 0
    put, get = first["put_api_requests"], first["get_api_requests"]
    # 4 actions (2 FlushMetrics refused, InstanceStart, this flush); the
    # machine-config PUTs of the test and boot_test_guest. The refusals
    # came from the VMM (pre-boot, a bad value), not from parsing: not
    # *_fails in Firecracker (test_api_request_metrics_as_firecracker).
    assert (put["actions_count"], put["actions_fails"]) == (4, 0), put
    assert (put["machine_cfg_count"], put["machine_cfg_fails"]) == (2, 0), put
    assert (put["metrics_count"], put["boot_source_count"]) == (1, 1), put
    assert (get["machine_cfg_count"], get["instance_info_count"], get["vmm_version_count"]) \
        == (1, 1, 1), get
    assert first["vcpu"]["exit_io_out"] > 0 and first["vcpu"]["exit_mmio_write"] >= 1
    assert first["uart"]["write_count"] > 100
    # Counters are deltas since the previous flush; start-up times stay.
    assert second["put_api_requests"]["actions_count"] == 1
    assert second["put_api_requests"]["machine_cfg_count"] == 0
    assert second["vcpu"]["exit_io_out"] == 0  # the guest halted
    assert second["uart"]["write_count"] == 0
    assert second["api_server"]["process_startup_time_us"] == \
        first["api_server"]["process_startup_time_us"]
    assert "id" not in first


def test_api_request_metrics_as_firecracker(tmp_path, flint):
    """Firecracker counts a request in <kind>_count once its parser has
    picked the route, and in <kind>_fails when that parser refuses it (the
    body, an empty id, ids that disagree). What the VMM refuses later (the
    VM state, a bad value, a missing file) and what never reached a route
    (unknown path, wrong method, no body) are not failures."""
    metrics = str(tmp_path / "metrics.json")
    f = flint(["--metrics-path", metrics])
    a = f.api
    mc = {"vcpu_count": 1, "mem_size_mib": 128}
    drive = {"drive_id": "d", "path_on_host": str(tmp_path / "none.img"),
             "is_root_device": False}
    expect = [  # method, path, body, status
        ("PUT", "/machine-config", dict(mc, bogus=1), 400),       # parse: fails
        ("PUT", "/machine-config", dict(mc, mem_size_mib=0), 400),  # value: VMM
        ("PATCH", "/machine-config", {"vcpu_count": "2"}, 400),   # parse: fails
        ("PATCH", "/machine-config", {}, 400),                    # empty: not a fail
        ("PUT", "/drives", drive, 400),                           # empty id: fails
        ("PUT", "/drives/a-b", drive, 400),                       # bad id: counted
        ("PUT", "/drives/x", drive, 400),                         # ids differ: fails
        ("PUT", "/drives/d", drive, 400),                         # no such file: VMM
        ("PATCH", "/drives/d", {"drive_id": "d"}, 400),           # pre-boot: VMM
        ("PUT", "/logger", {"level": "Loud"}, 400),               # parse: fails
        ("GET", "/nope", None, 400),                              # no route
        ("POST", "/drives/d", drive, 400),                        # no route
    ]
    for method, path, body, status in expect:
        r = a.request(method, path, body)
        assert r.status == status, (method, path, r)
    r = a.request("PUT", "/machine-config", raw="")
    assert r.fault == "Empty PUT request."
    f.boot_test_guest("tests=timer reset=none")  # one more machine-config PUT
    assert a.put("/machine-config", mc).status == 400       # post-boot: VMM
    assert a.put("/logger", {"level": "Info"}).status == 400  # post-boot: VMM
    assert a.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    m = read_metrics(metrics)[-1]
    put, patch = m["put_api_requests"], m["patch_api_requests"]
    assert (put["machine_cfg_count"], put["machine_cfg_fails"]) == (4, 1), put
    assert (patch["machine_cfg_count"], patch["machine_cfg_fails"]) == (2, 1), patch
    assert (put["drive_count"], put["drive_fails"]) == (4, 2), put
    assert (patch["drive_count"], patch["drive_fails"]) == (1, 0), patch
    assert (put["logger_count"], put["logger_fails"]) == (2, 1), put
    assert (put["actions_count"], put["actions_fails"]) == (2, 0), put
    assert m["api_server"]["sync_response_fails"] == 0


def test_metrics_flushed_every_60_seconds(tmp_path, flint):
    """Without any FlushMetrics a metrics object is written 60 s after the
    metrics were configured, with the counters since the previous flush
    (this test waits for it: about 65 s)."""
    metrics = str(tmp_path / "metrics.json")
    t0 = time.monotonic()
    f = flint(["--metrics-path", metrics])  # the period starts here
    f.boot_test_guest("tests=timer reset=none")
    f.wait_serial("ALL DONE")
    assert f.api.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    assert len(read_metrics(metrics)) == 1
    time.sleep(max(0.0, t0 + 55 - time.monotonic()))
    assert len(read_metrics(metrics)) == 1, "flushed before the period ended"
    while len(read_metrics(metrics)) < 2 and time.monotonic() < t0 + 80:
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    objs = read_metrics(metrics)
    assert len(objs) == 2, f"no periodic flush after {elapsed:.1f} s"
    assert 59.5 <= elapsed < 75, elapsed
    check_fc_keys(objs[1])
    assert objs[1]["put_api_requests"]["actions_count"] == 0  # a delta: none since
    assert objs[1]["utc_timestamp_ms"] - objs[0]["utc_timestamp_ms"] > 50000
    assert f.alive()


def test_metrics_path_flag_and_emit_id(tmp_path, flint):
    metrics = str(tmp_path / "metrics.json")
    f = flint(["--id", "vm-metrics-7"])
    props = {"team": "blue", "quote\"d": "tab\there"}
    assert f.api.put("/metrics", {"metrics_path": metrics, "emit_id": True,
                                  "properties": props}).status == 204
    # Initialized once, as Firecracker's metrics.
    r = f.api.put("/metrics", {"metrics_path": str(tmp_path / "other.json")})
    assert (r.status, r.fault) == (400, "Reinitialization of metrics not allowed."), r
    assert f.api.get("/vm/config").json["metrics"] == {
        "metrics_path": metrics, "emit_id": True, "properties": props}
    f.boot_test_guest("tests=timer reset=none")
    assert f.api.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    obj = read_metrics(metrics)[-1]
    assert obj["id"] == "vm-metrics-7"
    assert obj["properties"] == props
    check_fc_keys(obj)
    f.kill()
    g = flint(["--metrics-path", str(tmp_path / "m2.json")], sock_name="api2.sock")
    r = g.api.put("/metrics", {"metrics_path": str(tmp_path / "m3.json")})
    assert (r.status, r.fault) == (400, "Reinitialization of metrics not allowed."), r
    g.boot_test_guest("tests=timer reset=none")
    assert g.api.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    check_fc_keys(read_metrics(str(tmp_path / "m2.json"))[-1])


def test_metrics_fifo(tmp_path, flint):
    fifo = str(tmp_path / "metrics.fifo")
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    try:
        f = flint(["--metrics-path", fifo])
        f.boot_test_guest("tests=timer reset=none")
        f.wait_serial("ALL DONE")
        for _ in range(3):
            assert f.api.put("/actions", {"action_type": "FlushMetrics"}).status == 204
        lines = reader.wait(lambda ls: len(ls) >= 3)
        objs = [json.loads(l) for l in lines]
        assert len(objs) == 3
        for o in objs:
            check_fc_keys(o)
        assert [o["put_api_requests"]["actions_count"] for o in objs] == [2, 1, 1]
    finally:
        reader.close()


def test_metrics_fifo_nobody_reads_never_blocks(tmp_path, flint):
    fifo = str(tmp_path / "metrics.fifo")
    os.mkfifo(fifo)
    f = flint()
    # Opening a FIFO nobody reads must not block or fail.
    assert f.api.put("/metrics", {"metrics_path": fifo}).status == 204
    f.boot_test_guest("tests=timer reset=none")
    statuses = []
    t = time.monotonic()
    for _ in range(100):
        r = f.api.put("/actions", {"action_type": "FlushMetrics"})
        statuses.append(r.status)
    assert time.monotonic() - t < 10
    assert set(statuses) <= {204, 400}
    assert 400 in statuses  # the pipe filled up
    # A reader comes: what is queued, then one more flush, which first
    # finishes an object the full pipe had cut short, are whole objects.
    data = drain(fifo)
    assert f.api.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    data += drain(fifo)
    assert data.endswith(b"\n")
    objs = [json.loads(l) for l in data.decode().splitlines()]
    assert len(objs) == statuses.count(204) + 1
    assert objs[-1]["logger"]["missed_metrics_count"] >= 1, objs[-1]["logger"]
