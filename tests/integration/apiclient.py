"""A flint process driven through its API socket, for the API, logger and
metrics tests (and bench/bench_api.py): start it, talk HTTP/1.1 over the
Unix socket with the standard library, watch the guest's serial console."""
import http.client
import json
import os
import socket
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLINT = os.path.abspath(os.environ.get("FLINT_BIN", os.path.join(ROOT, "build", "flint")))
GUEST_DIR = os.environ.get("FLINT_GUEST_DIR", os.path.join(ROOT, "build", "guest"))
TEST_GUEST = os.path.join(GUEST_DIR, "test-guest.elf")

PRE_BOOT_MSG = "The requested operation is not supported before starting the microVM."
POST_BOOT_MSG = "The requested operation is not supported after starting the microVM."


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix stream socket (Host: localhost)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.sock_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.sock_path)
        self.sock = s


class Reply:
    def __init__(self, status, body):
        self.status = status
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def fault(self):
        return (self.json or {}).get("fault_message", "")

    def __repr__(self):
        return f"Reply({self.status}, {self.body!r})"


class Api:
    """One persistent connection to the API socket."""

    def __init__(self, sock_path, timeout=10):
        self.conn = UnixHTTPConnection(sock_path, timeout)

    def request(self, method, path, body=None, raw=None, headers=None):
        """body: a JSON-able object; raw: bytes/str sent as is."""
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        hdrs = {"Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        return Reply(resp.status, resp.read().decode(errors="replace"))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def close(self):
        self.conn.close()


def wait_for_socket(path, timeout=5.0):
    """Poll until something accepts on the Unix socket at path."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.001)
        finally:
            s.close()
    return False


class Flint:
    """A flint process with --api-sock in workdir. Serial output (stdout) is
    collected by a thread; stderr goes to a file."""

    def __init__(self, workdir, args=(), sock_name="api.sock", wait=True, cwd=None, prefix=()):
        self.workdir = str(workdir)
        self.sock = os.path.join(self.workdir, sock_name)
        self.stderr_path = os.path.join(self.workdir, "flint.stderr")
        self._lines = []
        self._partial = b""
        self._cond = threading.Condition()
        self._err = open(self.stderr_path, "wb")
        # prefix: e.g. ["ip", "netns", "exec", NS] (it execs flint in place).
        self.proc = subprocess.Popen(list(prefix) + [FLINT, "--api-sock", self.sock] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err, cwd=cwd or self.workdir)
        self._reader = threading.Thread(target=self._read_serial, daemon=True)
        self._reader.start()
        self._api = None
        if wait and not wait_for_socket(self.sock):
            self.kill()
            raise RuntimeError(f"flint did not open {self.sock}: {self.stderr()}")

    def _read_serial(self):
        for line in iter(self.proc.stdout.readline, b""):
            with self._cond:
                self._lines.append(line.decode(errors="replace").rstrip("\r\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def api(self):
        if self._api is None:
            self._api = Api(self.sock)
        return self._api

    def serial(self):
        with self._cond:
            return list(self._lines)

    def wait_serial(self, needle, timeout=30.0):
        """Wait for a serial line containing needle; returns it (or fails)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no serial line with {needle!r}; got {self._lines[-20:]}"
                                         f" stderr={self.stderr()[-2000:]}")
                self._cond.wait(min(left, 0.1))

    def stderr(self):
        if not self._err.closed:
            self._err.flush()
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout=30):
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def boot_test_guest(self, boot_args, vcpus=1, mem_mib=128):
        a = self.api
        r = a.put("/boot-source", {"kernel_image_path": TEST_GUEST, "boot_args": boot_args})
        assert r.status == 204, r
        r = a.put("/machine-config", {"vcpu_count": vcpus, "mem_size_mib": mem_mib})
        assert r.status == 204, r
        r = a.put("/actions", {"action_type": "InstanceStart"})
        assert r.status == 204, r

    def kill(self):
        if self._api:
            self._api.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        self._err.close()


def read_metrics(path):
    """Every metrics object in a metrics file, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
