"""The worker pool: claims jobs, runs their handlers on threads, records the results.

One ``WorkerPool`` per process. Its threads:

* the **dispatcher** (whichever thread calls ``run()``) is the only one that talks to
  the store about jobs on the hot path. Each turn it records the results the workers
  handed back (one ``record_results``: one durable commit for a batch of jobs), then
  claims at most as many due jobs as there are idle workers (one ``claim``). It claims
  again at once while the queue has work and sleeps only when the queue is empty, until
  a job is enqueued in this process (``jobs.wakeups``), the store reports an insert
  (``watch_inserts``), a worker hands back a result, or the poll interval passes. So a
  process polls once per interval however many threads it has.
* ``concurrency`` **workers** run handlers (``execution``) and nothing else.
* the **lease keeper** (``leases``) renews leases, heartbeats and reaps.
* when the store can push inserts (MongoDB change streams), a **watcher**.

Shutdown: ``stop()`` (the first SIGTERM/SIGINT) stops claiming; ``run()`` then waits up
to ``grace_period`` for running jobs and releases those still running (back to pending,
retryCount unchanged). Results not yet written are still written while their leases hold.
"""

import logging
import os
import socket
import threading
import time
import uuid
from queue import SimpleQueue

from django.db import connections

from jobs import wakeups
from jobs.models import Attempt, Job, Outcome, PoolInfo
from jobs.results import Completed, Failed, Released, Retried
from jobs.stores import JobStore, get_store
from jobs.timeutil import Clock, utc_now
from jobs.worker.execution import Executor
from jobs.worker.holdings import Holdings
from jobs.worker.leases import LeaseKeeper
from jobs.worker.options import PoolOptions
from jobs.worker.recorder import ResultRecorder

logger = logging.getLogger(__name__)

#: Longest pause after the store failed a call, before trying again.
_MAX_ERROR_BACKOFF = 5.0


def new_pool_id() -> str:
    """``host:pid:random``: unique, and says where the pool runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkerPool:
    """Claims due jobs and runs them on ``options.concurrency`` threads until stopped.

    ``options`` default to ``PoolOptions.from_settings()``; ``store`` to the process's
    store; ``clock`` (aware UTC datetimes) to the wall clock. The step methods (``step``,
    ``claim_jobs``, ``write_results``, ``renew_leases``, ``reap_expired``, ``heartbeat``)
    are public so tests can drive a pool one move at a time.
    """

    def __init__(self, options: PoolOptions | None = None, *, store: JobStore | None = None, clock: Clock = utc_now):
        self.options = options or PoolOptions.from_settings()
        self.id = self.options.pool_id or new_pool_id()
        self._store = store
        self.clock = clock
        self.holdings = Holdings()
        self._stopping = threading.Event()  # no more claims; handlers may look at it
        self._closed = threading.Event()  # helper threads exit
        self._wake = threading.Event()  # anything for the dispatcher to do
        self.executor = Executor(
            worker_id=self.id, clock=clock, retry_strategy=self.options.retry_strategy, stopping=self._stopping
        )
        self.recorder = ResultRecorder(worker_id=self.id, holdings=self.holdings, store=lambda: self.store, clock=clock)
        self.lease_keeper = LeaseKeeper(
            worker_id=self.id,
            options=self.options,
            holdings=self.holdings,
            store=lambda: self.store,
            clock=clock,
            abandoned_threads=self.executor.abandoned_alive,
            stop_pool=self._stop_itself,
            new_work=self.notify_new_work,
        )
        self._jobs: SimpleQueue[Job | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stuck_threads: set[threading.Thread] = set()  # workers still in a released job
        self._new_work = False  # a job may have become due since the last claim
        self._queue_empty = False  # the last claim found fewer jobs than it asked for
        self._next_poll = 0.0  # monotonic time of the next claim when the queue looked empty
        self._error_backoff = 0.0
        self._retry_writes_at = 0.0  # monotonic time before which failed writes wait
        self._claimed_total = 0
        #: Set when the pool stopped itself to be replaced by a fresh process.
        self.recycle_requested = False

    # -- the public surface ------------------------------------------------------------------
    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = get_store()
        return self._store

    @property
    def concurrency(self) -> int:
        return self.options.concurrency

    @property
    def grace_period(self) -> float:
        return self.options.grace_period

    @property
    def retry_strategy(self):
        return self.options.retry_strategy

    @property
    def recorded(self):
        """Results written, by result class (``Completed``, ``Retried``, ``Failed``, ``Released``)."""
        return self.recorder.recorded

    @property
    def lost(self) -> int:
        """Results refused by the store because the lease was lost."""
        return self.recorder.lost

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def idle(self) -> bool:
        """No job running or awaiting its write, and the last claim found no more due jobs."""
        return self._queue_empty and not self.holdings.running and not self.holdings.awaiting_write

    @property
    def running(self) -> int:
        return self.holdings.running

    def stop(self) -> None:
        """Stop claiming and let ``run()`` drain. Safe from signal handlers and any thread."""
        self._stopping.set()
        self._wake.set()

    def notify_new_work(self, *_args, **_kwargs) -> None:
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
        self._next_poll = time.monotonic() + self.options.poll_interval
        return claimed

    def free_slots(self) -> int:
        """Workers without a job, less what ``max_jobs`` still allows."""
        free = self.options.concurrency - self.holdings.running
        if self.options.max_jobs is not None:
            free = min(free, self.options.max_jobs - self._claimed_total)
        return max(free, 0)

    def claim_jobs(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` (default: free workers) due jobs in one store call and
        hand them to the workers. How many it claimed."""
        limit = self.free_slots() if limit is None else limit
        if limit < 1:
            return 0
        jobs = self.store.claim(owner=self.id, limit=limit, now=self.clock(), lease_seconds=self.options.lease_seconds)
        self.holdings.claimed(jobs)
        self._claimed_total += len(jobs)
        for job in jobs:
            self._jobs.put(job)
        return len(jobs)

    def write_results(self) -> int:
        """Record every result handed back, in one store call. How many were applied.

        A failed write keeps the results (and their leases) and is tried again after a
        backoff; a result the store refuses was fenced off (the lease was lost).
        """
        if time.monotonic() < self._retry_writes_at:
            return 0
        try:
            written, new_work = self.recorder.write()
        except Exception as error:
            self._store_failed("recording job results", error)
            self._retry_writes_at = time.monotonic() + self._error_backoff
            return 0
        self._retry_writes_at = 0.0
        if new_work:
            self._new_work = True  # a retried or released job may be due again at once
        return written

    def renew_leases(self) -> int:
        """See ``LeaseKeeper.renew``."""
        return self.lease_keeper.renew()

    def reap_expired(self) -> int:
        """See ``LeaseKeeper.reap``."""
        return self.lease_keeper.reap()

    def heartbeat(self) -> None:
        """See ``LeaseKeeper.heartbeat``."""
        self.lease_keeper.heartbeat()

    # -- worker threads -----------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                started_at = self.clock()
                self.holdings.started(job.id, started_at)
                try:
                    result = self.executor.execute(job, started_at)
                except Exception:  # a bug here must not lose the worker thread
                    logger.exception("worker %s could not run job %s", self.id, job.id)
                    result = None
                if not self.holdings.hand_back(job, result):
                    logger.info("job %s (%s) ended after it was released at shutdown; result ignored", job.id, job.type)
                self._wake.set()
        finally:
            connections.close_all()

    def _watch_inserts(self) -> None:
        """Let a store that can push inserts (MongoDB change streams) wake the pool."""
        watch = self.store.watch_inserts
        backoff = self.options.poll_interval
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
                    logger.info("the store cannot push new jobs; polling every %g s", self.options.poll_interval)
                    return
        finally:
            connections.close_all()

    def _start_thread(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=f"{name}-{self.id}", daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- start and stop -----------------------------------------------------------------------
    def _register(self) -> None:
        now = self.clock()
        self.reap_expired()
        self.store.register_pool(
            PoolInfo(
                id=self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.options.concurrency,
                running=0,
                started_at=now,
                heartbeat_at=now,
            )
        )

    def _start_threads(self) -> None:
        wakeups.enqueued.connect(self.notify_new_work, weak=False, dispatch_uid=self.id)
        for number in range(self.options.concurrency):
            self._start_thread(self._work, f"worker{number}")
        self._start_thread(lambda: self.lease_keeper.run(self._closed), "lease-keeper")
        if self.options.watch_inserts and hasattr(self.store, "watch_inserts"):
            self._start_thread(self._watch_inserts, "watch-inserts")
        logger.info(
            "worker pool %s started: %d threads, lease %g s, polling every %g s, on %s",
            self.id,
            self.options.concurrency,
            self.options.lease_seconds,
            self.options.poll_interval,
            self.store.describe(),
        )

    def _stop_itself(self, recycle: bool) -> None:
        if recycle and not self._stopping.is_set():
            self.recycle_requested = True
        self.stop()

    def _finished_its_work(self) -> bool:
        if self.holdings.running or self.holdings.awaiting_write:
            return False
        if self.options.max_jobs is not None and self._claimed_total >= self.options.max_jobs:
            return True
        return self.options.run_until_idle and self._queue_empty and not self._new_work

    def _idle_timeout(self) -> float:
        if self._error_backoff:
            return self._error_backoff
        if self.free_slots() and self._queue_empty:
            return max(0.0, self._next_poll - time.monotonic())
        # Every worker is busy: a result handed back wakes the dispatcher; the timeout
        # only bounds how long a missed wake-up could cost.
        return max(self.options.poll_interval, 1.0)

    def _store_failed(self, what: str, error: Exception) -> None:
        self._error_backoff = min(max(self._error_backoff * 2, self.options.poll_interval), _MAX_ERROR_BACKOFF)
        logger.warning("worker %s: %s failed (%s); trying again in %.2f s", self.id, what, error, self._error_backoff)

    def _drain(self) -> None:
        """Wait up to the grace period for running jobs and release those still running;
        keep trying to write results while their leases hold."""
        self._stopping.set()
        deadline = time.monotonic() + self.options.grace_period
        if self.holdings.running:
            logger.info(
                "worker pool %s stopping: waiting up to %g s for %d running jobs",
                self.id,
                self.options.grace_period,
                self.holdings.running,
            )
        while True:
            self._wake.clear()
            self.write_results()
            if not self.holdings.running and not self.holdings.awaiting_write:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 and self.holdings.running:
                self.release_running()
                continue
            self._wake.wait(max(0.01, min(remaining, 1.0) if self.holdings.running else self._error_backoff))

    def release_running(self) -> int:
        """Give every job still running back to the queue (retryCount unchanged). How many."""
        now = self.clock()
        executions = self.holdings.release_running()
        self._stuck_threads.update(execution.thread for execution in executions if execution.thread)
        if not executions:
            return 0
        self.holdings.add_results(
            [
                Released(
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
        )
        self.write_results()
        logger.warning(
            "worker pool %s released %d jobs still running after the %g s grace period: %s",
            self.id,
            len(executions),
            self.options.grace_period,
            ", ".join(execution.job.id for execution in executions),
        )
        return len(executions)

    def _shut_down(self) -> None:
        self._stopping.set()
        self._closed.set()
        for _ in range(self.options.concurrency):
            self._jobs.put(None)
        wakeups.enqueued.disconnect(dispatch_uid=self.id)
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
            self.recorded[Completed],
            self.recorded[Retried],
            self.recorded[Failed],
            self.recorded[Released],
            self.lost,
        )
