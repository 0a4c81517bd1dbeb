"""``manage.py benchhttp``: ``POST /jobs`` throughput of the web server, against gunicorn.

Starts each server on a spare loopback port with a scratch SQLite database of its own
(web only, no workers): gunicorn as the service ran it before (2 processes x 4
threads, gthread) and ``serve``'s uvicorn processes. For each, clients on threads with
one kept-alive ``http.client`` connection each post no-op jobs for ``--seconds``, at
each of ``--connections``; then once more at the first of them while ``--slow``
connections send half a request and stall. Prints jobs/s, p50 and p99 latency and the
requests that failed or took over 2 s.
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.management.probe import SlowClients, free_port, request, wait_for

REQUEST_TIMEOUT_SECONDS = 2.0
BODY = json.dumps({"type": "noop", "payload": {}}).encode()


def gunicorn_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "jobqueue.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--threads", "4", "--worker-class", "gthread", "--no-control-socket",
    ]  # fmt: skip


def serve_command(port: int) -> list[str]:
    return [sys.executable, "manage.py", "serve", "--no-workers"]


SERVERS = {"gunicorn gthread 2x4": gunicorn_command, "uvicorn (serve) 2 processes": serve_command}


class Command(BaseCommand):
    help = "POST /jobs throughput and latency of the web server vs gunicorn, with and without slow clients."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=5.0, help="Length of each measurement (default 5).")
        parser.add_argument(
            "--connections", default="8,32", help="Comma-separated client connection counts (default 8,32)."
        )
        parser.add_argument("--slow", type=int, default=64, help="Slow clients in the last run (default 64).")

    def handle(self, *args, seconds, connections, slow, **options):
        counts = [int(count) for count in connections.split(",") if count.strip()]
        self.stdout.write(f"{'server':<30} {'load':<28} {'jobs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
        for name, command in SERVERS.items():
            with tempfile.TemporaryDirectory(prefix="jobqueue-benchhttp-", ignore_cleanup_errors=True) as scratch:
                port = free_port()
                server = self._start(command(port), port, scratch)
                try:
                    for count in counts:
                        self._row(name, f"{count} connections", run_load(port, count, seconds))
                    clients = SlowClients(port, slow)
                    try:
                        self._row(name, f"{counts[0]} conns + {slow} slow", run_load(port, counts[0], seconds))
                    finally:
                        clients.close()
                finally:
                    server.terminate()
                    server.wait()

    def _start(self, command, port, scratch) -> subprocess.Popen:
        env = {
            **os.environ,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "JOBQUEUE_VAR_DIR": scratch,
            "JOBQUEUE_DEMO_HANDLERS": "1",
            "DJANGO_SUPERUSER_PASSWORD": "bench-" + os.urandom(8).hex(),
            "WEB_CONCURRENCY": "2",
            # The web server's throughput, not the API keys' or rate limits' refusals.
            "JOBQUEUE_API_AUTH": "open",
            "JOBQUEUE_THROTTLE_ENQUEUE": "off",
            "JOBQUEUE_THROTTLE_READ": "off",
        }
        for name in ("MONGODB_URI", "DATABASE_URL"):
            env.pop(name, None)
        run = {"cwd": settings.BASE_DIR, "env": env}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, **run)
        os.makedirs(os.path.join(scratch, "static"), exist_ok=True)
        log = open(os.path.join(scratch, "server.log"), "w")
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **run)
        if not wait_for(lambda: request(port, timeout=1), timeout=60):
            server.kill()
            raise CommandError(f"{' '.join(command)} did not answer on port {port}")
        return server

    def _row(self, name, load, result):
        done, failed, latencies, elapsed = result
        p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
        p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) >= 2 else float("nan")
        self.stdout.write(f"{name:<30} {load:<28} {done / elapsed:>8.0f} {p50:>8.1f} {p99:>8.1f} {failed:>7}")


def run_load(port: int, connections: int, seconds: float):
    """``(jobs created, failed requests, latencies, elapsed)`` of ``connections`` threads
    posting jobs for ``seconds``; a request over ``REQUEST_TIMEOUT_SECONDS`` fails."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    counts = {"done": 0, "failed": 0}
    lock = threading.Lock()

    def client():
        connection = None
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                connection = connection or http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS
                )
                connection.request("POST", "/jobs", body=BODY, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                ok = response.status == 201
            except (OSError, http.client.HTTPException):
                ok = False
                if connection is not None:
                    connection.close()
                connection = None
            with lock:
                if ok:
                    counts["done"] += 1
                    latencies.append(time.monotonic() - started)
                else:
                    counts["failed"] += 1
        if connection is not None:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["done"], counts["failed"], latencies, time.monotonic() - started
