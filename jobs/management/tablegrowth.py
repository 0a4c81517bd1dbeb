"""``benchqueue --finished N``: whether a table full of finished jobs slows the queue.

Measures the enqueue rate and the claim and processing speed on an empty table, pre-fills
N finished jobs (one bulk insert), and measures again beside them; the claim's partial
indexes should not notice them.
"""

import resource
import time
from collections.abc import Callable
from datetime import timedelta

from jobs import services
from jobs.domain import NewJob
from jobs.management.measures import StoreTimers
from jobs.stores import JobStore
from jobs.timeutil import utc_now
from jobs.worker import PoolOptions, WorkerPool

NOOP_TYPE = "benchqueue.noop"


def enqueue_noops(count: int, batch: int) -> None:
    """Enqueue ``count`` no-op jobs one by one, or ``batch`` at a time through ``enqueue_many``
    (the ``NOOP_TYPE`` handler must be registered)."""
    if not batch:
        for _ in range(count):
            services.enqueue(NOOP_TYPE, {})
        return
    for start in range(0, count, batch):
        services.enqueue_many([{"type": NOOP_TYPE, "payload": {}}] * min(batch, count - start))


class FinishedJobsComparison:
    """Speeds on ``store`` with an empty table, then beside ``finished`` finished jobs:
    ``jobs`` no-op jobs each time, enqueued one by one or ``bulk`` at a time, run by a
    pool of ``concurrency`` threads."""

    def __init__(self, store: JobStore, *, jobs: int, bulk: int, concurrency: int, finished: int):
        self.store = store
        self.jobs = jobs
        self.bulk = bulk
        self.concurrency = concurrency
        self.finished = finished

    def run(self, write: Callable[[str], object]) -> None:
        """Measure, pre-fill, measure again, and ``write`` each figure and their ratios."""
        finished = self.finished
        enqueue_empty = self._enqueue_speed()
        write(self._enqueue_line("empty table", enqueue_empty))
        empty = self._claim_speed()
        write(self._claim_line("empty table", empty))
        started = time.perf_counter()
        self.store.fill_finished(finished, finished_at=utc_now() - timedelta(hours=1), type=NOOP_TYPE)
        write(f"Pre-filled {finished} finished jobs in {time.perf_counter() - started:.1f} s")
        enqueue_full = self._enqueue_speed()
        write(self._enqueue_line(f"{finished} finished jobs", enqueue_full))
        full = self._claim_speed()
        write(self._claim_line(f"{finished} finished jobs", full))
        write(
            f"             beside {finished} finished jobs: enqueue rate x{enqueue_full[0] / enqueue_empty[0]:.2f}, "
            f"claim time per job x{full[1] / empty[1]:.2f}, processing rate x{full[0] / empty[0]:.2f} "
            "(1.00 = unchanged; timings are noisy)"
        )

    def _pool(self) -> WorkerPool:
        return WorkerPool(
            PoolOptions.from_settings(concurrency=self.concurrency, run_until_idle=True), store=self.store
        )

    def _enqueue_speed(self) -> tuple[float, float]:
        """(jobs/s, CPU µs per job) enqueuing as the main measurement does; the jobs are
        then run (untimed), so the table holds only finished jobs again."""
        cpu_at_start = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        enqueue_noops(self.jobs, self.bulk)
        seconds = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        cpu_us = (cpu.ru_utime - cpu_at_start.ru_utime + cpu.ru_stime - cpu_at_start.ru_stime) / self.jobs * 1e6
        self._pool().run()
        return self.jobs / seconds, cpu_us

    @staticmethod
    def _enqueue_line(what: str, figures: tuple[float, float]) -> str:
        return f"Enqueue, {what}: {figures[0]:8.0f} jobs/s, CPU {figures[1]:.0f} µs per job"

    def _claim_speed(self) -> tuple[float, float]:
        """(jobs/s processed, µs in ``store.claim`` per job)."""
        new_jobs = [NewJob(type=NOOP_TYPE, payload={}, max_retries=0) for _ in range(self.jobs)]
        self.store.insert_many(new_jobs, now=utc_now())
        pool = self._pool()
        timers = StoreTimers(self.store, ("claim",))
        started = time.perf_counter()
        with timers:
            pool.run()
        seconds = time.perf_counter() - started
        return self.jobs / seconds, timers.seconds["claim"] / self.jobs * 1e6

    @staticmethod
    def _claim_line(what: str, figures: tuple[float, float]) -> str:
        return f"Claim, {what}: {figures[0]:8.0f} jobs/s processed, {figures[1]:.0f} µs in store.claim per job"
