"""Helpers for the worker tests: pools on threads, test handlers, and real worker
processes on a file database."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

from jobs import handlers
from jobs.retry import RetryStrategy
from jobs.stores.sql.statements import INBOX_AS_JOBS
from jobs.worker import PoolOptions, WorkerPool
from tests.gates import gate_path, started_path

MANAGE_PY = str(Path(__file__).resolve().parent.parent / "manage.py")

#: The lease of the pools ``make_pool`` builds (seconds).
LEASE = 30.0


def make_pool(store, clock=None, **options):
    """A two-thread pool on ``store`` that polls fast, retries at once and by default stops
    when idle; ``options`` override any ``PoolOptions`` field, ``clock`` the pool's clock."""
    defaults = {
        "concurrency": 2,
        "lease_seconds": LEASE,
        "poll_interval": 0.01,
        "grace_period": 5.0,
        "retry_strategy": RetryStrategy(base_delay=0, max_delay=0),
        "run_until_idle": True,
    }
    collaborators = {"store": store} if clock is None else {"store": store, "clock": clock}
    return WorkerPool(PoolOptions(**{**defaults, **options}), **collaborators)


@contextmanager
def claim_limits(store):
    """Spy on ``store.claim`` while the block runs: yields the list of the ``limit`` each
    call asked for, in order."""
    limits = []
    original_claim = store.claim

    def spy_claim(**kwargs):
        limits.append(kwargs["limit"])
        return original_claim(**kwargs)

    store.claim = spy_claim
    try:
        yield limits
    finally:
        del store.claim


def run_at_once(action, count: int, *, timeout: float = 30.0) -> tuple[list, list]:
    """Call ``action`` on ``count`` threads released together by a barrier and join them:
    ``(results, errors)``, what the calls returned and what they raised. Each thread closes
    its database connections when done, as ``run_in_threads``' do: left open, they kept
    PostgreSQL from dropping the test database at the end of the run."""
    start = threading.Barrier(count, timeout=timeout)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(action())
        except Exception as error:  # handed to the caller
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * timeout)
    return results, errors


def wait_until(predicate, *, timeout: float = 30.0, what: str = "the condition"):
    """Poll ``predicate`` until it returns something truthy (returned) or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def run_in_threads(work, count: int, *, timeout: float | None = 60.0) -> list[Exception]:
    """Run ``work(name)`` on ``count`` threads at once (named ``w0``, ``w1``, ...), each
    closing its database connections when done; wait up to ``timeout`` s for each.
    Returns what they raised: a thread cannot fail the test itself."""
    errors: list[Exception] = []

    def run(name):
        try:
            work(name)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(f"w{n}",)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors


class PoolThread:
    """Runs ``pool.run()`` on a thread; ``join()`` fails the test if it hangs or raised."""

    def __init__(self, pool):
        self.pool = pool
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"test-{pool.id}", daemon=True)

    def _run(self):
        try:
            self.pool.run()
        except BaseException as error:
            self.error = error

    def start(self) -> "PoolThread":
        self.thread.start()
        return self

    def join(self, timeout: float = 30.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"pool {self.pool.id} did not stop within {timeout} s"
        if self.error is not None:
            raise self.error

    def stop(self, timeout: float = 30.0) -> None:
        self.pool.stop()
        self.join(timeout)

    def __enter__(self) -> "PoolThread":
        """``with PoolThread(pool):`` runs the pool for the block and stops it afterwards."""
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def run_pool(pool, timeout: float = 120.0):
    """Run a pool (``run_until_idle``/``max_jobs``) to its end on a thread, with a deadline."""
    PoolThread(pool).start().join(timeout)
    return pool


class TemporaryHandlers:
    """Registers handlers for one test and forgets them afterwards."""

    def __init__(self):
        self.names: list[str] = []

    def add(self, name: str, func, **options):
        handlers.handler(name, **options)(func)
        self.names.append(name)
        return func

    def clear(self):
        for name in self.names:
            handlers.unregister(name)


# --- real worker processes ------------------------------------------------------------------


class Deployment:
    """A migrated SQLite file database and the environment for ``manage.py`` on it."""

    def __init__(self, directory: Path, **env: str):
        self.directory = directory
        self.database = directory / "db.sqlite3"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "MONGODB_URI": "",
            "DJANGO_SECRET_KEY": "worker-tests",
            "DJANGO_SETTINGS_MODULE": "tests.process_settings",
            "JOBQUEUE_VAR_DIR": str(directory),
            "JOBQUEUE_DEMO_HANDLERS": "1",
            "JOBQUEUE_LEASE_SECONDS": "2",
            "JOBQUEUE_MAX_CLOCK_SKEW": "0",  # one host, one clock
            "JOBQUEUE_RETRY_BASE_DELAY": "0",
            "JOBQUEUE_POLL_INTERVAL": "0.05",
            "JOBQUEUE_LOG_LEVEL": "INFO",
            **env,
        }
        self.processes: list[subprocess.Popen] = []
        self.manage("migrate", "--no-input", "-v", "0")

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` to its end; its stdout. Fails the test on a non-zero exit."""
        done = subprocess.run(
            [sys.executable, MANAGE_PY, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def enqueue(self, type: str, payload: dict, count: int = 1) -> list[str]:
        """Enqueue ``count`` jobs through the service layer, in another process; their ids."""
        code = (
            "import json; from jobs.services import enqueue; "
            f"print(json.dumps([enqueue({type!r}, {payload!r}).id for _ in range({count})]))"
        )
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def start_workers(self, *args: str, name: str = "workers") -> subprocess.Popen:
        """Start ``runworkers`` with ``args``; its output goes to ``<name>.log``."""
        log = open(self.directory / f"{name}.log", "w")  # closed by cleanup()
        process = subprocess.Popen(
            [sys.executable, MANAGE_PY, "runworkers", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        process.log_path = self.directory / f"{name}.log"
        process.log_file = log
        self.processes.append(process)
        return process

    def enqueue_gated(self, gate: str, count: int = 1) -> list[str]:
        """Enqueue ``file-gate`` jobs that run until ``open_gate(gate)``; their ids."""
        return self.enqueue("file-gate", {"gate": gate}, count=count)

    def started(self, job_ids) -> list[str]:
        """Those of ``job_ids`` whose handler has started."""
        return [job_id for job_id in job_ids if started_path(self.directory, job_id).exists()]

    def open_gate(self, gate: str) -> None:
        gate_path(self.directory, gate).touch()

    def log(self, process: subprocess.Popen) -> str:
        process.log_file.flush()
        return process.log_path.read_text()

    def jobs(self) -> dict[str, dict]:
        """Every job row by id, read straight from the database file (the jobs table and the
        inbox of jobs not yet moved into it, read as job rows)."""
        with sqlite3.connect(self.database, timeout=30) as connection:
            connection.row_factory = sqlite3.Row
            rows = [
                *connection.execute("SELECT * FROM jobs_job").fetchall(),
                *connection.execute(INBOX_AS_JOBS).fetchall(),
            ]
        jobs = {}
        for row in rows:
            job = dict(row)
            job["attempts"] = json.loads(job["attempts"])
            jobs[job["id"]] = job
        return jobs

    def pools(self) -> list[dict]:
        with sqlite3.connect(self.database, timeout=30) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute("SELECT * FROM jobs_workerpool").fetchall()]

    def with_status(self, status: str) -> list[str]:
        return [job_id for job_id, job in self.jobs().items() if job["status"] == status]

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            process.log_file.close()


class FailingWrites:
    """A store whose ``record_results`` fails its first ``failures`` calls, then works;
    everything else goes straight to the wrapped store."""

    def __init__(self, store, *, failures: int):
        self._store = store
        self.failures_left = failures
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    def record_results(self, results, **options):
        self.calls += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise OSError("injected: the write did not reach the database")
        return self._store.record_results(results, **options)


class FailingCommits:
    """A store whose ``one_transaction`` rolls back its first ``failures`` transactions
    after everything inside them succeeded, as a failed commit does; everything else
    goes straight to the wrapped store."""

    def __init__(self, store, *, failures: int):
        self._store = store
        self.failures_left = failures

    def __getattr__(self, name):
        return getattr(self._store, name)

    @contextmanager
    def _failing(self, transaction):
        with transaction:
            yield
            self.failures_left -= 1
            raise OSError("injected: the commit did not reach the disk")

    def one_transaction(self):
        transaction = self._store.one_transaction()
        if transaction is None or self.failures_left <= 0:
            return transaction
        return self._failing(transaction)
