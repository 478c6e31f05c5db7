"""PUT /actions SendCtrlAltDel reaches the guest's i8042 keyboard as the
Ctrl, Alt and Delete key presses, and a guest that reboots on them ends
flint with status 0."""
import json
import os
import socket
import subprocess
import time

from conftest import FLINT, TEST_GUEST


def request(sock_path, method, path, body=None):
    data = json.dumps(body) if body is not None else ""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall((f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
               f"{data}").encode())
    reply = s.recv(65536).decode()
    s.close()
    return int(reply.split()[1])


def test_send_ctrl_alt_del_reboots_the_guest(tmp_path, test_guest):
    sock = str(tmp_path / "api.sock")
    p = subprocess.Popen([FLINT, "--api-sock", sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        assert request(sock, "PUT", "/boot-source",
                       {"kernel_image_path": TEST_GUEST, "boot_args": "tests=kbd"}) == 204
        assert request(sock, "PUT", "/actions", {"action_type": "InstanceStart"}) == 204
        time.sleep(0.5)
        assert p.poll() is None  # the guest waits for the keys
        assert request(sock, "PUT", "/actions", {"action_type": "SendCtrlAltDel"}) == 204
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "kbd: ctrl-alt-del" in out, out
    assert "TEST kbd PASS" in out
    assert p.returncode == 0
    assert "reset through the i8042" in err
