"""The worker pool: claims jobs, runs their handlers on threads, records the results.

One ``WorkerPool`` per process. Its threads:

* the **dispatcher** (whichever thread calls ``run()``) is the only one that talks to
  the store about jobs on the hot path. Each turn it records the results the workers
  handed back (one ``finish_many``: one durable commit for a batch of jobs), then claims
  at most as many due jobs as there are idle workers (one ``claim``). It claims again
  at once while the queue has work and sleeps only when the queue is empty, until a job
  is enqueued in this process (``jobs.wakeups``), the store reports an insert
  (``watch_inserts``), a worker hands back a result, or the poll interval passes. So a
  process polls once per interval however many threads it has.
* ``concurrency`` **workers** run handlers and nothing else.
* the **lease keeper** renews the leases of every held job in one call every lease/3,
  heartbeats the pool registry, and every few seconds reaps jobs whose worker was lost.
* when the store can push inserts (MongoDB change streams), a **watcher**.

A handler with a ``timeout`` runs on a thread of its own; when it outlives the timeout
the attempt is recorded as "timed out" and retried, and the thread, which Python cannot
kill, is abandoned: its late result is never written. ``ProcessSupervisor`` runs pools
in several processes and restarts any that dies; a supervised process with too many
abandoned threads drains and exits so that a fresh one replaces it.

Shutdown: ``stop()`` (the first SIGTERM/SIGINT) stops claiming; ``run()`` then waits up
to ``grace_period`` for running jobs and releases those still running (back to pending,
retryCount unchanged). A second signal exits at once; those jobs come back when their
leases expire.
"""

import contextlib
import contextvars
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from queue import SimpleQueue

from django.conf import settings
from django.db import connections

from jobs import wakeups
from jobs.handlers import DoNotRetry, Handler, JobContext, get_handler
from jobs.logcontext import job_log_context
from jobs.models import Attempt, Job, Outcome
from jobs.models import WorkerPool as PoolRecord
from jobs.retry import RetryStrategy
from jobs.stores import JobResult, JobStore, get_store, use_store
from jobs.timeutil import Clock, truncate_ms, utc_now

logger = logging.getLogger(__name__)

#: An attempt's error keeps the exception's message and the end of its traceback.
ERROR_TRACEBACK_LINES = 20
ERROR_MAX_CHARS = 4096
_MESSAGE_MAX_CHARS = 1024

#: Longest pause after the store failed a call, before trying again.
_MAX_ERROR_BACKOFF = 5.0
#: Results that could not be written are retried this many times, then left to the reaper.
_MAX_WRITE_FAILURES = 3
#: Exit code of a supervised worker process that asks to be replaced.
EXIT_RECYCLE = 3


class JobTimedOut(Exception):
    """A handler ran past its timeout; its thread was abandoned."""


class UnknownJobType(Exception):
    """No handler is registered in this worker for the job's type."""


def describe_error(error: BaseException) -> str:
    """What an attempt records about ``error``: ``Type: message``, then the last
    ``ERROR_TRACEBACK_LINES`` lines of its traceback, ``ERROR_MAX_CHARS`` at most."""
    message = str(error)
    headline = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if len(headline) > _MESSAGE_MAX_CHARS:
        headline = headline[: _MESSAGE_MAX_CHARS - 1] + "…"
    if error.__traceback__ is None:
        return headline
    lines = "".join(traceback.format_exception(error)).splitlines()
    trace = "\n".join(lines[-ERROR_TRACEBACK_LINES:])
    room = ERROR_MAX_CHARS - len(headline) - 2
    if len(trace) > room:
        trace = "…" + trace[-(room - 1) :]
    return f"{headline}\n\n{trace}"


def new_pool_id() -> str:
    """``host:pid:random``: unique, and says where the pool runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class _Execution:
    """A job this pool holds and whose handler has not handed back a result yet."""

    job: Job
    started_at: datetime | None = None
    thread: threading.Thread | None = None


class WorkerPool:
    """Claims due jobs and runs them on ``concurrency`` threads until stopped.

    Options default to settings: ``concurrency`` (JOBQUEUE_WORKERS), ``lease_seconds``
    (JOBQUEUE_LEASE_SECONDS), ``poll_interval`` (JOBQUEUE_POLL_INTERVAL) and
    ``retry_strategy`` (JOBQUEUE_RETRY_*). For tests and scripts: ``clock`` (aware UTC
    datetimes), ``max_jobs`` (claim that many jobs, finish them, return) and
    ``run_until_idle`` (return once no job is due and none is running). The step methods
    (``step``, ``claim_jobs``, ``write_results``, ``renew_leases``, ``reap_expired``,
    ``heartbeat``) are public so tests can drive a pool one move at a time.
    """

    def __init__(
        self,
        *,
        store: JobStore | None = None,
        concurrency: int | None = None,
        lease_seconds: float | None = None,
        poll_interval: float | None = None,
        grace_period: float = 30.0,
        retry_strategy: RetryStrategy | None = None,
        clock: Clock = utc_now,
        max_jobs: int | None = None,
        run_until_idle: bool = False,
        renew_interval: float | None = None,
        reap_interval: float | None = None,
        watch_inserts: bool = True,
        max_abandoned_threads: int | None = None,
        parent_pid: int | None = None,
        pool_id: str | None = None,
    ):
        self._store = store
        self.concurrency = concurrency or settings.JOBQUEUE_WORKERS
        if self.concurrency < 1:
            raise ValueError("a pool needs at least one worker thread")
        self.lease_seconds = lease_seconds or settings.JOBQUEUE_LEASE_SECONDS
        self.poll_interval = poll_interval or settings.JOBQUEUE_POLL_INTERVAL
        self.grace_period = grace_period
        self.retry_strategy = retry_strategy or RetryStrategy.from_settings()
        self.clock = clock
        self.max_jobs = max_jobs
        self.run_until_idle = run_until_idle
        # Renew well before expiry, so one slow or failed renewal does not lose a lease.
        self.renew_interval = renew_interval or self.lease_seconds / 3
        self.reap_interval = reap_interval or min(self.lease_seconds / 3, 5.0)
        self.watch_inserts = watch_inserts
        self.max_abandoned_threads = max_abandoned_threads
        self.parent_pid = parent_pid
        self.id = pool_id or new_pool_id()

        self._lock = threading.Lock()
        self._executing: dict[str, _Execution] = {}
        self._results: list[JobResult] = []
        self._released: set[str] = set()
        self._lost_leases: set[str] = set()  # already logged by the lease keeper
        self._stuck_threads: set[threading.Thread] = set()  # workers still in a released job
        self._abandoned: list[threading.Thread] = []
        self._jobs: SimpleQueue[Job | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []

        self._wake = threading.Event()  # anything for the dispatcher to do
        self._stopping = threading.Event()  # no more claims; handlers may look at it
        self._closed = threading.Event()  # helper threads exit
        self._new_work = False  # a job may have become due since the last claim
        self._queue_empty = False  # the last claim found fewer jobs than it asked for
        self._next_poll = 0.0  # monotonic time of the next claim when the queue looked empty
        self._error_backoff = 0.0
        self._write_failures = 0
        self._claimed_total = 0

        #: Results written, by kind ("complete", "retry", "fail", "release").
        self.recorded: Counter[str] = Counter()
        #: Results refused by the store because the lease was lost.
        self.lost = 0
        #: Set when the pool stopped itself to be replaced by a fresh process.
        self.recycle_requested = False

    # -- the public surface ------------------------------------------------------------------
    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = get_store()
        return self._store

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def idle(self) -> bool:
        """No job running or awaiting its write, and the last claim found no more due jobs."""
        return self._queue_empty and not self._executing and not self._results

    @property
    def running(self) -> int:
        """Jobs handed to workers whose results are not back yet."""
        return len(self._executing)

    def stop(self) -> None:
        """Stop claiming and let ``run()`` drain. Safe from signal handlers and any thread."""
        self._stopping.set()
        self._wake.set()

    def notify_new_work(self, *_args) -> None:
        """A job may have become due: claim at the next turn instead of the next poll."""
        self._new_work = True
        self._wake.set()

    def run(self) -> None:
        """Run until ``stop()`` (or ``max_jobs``/``run_until_idle``), then drain.

        Reaps at start, so jobs of a worker that died before this one started come back
        at once. Raises the store's error if it is unreachable at start.
        """
        self._register()
        try:
            self._start_threads()
            while not self._stopping.is_set():
                self._wake.clear()
                self.step()
                if self._finished_its_work():
                    break
                self._wake.wait(self._idle_timeout())
            self._drain()
        finally:
            self._shut_down()

    # -- steps of the dispatcher --------------------------------------------------------------
    def step(self) -> int:
        """One turn: record the results handed back, then claim for idle workers when a
        job may be due. How many jobs it claimed."""
        self.write_results()
        if self._stopping.is_set():
            return 0
        free = self.free_slots()
        wanted = self._new_work or not self._queue_empty or time.monotonic() >= self._next_poll
        if free == 0 or not wanted:
            return 0
        self._new_work = False
        try:
            claimed = self.claim_jobs(free)
        except Exception as error:
            self._store_failed("claiming jobs", error)
            return 0
        self._error_backoff = 0.0
        # Fewer jobs than idle workers: the queue is empty; wait for a wake-up or the poll.
        self._queue_empty = claimed < free
        self._next_poll = time.monotonic() + self.poll_interval
        return claimed

    def free_slots(self) -> int:
        """Workers without a job, less what ``max_jobs`` still allows."""
        free = self.concurrency - len(self._executing)
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self._claimed_total)
        return max(free, 0)

    def claim_jobs(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` (default: free workers) due jobs in one store call and
        hand them to the workers. How many it claimed."""
        limit = self.free_slots() if limit is None else limit
        if limit < 1:
            return 0
        jobs = self.store.claim(owner=self.id, limit=limit, now=self.clock(), lease_seconds=self.lease_seconds)
        with self._lock:
            for job in jobs:
                self._executing[job.id] = _Execution(job)
        self._claimed_total += len(jobs)
        for job in jobs:
            self._jobs.put(job)
        return len(jobs)

    def write_results(self) -> int:
        """Record every result handed back, in one ``finish_many``. How many were applied.

        A result the store refuses was fenced off: the lease was lost (expired and reaped,
        or taken over), so this worker's outcome is discarded and said so in the log.
        """
        with self._lock:
            batch, self._results = self._results, []
        if not batch:
            return 0
        try:
            applied = self.store.finish_many(batch, now=self.clock())
        except Exception as error:
            self._write_failures += 1
            if self._write_failures < _MAX_WRITE_FAILURES:
                with self._lock:  # keep them held (and renewed) and try again
                    self._results[:0] = batch
            else:
                logger.error(
                    "giving up recording %d job results; their leases will expire and they will run again",
                    len(batch),
                )
                self._write_failures = 0
            self._store_failed("recording job results", error)
            return 0
        self._write_failures = 0
        self._error_backoff = 0.0
        written = 0
        for result, ok in zip(batch, applied, strict=True):
            if ok:
                written += 1
                self.recorded[result.kind] += 1
            else:
                self.lost += 1
                logger.warning(
                    "worker %s lost the lease on job %s (%s) before recording its result (%s): "
                    "the job was reaped or taken over, so this result was discarded",
                    self.id,
                    result.job.id,
                    result.job.type,
                    result.attempt.outcome,
                )
            if result.kind in ("retry", "release"):
                self._new_work = True  # it may be due again at once
        return written

    # -- steps of the lease keeper ------------------------------------------------------------
    def renew_leases(self) -> int:
        """Extend the leases of every job this pool holds, in one store call. How many it kept.

        Logs each job whose lease was lost: its handler's result will be discarded.
        """
        with self._lock:
            held = [execution.job for execution in self._executing.values()]
            held.extend(result.job for result in self._results)
        if not held:
            return 0
        kept = self.store.renew(held, now=self.clock(), lease_seconds=self.lease_seconds)
        for job in held:
            if job.id in kept or job.id in self._lost_leases:
                continue
            with self._lock:
                still_held = job.id in self._executing or any(r.job.id == job.id for r in self._results)
            if still_held:
                self._lost_leases.add(job.id)
                logger.warning(
                    "worker %s lost the lease on job %s (%s): it expired and was reaped or taken over; "
                    "the handler keeps running but its result will be discarded",
                    self.id,
                    job.id,
                    job.type,
                )
        return len(kept)

    def reap_expired(self) -> int:
        """Return jobs whose lease expired (their worker was lost) to the queue. How many."""
        reaped = self.store.reap(now=self.clock(), retry_delay=self.retry_strategy)
        if reaped:
            logger.info("reaped %d jobs whose worker was lost", reaped)
            self.notify_new_work()
        return reaped

    def heartbeat(self) -> None:
        """Tell the pool registry this pool is alive and how many jobs it runs."""
        self.store.heartbeat_pool(self.id, running=len(self._executing), now=self.clock())

    # -- running one job (worker threads) -----------------------------------------------------
    def execute(self, job: Job) -> JobResult:
        """Run ``job``'s handler and say what became of it (nothing is written here)."""
        with job_log_context(job, worker=self.id):
            return self._execute(job)

    def _execute(self, job: Job) -> JobResult:
        handler = get_handler(job.type)
        started_at = self.clock()
        with self._lock:
            execution = self._executing.get(job.id)
            if execution is not None:
                execution.started_at = started_at
                execution.thread = threading.current_thread()
        context = JobContext(job=job, worker=self.id, stopping=self._stopping)
        try:
            if handler is None:
                raise UnknownJobType(f"no handler for job type {job.type!r} in this worker")
            if handler.timeout is None:
                handler.func(job.payload, context)
            else:
                self._call_with_timeout(handler, job, context)
        except DoNotRetry as error:
            return self._failure(job, started_at, Outcome.FAILED, error, final=True)
        except JobTimedOut as error:
            return self._failure(job, started_at, Outcome.TIMED_OUT, error)
        except BaseException as error:  # a handler's failure of any kind is the job's, not the pool's
            return self._failure(job, started_at, Outcome.FAILED, error)
        attempt = Attempt(started_at=started_at, finished_at=self.clock(), worker=self.id, outcome=Outcome.COMPLETED)
        return JobResult("complete", job, attempt)

    def _call_with_timeout(self, handler: Handler, job: Job, context: JobContext) -> None:
        """Run the handler on a thread of its own and stop waiting after its timeout."""
        raised: list[BaseException] = []
        done = threading.Event()

        def run_handler():
            try:
                handler.func(job.payload, context)
            except BaseException as error:
                raised.append(error)
            finally:
                done.set()
                connections.close_all()

        # The handler's own log lines carry the job's fields too (see jobs.logcontext).
        log_context = contextvars.copy_context()
        thread = threading.Thread(target=log_context.run, args=(run_handler,), name=f"job-{job.id}", daemon=True)
        thread.start()
        if not done.wait(handler.timeout):
            with self._lock:
                self._abandoned.append(thread)
            logger.warning(
                "job %s (%s) ran past its %g s timeout; its thread is abandoned and its result will be ignored",
                job.id,
                job.type,
                handler.timeout,
            )
            raise JobTimedOut(f"ran longer than the handler's {handler.timeout:g} s timeout")
        if raised:
            raise raised[0]

    def _failure(self, job: Job, started_at: datetime, outcome: str, error: BaseException, *, final=False):
        finished_at = self.clock()
        attempt = Attempt(
            started_at=started_at,
            finished_at=finished_at,
            worker=self.id,
            outcome=outcome,
            error=describe_error(error),
        )
        attempts = job.retry_count + 1
        if final or job.retry_count >= job.max_retries:
            logger.error(
                "job %s (%s) failed for good after %d attempts: %s",
                job.id,
                job.type,
                attempts,
                attempt.error.splitlines()[0],
            )
            return JobResult("fail", job, attempt)
        delay = self.retry_strategy(job.retry_count)
        logger.warning(
            "job %s (%s) attempt %d of %d %s (%s); retrying in %.1f s",
            job.id,
            job.type,
            attempts,
            job.max_retries + 1,
            outcome,
            attempt.error.splitlines()[0],
            delay,
        )
        return JobResult("retry", job, attempt, run_at=truncate_ms(finished_at + timedelta(seconds=delay)))

    def _hand_back(self, job: Job, result: JobResult) -> None:
        with self._lock:
            self._executing.pop(job.id, None)
            if job.id in self._released:
                self._released.discard(job.id)
                logger.info("job %s (%s) ended after it was released at shutdown; result ignored", job.id, job.type)
            else:
                self._results.append(result)
        self._wake.set()

    # -- threads ------------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                try:
                    result = self.execute(job)
                except Exception:  # a bug here must not lose the worker thread
                    logger.exception("worker %s could not run job %s", self.id, job.id)
                    with self._lock:
                        self._executing.pop(job.id, None)
                    continue
                self._hand_back(job, result)
        finally:
            connections.close_all()

    def _keep_leases(self) -> None:
        now = time.monotonic()
        next_renew, next_reap = now + self.renew_interval, now + self.reap_interval
        try:
            while not self._closed.wait(max(0.0, min(next_renew, next_reap) - time.monotonic())):
                now = time.monotonic()
                if now >= next_renew:
                    next_renew = now + self.renew_interval
                    self._guarded("renewing leases", self.renew_leases)
                    self._guarded("heartbeating the pool registry", self.heartbeat)
                    self._check_health()
                if now >= next_reap:
                    next_reap = now + self.reap_interval
                    self._guarded("reaping jobs of lost workers", self.reap_expired)
        finally:
            connections.close_all()

    def _guarded(self, what: str, step) -> None:
        try:
            step()
        except Exception as error:  # the store may be down for a moment; the next turn retries
            logger.warning("worker %s: %s failed: %s", self.id, what, error)

    def _check_health(self) -> None:
        """Stop when the supervisor is gone, or when abandoned threads pile up (a
        supervised process then exits and the supervisor starts a fresh one)."""
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            logger.warning("worker %s: the supervisor process is gone; stopping", self.id)
            self.stop()
        if self.max_abandoned_threads is None:
            return
        with self._lock:
            self._abandoned = [thread for thread in self._abandoned if thread.is_alive()]
            abandoned = len(self._abandoned)
        if abandoned >= self.max_abandoned_threads and not self._stopping.is_set():
            logger.warning(
                "worker %s: %d timed-out handlers are still running; restarting this process to be rid of them",
                self.id,
                abandoned,
            )
            self.recycle_requested = True
            self.stop()

    def _watch_inserts(self) -> None:
        """Let a store that can push inserts (MongoDB change streams) wake the pool."""
        watch = self.store.watch_inserts
        backoff = self.poll_interval
        try:
            while not self._closed.is_set():
                try:
                    supported = watch(self.notify_new_work, self._closed)
                except Exception as error:
                    logger.warning("watching for new jobs failed (%s); polling meanwhile", error)
                    backoff = min(backoff * 2, 30.0)
                    self._closed.wait(backoff)
                    continue
                if not supported:
                    logger.info("the store cannot push new jobs; polling every %g s", self.poll_interval)
                    return
        finally:
            connections.close_all()

    def _start_thread(self, target, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"{name}-{self.id}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    # -- start and stop -----------------------------------------------------------------------
    def _register(self) -> None:
        now = self.clock()
        self.reap_expired()
        self.store.register_pool(
            PoolRecord(
                id=self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.concurrency,
                running=0,
                started_at=now,
                heartbeat_at=now,
            )
        )

    def _start_threads(self) -> None:
        wakeups.subscribe(self.notify_new_work)
        for number in range(self.concurrency):
            self._start_thread(self._work, f"worker{number}")
        self._start_thread(self._keep_leases, "lease-keeper")
        if self.watch_inserts and hasattr(self.store, "watch_inserts"):
            self._start_thread(self._watch_inserts, "watch-inserts")
        logger.info(
            "worker pool %s started: %d threads, lease %g s, polling every %g s, on %s",
            self.id,
            self.concurrency,
            self.lease_seconds,
            self.poll_interval,
            self.store.describe(),
        )

    def _finished_its_work(self) -> bool:
        if self._executing or self._results:
            return False
        if self.max_jobs is not None and self._claimed_total >= self.max_jobs:
            return True
        return self.run_until_idle and self._queue_empty and not self._new_work

    def _idle_timeout(self) -> float:
        if self._error_backoff:
            return self._error_backoff
        if self.free_slots() and self._queue_empty:
            return max(0.0, self._next_poll - time.monotonic())
        # Every worker is busy: a result handed back wakes the dispatcher; the timeout
        # only bounds how long a missed wake-up could cost.
        return max(self.poll_interval, 1.0)

    def _store_failed(self, what: str, error: Exception) -> None:
        self._error_backoff = min(max(self._error_backoff * 2, self.poll_interval), _MAX_ERROR_BACKOFF)
        logger.warning("worker %s: %s failed (%s); trying again in %.2f s", self.id, what, error, self._error_backoff)

    def _drain(self) -> None:
        """Wait up to the grace period for running jobs; release those still running."""
        self._stopping.set()
        deadline = time.monotonic() + self.grace_period
        if self._executing:
            logger.info(
                "worker pool %s stopping: waiting up to %g s for %d running jobs",
                self.id,
                self.grace_period,
                len(self._executing),
            )
        while True:
            self._wake.clear()
            self.write_results()
            if not self._executing:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.release_running()
                break
            self._wake.wait(min(remaining, 1.0))
        self.write_results()

    def release_running(self) -> int:
        """Give every job still running back to the queue (retryCount unchanged). How many."""
        now = self.clock()
        with self._lock:
            executions = list(self._executing.values())
            self._executing.clear()
            self._released.update(execution.job.id for execution in executions)
            self._stuck_threads.update(execution.thread for execution in executions if execution.thread)
        if not executions:
            return 0
        releases = [
            JobResult(
                "release",
                execution.job,
                Attempt(
                    started_at=execution.started_at or execution.job.lease.started_at,
                    finished_at=now,
                    worker=self.id,
                    outcome=Outcome.RELEASED,
                    error="still running when the worker shut down; released to run again",
                ),
            )
            for execution in executions
        ]
        with self._lock:
            self._results.extend(releases)
        self.write_results()
        logger.warning(
            "worker pool %s released %d jobs still running after the %g s grace period: %s",
            self.id,
            len(executions),
            self.grace_period,
            ", ".join(execution.job.id for execution in executions),
        )
        return len(executions)

    def _shut_down(self) -> None:
        self._stopping.set()
        self._closed.set()
        for _ in range(self.concurrency):
            self._jobs.put(None)
        wakeups.unsubscribe(self.notify_new_work)
        deadline = time.monotonic() + 1.0
        for thread in self._threads:
            # Workers still in a released job's handler are daemons: they die with the process.
            if thread not in self._stuck_threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        try:
            self.store.unregister_pool(self.id)
        except Exception as error:
            logger.warning("worker %s: could not unregister from the pool registry: %s", self.id, error)
        logger.info(
            "worker pool %s stopped: %d completed, %d retried, %d failed, %d released, %d lost leases",
            self.id,
            self.recorded["complete"],
            self.recorded["retry"],
            self.recorded["fail"],
            self.recorded["release"],
            self.lost,
        )


# --- signals ------------------------------------------------------------------------------------

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def exit_now(code: int) -> None:
    """Leave the process at once (no draining), after flushing what was logged."""
    for handler in logging.getLogger().handlers + logging.getLogger("jobs").handlers:
        with contextlib.suppress(Exception):  # best effort on the way out
            handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_until_signalled(pool: WorkerPool, *, signals: Iterable[int] = STOP_SIGNALS) -> None:
    """Run ``pool`` in the main thread: the first signal drains it, a second exits at once."""

    def on_signal(signum, frame):
        name = signal.Signals(signum).name
        if not pool.stopping:
            logger.info(
                "%s received: no new jobs; finishing running ones (up to %g s). Send it again to exit at once.",
                name,
                pool.grace_period,
            )
            pool.stop()
        else:
            logger.warning("second %s: exiting now; unfinished jobs run again when their leases expire", name)
            exit_now(128 + signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in signals}
    try:
        pool.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- several processes --------------------------------------------------------------------------


def _run_worker_process(pool_options: dict, parent_pid: int) -> None:
    """Body of a supervised worker process (started by fork)."""
    # Ctrl-C reaches the whole process group; the supervisor relays it as one SIGTERM,
    # so a child ignores SIGINT instead of seeing it twice and exiting at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Never reuse the parent's database connections or MongoDB client: each process opens its own.
    connections.close_all()
    use_store(None)
    pool = WorkerPool(parent_pid=parent_pid, **pool_options)
    # The supervisor blocked the stop signals around fork; take them from here on.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))
    run_until_signalled(pool, signals=(signal.SIGTERM,))
    sys.exit(EXIT_RECYCLE if pool.recycle_requested else 0)


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class ProcessSupervisor:
    """Runs ``processes`` worker processes of one pool each, and restarts any that dies.

    A process that exits with code 0 on its own (``max_jobs``/``run_until_idle``) is done
    and not replaced. The first SIGTERM/SIGINT is relayed to every process as SIGTERM
    (they drain); a second one is relayed too (they exit at once) and the supervisor exits.
    """

    #: A process that dies sooner than this after starting doubles the wait before the
    #: next restart (up to ``MAX_RESTART_DELAY``), so a crash loop does not spin.
    QUICK_DEATH_SECONDS = 10.0
    MAX_RESTART_DELAY = 30.0

    def __init__(self, *, processes: int, pool_options: dict, restart_delay: float = 1.0):
        if processes < 1:
            raise ValueError("at least one process")
        self.processes = processes
        self.pool_options = pool_options
        self.restart_delay = restart_delay
        self._context = multiprocessing.get_context("fork")
        self._children: list = [None] * processes
        self._started_at = [0.0] * processes
        self._restart_at: list[float | None] = [None] * processes
        self._restart_delay = [restart_delay] * processes
        self._stopping = False
        self._unclean = 0

    def run(self) -> int:
        """Supervise until every process has ended; 0 when all of them stopped cleanly."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            for slot in range(self.processes):
                self._start(slot)
            while any(child is not None for child in self._children) or self._pending_restarts():
                self._wait_and_reap_children()
                self._restart_due()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 1 if self._unclean else 0

    def _on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if not self._stopping:
            self._stopping = True
            logger.info("%s received: stopping %d worker processes (send it again to exit at once)", name, self.live)
            self._signal_children(signal.SIGTERM)
        else:
            logger.warning("second %s: worker processes exit now", name)
            self._signal_children(signal.SIGTERM)
            exit_now(128 + signum)

    @property
    def live(self) -> int:
        return sum(1 for child in self._children if child is not None and child.is_alive())

    def _signal_children(self, signum: int) -> None:
        for child in self._children:
            if child is not None and child.pid and child.is_alive():
                try:
                    os.kill(child.pid, signum)
                except ProcessLookupError:  # it just exited
                    pass

    def _start(self, slot: int) -> None:
        # Block the stop signals across fork so that a signal arriving before the child
        # has set up its own handlers waits for them instead of running ours in the child.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
        try:
            child = self._context.Process(
                target=_run_worker_process,
                args=(self.pool_options, os.getpid()),
                name=f"jobqueue-worker-{slot}",
            )
            child.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._children[slot] = child
        self._started_at[slot] = time.monotonic()
        self._restart_at[slot] = None
        logger.info("worker process %d started (slot %d)", child.pid, slot)

    def _pending_restarts(self) -> bool:
        return not self._stopping and any(at is not None for at in self._restart_at)

    def _wait_and_reap_children(self) -> None:
        sentinels = [child.sentinel for child in self._children if child is not None]
        due = [at for at in self._restart_at if at is not None]
        timeout = 0.5 if not due else max(0.0, min(0.5, min(due) - time.monotonic()))
        if sentinels:
            multiprocessing.connection.wait(sentinels, timeout=timeout)
        else:
            time.sleep(timeout)
        for slot, child in enumerate(self._children):
            if child is None or child.is_alive():
                continue
            child.join()
            self._children[slot] = None
            code = child.exitcode
            if self._stopping:
                if code != 0:
                    self._unclean += 1
                logger.info("worker process %d stopped (%s)", child.pid, describe_exit(code))
            elif code == 0:
                logger.info("worker process %d finished its work", child.pid)
            else:
                now = time.monotonic()
                if now - self._started_at[slot] < self.QUICK_DEATH_SECONDS and code != EXIT_RECYCLE:
                    delay = self._restart_delay[slot]
                    self._restart_delay[slot] = min(delay * 2, self.MAX_RESTART_DELAY)
                else:
                    delay = self._restart_delay[slot] = self.restart_delay
                self._restart_at[slot] = max(now, self._started_at[slot] + delay)
                level = logging.INFO if code == EXIT_RECYCLE else logging.ERROR
                logger.log(
                    level,
                    "worker process %d died (%s); starting a new one in %.0f s",
                    child.pid,
                    describe_exit(code),
                    max(0.0, self._restart_at[slot] - now),
                )

    def _restart_due(self) -> None:
        if self._stopping:
            self._restart_at = [None] * self.processes
            return
        now = time.monotonic()
        for slot, at in enumerate(self._restart_at):
            if at is not None and at <= now and self._children[slot] is None:
                self._start(slot)
