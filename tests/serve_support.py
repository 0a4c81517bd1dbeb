"""Starting a real `manage.py serve` (what `make run` starts) on a free port for a test."""

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage_check(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess:
    """``manage.py check`` with this environment plus ``settings`` (var dir: ``tmp_path``)."""
    env = {**os.environ, "JOBQUEUE_VAR_DIR": str(tmp_path), **settings}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url, body=None):
    """(status, decoded JSON body) of one GET, or of a POST of ``body`` as JSON."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=5) as response:
        return response.status, json.loads(response.read())


def try_request(url):
    """What ``request`` returns, or None while nothing answers yet."""
    try:
        return request(url)
    except OSError:
        return None


def serve_env(tmp_path: Path, port: int, **settings: str) -> dict[str, str]:
    """This process's environment for a `serve` on ``port`` with its own var dir under
    ``tmp_path``, the demo handlers, one web worker and, as `make run` has, an open API;
    plus ``settings``. No inherited store URL: a test that wants one sets it in ``settings``."""
    env = {**os.environ}
    env.pop("MONGODB_URI", None)
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "PORT": str(port),
            "JOBQUEUE_VAR_DIR": str(tmp_path / "var"),
            "JOBQUEUE_DEMO_HANDLERS": "1",
            "WEB_CONCURRENCY": "1",
            "JOBQUEUE_API_AUTH": "open",
            **settings,
        }
    )
    return env


def start_serve(env: dict[str, str], *, concurrency: int, stdout, stderr=subprocess.STDOUT) -> subprocess.Popen:
    """Start `manage.py serve --concurrency N` from the repository root; the caller stops it."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--concurrency", str(concurrency)],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=stderr,
    )


def kill_if_running(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
