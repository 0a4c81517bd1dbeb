"""The worker pool: claims jobs, runs their handlers on threads, records the results.

One ``WorkerPool`` per process. Its threads:

* the **dispatcher** (whichever thread calls ``run()``) is the only one that talks to
  the store about jobs on the hot path (``dispatcher``: record results, then claim).
  It sleeps only when the queue is empty, until a job is enqueued in this process
  (``jobs.wakeups``), the store reports an insert (``watcher``), a worker hands back a
  result, or the poll interval passes. So a process polls once per interval however
  many threads it has.
* ``concurrency`` **workers** run handlers (``execution``) and nothing else.
* the **lease keeper** (``leases``) renews leases, heartbeats and reaps.
* when the store can push inserts (MongoDB change streams), a **watcher**.

Shutdown: ``stop()`` (the first SIGTERM/SIGINT) stops claiming; ``run()`` releases the
jobs claimed ahead that no worker started, then waits up to ``grace_period`` for running
jobs and releases those still running (back to pending, retryCount unchanged). Results
not yet written are still written while their leases hold.
"""

import functools
import logging
import os
import socket
import threading
import time
import uuid
from queue import SimpleQueue

from django.db import connections

from jobs import wakeups
from jobs.domain import Job
from jobs.results import Completed, Failed, Released, Retried
from jobs.stores import JobStore, get_store
from jobs.timeutil import Clock, isoformat_z, truncate_ms, utc_now
from jobs.worker.context import PoolContext
from jobs.worker.dispatcher import Dispatcher
from jobs.worker.execution import Executor
from jobs.worker.holdings import Holdings
from jobs.worker.leases import LeaseKeeper
from jobs.worker.options import PoolOptions
from jobs.worker.recorder import ResultRecorder
from jobs.worker.watcher import InsertWatcher

logger = logging.getLogger(__name__)


def new_pool_id() -> str:
    """``host:pid:random``: unique, and says where the pool runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkerPool:
    """Claims due jobs and runs them on ``options.concurrency`` threads until stopped.

    ``options`` default to ``PoolOptions.from_settings()``; ``store`` to the process's
    store; ``clock`` (aware UTC datetimes) to the wall clock. ``step``, ``renew_leases``,
    ``reap_expired`` and ``heartbeat`` (and the ``dispatcher``'s methods) are public so
    tests can drive a pool one move at a time.
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
        context = PoolContext(self.id, self.options, self.holdings, store=lambda: self.store, clock=clock)
        self.recorder = ResultRecorder(context)
        self.lease_keeper = LeaseKeeper(
            context,
            abandoned_threads=self.executor.abandoned_alive,
            stop_pool=self._stop_itself,
            new_work=self.notify_new_work,
        )
        self._jobs: SimpleQueue[Job | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stuck_threads: set[threading.Thread] = set()  # workers still in a released job
        self.dispatcher = Dispatcher(context, recorder=self.recorder, hand_out=self._jobs.put)
        #: Set when the pool stopped itself to be replaced by a fresh process.
        self.recycle_requested = False

    # -- the public surface ------------------------------------------------------------------
    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = get_store()
        return self._store

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
        """See ``Dispatcher.idle``."""
        return self.dispatcher.idle

    def stop(self) -> None:
        """Stop claiming and let ``run()`` drain. Safe from signal handlers and any thread."""
        self._stopping.set()
        self._wake.set()

    def notify_new_work(self, *_args, **_kwargs) -> None:
        """A job may have become due: claim at the next turn instead of the next poll."""
        self.dispatcher.new_work = True
        self._wake.set()

    def run(self) -> None:
        """Run until ``stop()`` (or ``max_jobs``/``run_until_idle``), then drain.

        Reaps at start, so jobs of a worker that died before this one started come back
        at once. Raises the store's error if it is unreachable at start.

        The calling thread is the dispatcher: when ``run()`` returns (or raises), the
        database connections it opened on that thread are closed, as every other pool
        thread closes its own. So it must not be called inside a transaction.
        """
        try:
            self._register()
            try:
                self._start_threads()
                while not self._stopping.is_set():
                    self._wake.clear()
                    self.step()
                    if self.dispatcher.finished_its_work():
                        break
                    self._wake.wait(self.dispatcher.idle_timeout())
                self._drain()
            finally:
                self._shut_down()
        finally:
            # A thread that ends keeps its connection (and its database session) until the
            # garbage collector happens to break the connection's reference cycles.
            connections.close_all()  # this thread's connections only

    # -- steps, public so tests can drive a pool one move at a time ---------------------------
    def step(self) -> int:
        """One dispatcher turn (``Dispatcher.turn``); how many jobs it claimed."""
        return self.dispatcher.turn(claiming=not self._stopping.is_set())

    def renew_leases(self) -> int:
        """See ``LeaseKeeper.renew``."""
        return self.lease_keeper.renew()

    def reap_expired(self) -> int:
        """See ``LeaseKeeper.reap``."""
        return self.lease_keeper.reap()

    def heartbeat(self) -> None:
        """See ``LeaseKeeper.heartbeat``."""
        self.lease_keeper.heartbeat()

    def tick_schedules(self) -> int:
        """See ``LeaseKeeper.tick_schedules``."""
        return self.lease_keeper.tick_schedules()

    # -- worker threads -----------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                started_at = self.clock()
                if not self.holdings.started(job.id, started_at):
                    # Claimed ahead and released at shutdown while it waited: another pool may run it now.
                    logger.info("job %s (%s) was released at shutdown before it started; not run", job.id, job.type)
                    continue
                began = time.monotonic()
                try:
                    result = self.executor.execute(
                        job,
                        started_at,
                        cancelled=self.holdings.cancel_event(job.id),
                        on_progress=functools.partial(self._report_progress, job.id),
                    )
                except Exception:  # a bug here must not lose the worker thread
                    logger.exception("worker %s could not run job %s", self.id, job.id)
                    result = None
                if not self.holdings.hand_back(job, result):
                    logger.info("job %s (%s) ended after it was released at shutdown; result ignored", job.id, job.type)
                self.dispatcher.claim_ahead.job_ran(time.monotonic() - began)
                self._wake.set()
        finally:
            connections.close_all()

    def _report_progress(self, job_id: str, fraction: float, message: str) -> None:
        progress = {"fraction": fraction, "message": message, "updatedAt": isoformat_z(truncate_ms(self.clock()))}
        self.holdings.report_progress(job_id, progress)

    def _start_thread(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=f"{name}-{self.id}", daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- start and stop -----------------------------------------------------------------------
    def _register(self) -> None:
        self.reap_expired()
        self.lease_keeper.register()
        # A tick missed while no pool ran is enqueued now, once.
        self.lease_keeper.sync_schedules()
        self.lease_keeper.guarded("ticking periodic schedules", self.tick_schedules)

    def _start_threads(self) -> None:
        wakeups.enqueued.connect(self.notify_new_work, weak=False, dispatch_uid=self.id)
        for number in range(self.options.concurrency):
            self._start_thread(self._work, f"worker{number}")
        self._start_thread(lambda: self.lease_keeper.run(self._closed), "lease-keeper")
        if self.options.watch_inserts and hasattr(self.store, "watch_inserts"):
            watcher = InsertWatcher(
                self.store, on_insert=self.notify_new_work, poll_interval=self.options.poll_interval
            )
            self._start_thread(lambda: watcher.run(self._closed), "watch-inserts")
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

    def _drain(self) -> None:
        """Wait up to the grace period for running jobs and release those still running;
        keep trying to write results while their leases hold. Jobs claimed ahead that no
        worker has started are released at once: a stopping pool starts no new job."""
        self._stopping.set()
        waiting = self.holdings.release_running(worker_id=self.id, now=self.clock(), unstarted_only=True)
        if waiting:
            logger.info(
                "worker pool %s stopping: released %d jobs claimed ahead and not started", self.id, len(waiting)
            )
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
            self.dispatcher.write_results()
            if not self.holdings.running and not self.holdings.awaiting_write:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 and self.holdings.running:
                self.release_running()
                continue
            self._wake.wait(max(0.01, min(remaining, 1.0) if self.holdings.running else self.dispatcher.error_backoff))

    def release_running(self) -> int:
        """Give every job still running back to the queue (retryCount unchanged). How many."""
        released = self.holdings.release_running(worker_id=self.id, now=self.clock())
        self._stuck_threads.update(execution.thread for execution in released if execution.thread)
        if not released:
            return 0
        self.dispatcher.write_results()
        logger.warning(
            "worker pool %s released %d jobs still running after the %g s grace period: %s",
            self.id,
            len(released),
            self.options.grace_period,
            ", ".join(execution.job.id for execution in released),
        )
        return len(released)

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
        self.lease_keeper.unregister()
        logger.info(
            "worker pool %s stopped: %d completed, %d retried, %d failed, %d released, %d lost leases",
            self.id,
            self.recorded[Completed],
            self.recorded[Retried],
            self.recorded[Failed],
            self.recorded[Released],
            self.lost,
        )
