"""``manage.py chaos``: do to a real ``serve`` what production does, and measure it.

Starts ``manage.py serve`` (as ``make run`` does) on a spare loopback port with its own
var dir, then: kills one web server process and the worker pool with SIGKILL while
polling the API, holds 64 slow connections open, holds SQLite's write lock, starts a
second ``serve`` on the taken port, sends SIGHUP, and SIGKILLs ``serve`` itself and
restarts it on the same port. One line per scenario says what was measured; the
command fails (exit status 1) when a scenario does not hold.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.management.probe import Service, SlowClients, alive, request, wait_for

# What must hold (the bounds), with the settings the service is started with.
ORPHAN_BOUND_SECONDS = 2.0
STATS_BOUND_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 2
STORE_TIMEOUT_SECONDS = 1
SLOW_CLIENTS = 64
CHAOS_ENV = {
    "WEB_READ_TIMEOUT": str(READ_TIMEOUT_SECONDS),
    "JOBQUEUE_STORE_TIMEOUT": str(STORE_TIMEOUT_SECONDS),
    "WEB_CONCURRENCY": "2",
}


class Command(BaseCommand):
    help = "Kill, starve and lock a real `serve` on a spare port; print one line per scenario."

    def handle(self, *args, **options):
        self.failures = []
        service = Service(env=CHAOS_ENV)
        try:
            self._start(service)
            self.kill_web_server(service)
            self.kill_worker_pool(service)
            self.slow_clients(service)
            self.locked_store(service)
            self.port_taken(service)
            self.hangup(service)
            self.kill_serve(service)
        finally:
            service.cleanup()
        if self.failures:
            raise CommandError(f"{len(self.failures)} scenario(s) failed: {', '.join(self.failures)}")
        self.stdout.write("chaos: every scenario held")

    # -- scenarios ------------------------------------------------------------------------
    def kill_web_server(self, service):
        answered, failed, replaced = self._kill_while_polling(service, "jobqueue.webserver")
        self._report(
            "kill -9 web server",
            replaced is not None and failed == 0,
            f"{answered} API requests answered, {failed} failed meanwhile; "
            + (f"restarted in {replaced:.2f} s" if replaced is not None else "NOT restarted"),
        )

    def kill_worker_pool(self, service):
        answered, failed, replaced = self._kill_while_polling(service, "runworkers")
        status = request(service.port, "POST", "/jobs", {"type": "noop"})
        job_id = status[2]["id"] if status and status[0] == 201 else None
        done = job_id and wait_for(
            lambda: (request(service.port, path=f"/jobs/{job_id}") or (0, 0, {}))[2].get("status") == "completed",
            timeout=15,
        )
        self._report(
            "kill -9 worker pool",
            replaced is not None and bool(done) and failed == 0,
            f"{answered} API requests answered, {failed} failed meanwhile; "
            + (f"restarted in {replaced:.2f} s" if replaced is not None else "NOT restarted")
            + f"; a new job {'completed' if done else 'did NOT complete'}",
        )

    def slow_clients(self, service):
        clients = SlowClients(service.port, SLOW_CLIENTS)
        try:
            timings = []
            for _ in range(5):
                started = time.monotonic()
                answer = request(service.port, timeout=STATS_BOUND_SECONDS * 5)
                timings.append(time.monotonic() - started if answer and answer[0] == 200 else float("inf"))
            cut = clients.cut_off(timeout=READ_TIMEOUT_SECONDS + 5)
        finally:
            clients.close()
        slowest = max(timings)
        self._report(
            f"{SLOW_CLIENTS} slow clients",
            slowest <= STATS_BOUND_SECONDS and cut == SLOW_CLIENTS,
            f"GET /stats answered in at most {slowest:.3f} s; {cut}/{SLOW_CLIENTS} stalled clients cut "
            f"(read timeout {READ_TIMEOUT_SECONDS} s)",
        )

    def locked_store(self, service):
        database = service.var_dir / "var" / "jobqueue.sqlite3"
        before = request(service.port, path="/stats")
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            answer = request(service.port, "POST", "/jobs", {"type": "noop"}, timeout=STORE_TIMEOUT_SECONDS + 10)
            elapsed = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        after = request(service.port, path="/stats")
        status = answer[0] if answer else None
        unchanged = before and after and before[2].get("total") == after[2].get("total")
        retry_after = answer and "retry-after" in answer[1]
        self._report(
            "locked store",
            status == 503 and bool(retry_after) and bool(unchanged),
            f"POST /jobs answered {status} in {elapsed:.2f} s (store timeout {STORE_TIMEOUT_SECONDS} s), "
            f"Retry-After {'sent' if retry_after else 'MISSING'}, "
            f"{'nothing stored' if unchanged else 'the job count CHANGED'}",
        )

    def port_taken(self, service):
        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, "manage.py", "serve"],
            cwd=settings.BASE_DIR,
            env=service.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
        lines = [line for line in second.stderr.splitlines() if str(service.port) in line]
        self._report(
            "port taken",
            second.returncode != 0 and bool(lines),
            f"a second serve exited with {second.returncode} after {elapsed:.2f} s: "
            f"{lines[0] if lines else second.stderr.strip()[-200:]!r}",
        )

    def hangup(self, service):
        processes = service.processes()
        started = time.monotonic()
        service.process.send_signal(signal.SIGHUP)
        exited = wait_for(lambda: service.process.poll() is not None, timeout=40)
        left = wait_for(lambda: not [pid for pid in processes if alive(pid)], timeout=ORPHAN_BOUND_SECONDS)
        elapsed = time.monotonic() - started
        survivors = [pid for pid in processes if alive(pid)]
        self._report(
            "SIGHUP serve",
            bool(exited and left),
            f"serve exited with {service.process.returncode} after {elapsed:.2f} s; "
            f"{len(survivors)} of {len(processes)} processes left",
        )

    def kill_serve(self, service):
        self._start(service)
        processes = service.processes()
        started = time.monotonic()
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()
        gone = wait_for(lambda: not [pid for pid in processes if alive(pid)], timeout=ORPHAN_BOUND_SECONDS)
        orphan_seconds = time.monotonic() - started
        survivors = [pid for pid in processes if alive(pid)]
        restarted = time.monotonic()
        service.start()
        answered = service.wait_ready(timeout=60) and service.process.poll() is None
        restart_seconds = time.monotonic() - restarted
        self._report(
            "kill -9 serve",
            bool(gone) and answered,
            f"{len(survivors)} of {len(processes)} processes left after {orphan_seconds:.2f} s; "
            f"the next serve {'answered' if answered else 'did NOT answer'} "
            f"on the same port in {restart_seconds:.1f} s",
        )

    # -- helpers ----------------------------------------------------------------------------
    def _start(self, service):
        service.start()
        if not service.wait_ready(timeout=90):
            raise CommandError(f"serve did not start on port {service.port}:\n{service.log()[-3000:]}")
        # The pool is a child too: wait until it is there, so that it can be killed.
        if not wait_for(lambda: service.pid_of("runworkers"), timeout=30):
            raise CommandError("serve started no worker pool")

    def _kill_while_polling(self, service, marker: str) -> tuple[int, int, float | None]:
        """SIGKILL the first child whose command line has ``marker``, and poll
        ``GET /stats`` until as many such children run again (at most 15 s): requests
        answered, requests failed, and the seconds until it was replaced (``None``: never)."""
        before = [pid for pid, line in service.processes().items() if marker in line]
        if not before:
            raise CommandError(f"no {marker} process found")
        victim = before[0]
        answered = failed = 0
        started = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        while time.monotonic() < started + 15:
            answer = request(service.port, timeout=STATS_BOUND_SECONDS * 5)
            if answer and answer[0] == 200:
                answered += 1
            else:
                failed += 1
            running = [pid for pid, line in service.processes().items() if marker in line]
            if victim not in running and len(running) == len(before):
                return answered, failed, time.monotonic() - started
            time.sleep(0.05)
        return answered, failed, None

    def _report(self, scenario: str, held: bool, measured: str):
        if not held:
            self.failures.append(scenario)
        self.stdout.write(f"{'ok  ' if held else 'FAIL'} {scenario}: {measured}")
