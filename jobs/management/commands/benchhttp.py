"""``manage.py benchhttp``: ``POST /jobs`` throughput and latency of ``serve``, as ``make run`` runs it.

Starts ``manage.py serve`` (web server processes and, unless ``--no-workers``, its worker
pool processing the jobs as they come) on a spare loopback port with a scratch SQLite
database, the API open and rate limits off (the server's speed, not the throttles'
refusals). An asyncio client (``jobs.management.httpload``: raw kept-alive connections,
cheap enough not to take a core from the server) posts no-op jobs for ``--seconds`` at
each of ``--connections``, then once more at the first of them while ``--slow``
connections send half a request and stall. Each row: jobs/s, p50/p99 latency, failed
requests (another status, or none within 2 s), the web processes' CPU milliseconds per
job, the jobs the workers finished per second meanwhile, and the load average.

``--variant WEB_THREADS=32`` runs this checkout again with those environment variables,
and ``--baseline DIR`` runs the same rows against another checkout of the project (say the
main branch: ``git worktree add /tmp/base main``) in interleaved rounds, so that a
change is measured against what it changes under the same machine load. ``--gunicorn``
adds gunicorn as the service used to run (2 processes x 4 threads, gthread; web only).
``--api-key`` measures the production configuration instead: ``JOBQUEUE_API_AUTH=required``
and a key, created in each scratch database, sent with every request (so the posts go
through Django and DRF, not the fast path).
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.management.httpload import post_request, run_load
from jobs.management.probe import Service, SlowClients, free_port, request, wait_for

REQUEST_TIMEOUT_SECONDS = 2.0
BODY = json.dumps({"type": "noop", "payload": {}}).encode()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    """User + system CPU time so far of the processes ``pids`` (those still alive)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def completed_jobs(port: int, headers: dict[str, str]) -> int | None:
    """The completed jobs ``GET /stats`` counts (sent with ``headers``), or ``None``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/stats", headers=headers)
        response = connection.getresponse()
        body = response.read()
        return json.loads(body)["byStatus"]["completed"] if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError, KeyError):
        return None
    finally:
        connection.close()


def _assignment(text: str) -> tuple[str, str]:
    name, equals, value = text.strip().partition("=")
    if not equals or not name:
        raise CommandError(f"--variant {text!r} is not NAME=VALUE")
    return name, value


class ServeTarget:
    """``manage.py serve`` from checkout ``cwd``, with or without its workers; with
    ``api_key``, API keys required and one made for the benchmark (``headers`` carry it)."""

    def __init__(self, name: str, cwd: Path, *, workers: bool, env: dict | None = None, api_key: bool = False):
        self.name, self.cwd, self.workers, self.api_key = name, cwd, workers, api_key
        self.env = {"WEB_CONCURRENCY": "2", **({"JOBQUEUE_API_AUTH": "required"} if api_key else {}), **(env or {})}
        self.service: Service | None = None
        self.headers: dict[str, str] = {}

    def start(self) -> int:
        self.service = Service(cwd=self.cwd, env=self.env)
        self.service.start(*([] if self.workers else ["--no-workers"]))
        # Without a key the API answers 401, which is an answer: ready all the same.
        if not self.service.wait_ready():
            self.stop()
            raise CommandError(f"serve in {self.cwd} did not answer on port {self.service.port}")
        if self.api_key:
            self.headers = {"Authorization": f"Bearer {self._create_key()}"}
        return self.service.port

    def _create_key(self) -> str:
        """A key of the checkout's own ``createapikey``, in the scratch database ``serve`` migrated."""
        made = subprocess.run(
            [sys.executable, "manage.py", "createapikey", "benchhttp", "--scopes", "enqueue,read"],
            cwd=self.cwd, env=self.service.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if made.returncode != 0 or not made.stdout.strip():
            self.stop()
            raise CommandError(f"createapikey in {self.cwd} failed: {made.stderr.strip()[-500:]}")
        return made.stdout.strip()

    def web_pids(self) -> list[int]:
        return [pid for pid, line in self.service.processes().items() if "jobqueue.webserver" in line]

    def stop(self):
        if self.service is not None:
            self.service.cleanup()
            self.service = None


class GunicornTarget:
    """gunicorn as the service ran it before ``serve`` had a web server of its own."""

    name = "gunicorn gthread 2x4"
    headers: dict[str, str] = {}

    def __init__(self):
        self.process = None
        self.scratch = None

    def start(self) -> int:
        self.scratch = tempfile.TemporaryDirectory(prefix="jobqueue-benchhttp-", ignore_cleanup_errors=True)
        port = free_port()
        env = {
            **os.environ,
            "JOBQUEUE_VAR_DIR": self.scratch.name,
            "JOBQUEUE_DEMO_HANDLERS": "1",
            "JOBQUEUE_API_AUTH": "open",
            "JOBQUEUE_THROTTLE_ENQUEUE": "off",
            "JOBQUEUE_THROTTLE_READ": "off",
        }
        for name in ("MONGODB_URI", "DATABASE_URL"):
            env.pop(name, None)
        run = {"cwd": settings.BASE_DIR, "env": env}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, **run)
        command = [
            sys.executable, "-m", "gunicorn", "jobqueue.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--threads", "4", "--worker-class", "gthread", "--no-control-socket",
        ]  # fmt: skip
        log = open(os.path.join(self.scratch.name, "server.log"), "w")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **run)
        log.close()
        if not wait_for(lambda: request(port, timeout=1), timeout=60):
            self.stop()
            raise CommandError(f"gunicorn did not answer on port {port}")
        return port

    def web_pids(self) -> list[int]:
        from jobs.management.probe import children_of

        return [self.process.pid, *children_of(self.process.pid)]

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait()
            self.process = None
        if self.scratch is not None:
            self.scratch.cleanup()
            self.scratch = None


class Command(BaseCommand):
    help = "POST /jobs throughput and latency of serve (with its workers), optionally against a baseline checkout."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=5.0, help="Length of each measurement (default 5).")
        parser.add_argument(
            "--connections", default="8,32", help="Comma-separated client connection counts (default 8,32)."
        )
        parser.add_argument("--slow", type=int, default=64, help="Slow clients in the last row (default 64; 0: none).")
        parser.add_argument("--rounds", type=int, default=1, help="Interleaved rounds of every row (default 1).")
        parser.add_argument("--no-workers", action="store_true", help="Serve the API only, as `serve --no-workers`.")
        parser.add_argument(
            "--baseline",
            type=Path,
            action="append",
            default=[],
            help="Another checkout of the project to measure in turn (repeatable).",
        )
        parser.add_argument("--gunicorn", action="store_true", help="Measure gunicorn (web only) in turn too.")
        parser.add_argument(
            "--api-key",
            action="store_true",
            help="As in production: JOBQUEUE_API_AUTH=required, and a key sent with every request.",
        )
        parser.add_argument(
            "--variant",
            action="append",
            default=[],
            metavar="NAME=VALUE[,NAME=VALUE]",
            help="Measure this checkout in turn with these environment variables too (repeatable), "
            "e.g. --variant WEB_THREADS=32.",
        )

    def handle(
        self, *args, seconds, connections, slow, rounds, no_workers, baseline, gunicorn, variant, api_key, **options
    ):
        counts = [int(count) for count in connections.split(",") if count.strip()]
        if not counts:
            raise CommandError("--connections names no connection count")
        if api_key and gunicorn:
            raise CommandError("--api-key measures serve only; leave out --gunicorn")
        self.keyed = api_key
        for checkout in baseline:
            if not (checkout / "manage.py").exists():
                raise CommandError(f"--baseline {checkout} is not a checkout of the project (no manage.py)")
        serve = {"workers": not no_workers, "api_key": api_key}
        targets = [ServeTarget("serve (this checkout)", settings.BASE_DIR, **serve)]
        for assignments in variant:
            env = dict(_assignment(text) for text in assignments.split(",") if text.strip())
            targets.append(ServeTarget(assignments, settings.BASE_DIR, env=env, **serve))
        for checkout in baseline:
            targets.append(ServeTarget(f"serve ({checkout.name})", checkout, **serve))
        if gunicorn:
            targets.append(GunicornTarget())
        loads = [(count, 0) for count in counts] + ([(counts[0], slow)] if slow else [])
        self.stdout.write(
            f"{'server':<26} {'load':<24} {'jobs/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'failed':>6}"
            f" {'web CPU ms/job':>14} {'processed/s':>11} {'load avg':>8}"
        )
        self.stdout.flush()
        ports = {}
        try:
            for target in targets:
                ports[target] = target.start()
            for _ in range(rounds):
                for count, stalled in loads:
                    for target in targets:
                        self._row(target, ports[target], count, stalled, seconds)
        finally:
            for target in targets:
                target.stop()

    def _row(self, target, port, count, stalled, seconds):
        pids = target.web_pids()
        clients = SlowClients(port, stalled) if stalled else None
        try:
            completed_before = completed_jobs(port, target.headers)
            cpu_before = cpu_seconds(pids)
            result = run_load(
                port, connections=count, seconds=seconds, request=post_request("/jobs", BODY, headers=target.headers),
                timeout=REQUEST_TIMEOUT_SECONDS,
            )  # fmt: skip
            cpu_used = cpu_seconds(pids) - cpu_before
            completed_after = completed_jobs(port, target.headers)
        finally:
            if clients is not None:
                clients.close()
        load = f"{count} conns" + (" keyed" if self.keyed else "") + (f" + {stalled} slow" if stalled else "")
        latencies = result.latencies
        p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
        p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) >= 2 else float("nan")
        cpu_per_job = cpu_used * 1000 / result.done if result.done else float("nan")
        processed = (
            (completed_after - completed_before) / result.elapsed
            if completed_before is not None and completed_after is not None
            else float("nan")
        )
        self.stdout.write(
            f"{target.name:<26} {load:<24} {result.rate:>7.0f} {p50:>7.1f} {p99:>7.1f} {result.failed:>6}"
            f" {cpu_per_job:>14.2f} {processed:>11.0f} {os.getloadavg()[0]:>8.1f}"
        )
        if result.failed:
            self.stdout.write(f"{'':<26} failed: {result.describe_failures()}")
        self.stdout.flush()
