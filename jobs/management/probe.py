"""Drive a real ``manage.py serve`` from outside, as an operator (or the OOM killer) would:
start it on a port with its own var dir, find its processes, kill them, hold slow
connections open, time requests. Used by ``manage.py chaos`` and the serve tests.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

POLL_SECONDS = 0.02


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float):
    """``predicate()``'s first truthy value, polled until ``timeout`` seconds; else ``None``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(POLL_SECONDS)


def request(port: int, method: str = "GET", path: str = "/stats", body=None, timeout: float = 5.0):
    """``(status, lower-cased headers, parsed JSON body)`` of one request, or ``None`` if it failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        content = response.read()
        return (
            response.status,
            {k.lower(): v for k, v in response.headers.items()},
            json.loads(content) if content else None,
        )
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it holds nothing but its exit status.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux ``/proc``)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return [child for child in found if alive(child)]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class SlowClients:
    """``count`` connections that send a request's headers and part of its body, then stall."""

    def __init__(self, port: int, count: int):
        self.sockets = []
        head = (
            b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"type": "noop", "payload": {"pad": "'
        )
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            self.sockets.append(sock)

    def cut_off(self, timeout: float) -> int:
        """How many of them the server closed (EOF or an answer, then EOF) within ``timeout``."""
        deadline = time.monotonic() + timeout
        closed = 0
        for sock in self.sockets:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                while sock.recv(4096):
                    pass
                closed += 1
            except ConnectionResetError:
                closed += 1
            except OSError:
                pass
        return closed

    def close(self):
        for sock in self.sockets:
            sock.close()


class Service:
    """``manage.py serve`` in a child process with its own var dir, port and log."""

    def __init__(
        self, *, port: int | None = None, var_dir: Path | None = None, env: dict | None = None, cwd: Path | None = None
    ):
        self.port = port or free_port()
        # Another checkout of the project (a benchmark's baseline); this one by default.
        self.cwd = Path(cwd or settings.BASE_DIR)
        self._scratch = None if var_dir else tempfile.TemporaryDirectory(prefix="jobqueue-serve-")
        self.var_dir = Path(var_dir or self._scratch.name)
        self.log_path = self.var_dir / "serve.log"
        self.env = {
            **os.environ,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "JOBQUEUE_VAR_DIR": str(self.var_dir / "var"),
            "JOBQUEUE_DEMO_HANDLERS": "1",
            "DJANGO_SUPERUSER_PASSWORD": "probe-" + os.urandom(8).hex(),
            # Probes load the server as `make run` starts it: API open, and (they send far
            # more than a client's budget from one address) no rate limits.
            "JOBQUEUE_API_AUTH": "open",
            "JOBQUEUE_THROTTLE_ENQUEUE": "off",
            "JOBQUEUE_THROTTLE_READ": "off",
            **(env or {}),
        }
        for name in ("MONGODB_URI", "DATABASE_URL"):
            self.env.pop(name, None)
        self.process: subprocess.Popen | None = None

    def start(self, *arguments: str) -> subprocess.Popen:
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", *arguments],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self.process

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Whether the API answered, and the worker pool (if any) started, within ``timeout``."""
        return bool(wait_for(lambda: request(self.port, timeout=1), timeout=timeout))

    def processes(self) -> dict[int, str]:
        """Live descendants of ``serve``: pid -> command line."""
        return {pid: command_line(pid) for pid in children_of(self.process.pid)}

    def pid_of(self, marker: str) -> int | None:
        return next((pid for pid, line in self.processes().items() if marker in line), None)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self):
        """Kill ``serve`` and everything it started (the test's own clean-up)."""
        if self.process is None:
            return
        leftovers = self.processes()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        for pid in leftovers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self._scratch:
            self._scratch.cleanup()
