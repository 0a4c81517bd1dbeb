"""Several worker processes: ``ProcessSupervisor`` runs one pool per process and restarts
any that dies; a supervised process with too many abandoned threads drains and exits
(``EXIT_RECYCLE``) so that a fresh one replaces it."""

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from dataclasses import replace

from django.db import connections

from jobs.stores import use_store
from jobs.worker.options import PoolOptions
from jobs.worker.pool import WorkerPool
from jobs.worker.signals import STOP_SIGNALS, exit_now, run_until_signalled

logger = logging.getLogger(__name__)

#: Exit code of a supervised worker process that asks to be replaced.
EXIT_RECYCLE = 3


def _run_worker_process(options: PoolOptions, parent_pid: int) -> None:
    """Body of a supervised worker process (started by fork)."""
    # Ctrl-C reaches the whole process group; the supervisor relays it as one SIGTERM,
    # so a child ignores SIGINT instead of seeing it twice and exiting at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Never reuse the parent's database connections or MongoDB client: each process opens its own.
    connections.close_all()
    use_store(None)
    pool = WorkerPool(replace(options, parent_pid=parent_pid))
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

    def __init__(self, *, processes: int, options: PoolOptions, restart_delay: float = 1.0):
        if processes < 1:
            raise ValueError("at least one process")
        self.processes = processes
        self.options = options
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
                args=(self.options, os.getpid()),
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
