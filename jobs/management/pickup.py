"""Pickup latency for ``benchqueue``: seconds from an enqueue to its handler's start, one
job at a time on an idle pool, for a job enqueued in this process (woken through
``jobs.wakeups``) and for one inserted straight into the store as another process would
(found by polling)."""

import random
import statistics
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import CommandError

from jobs import handlers, services
from jobs.domain import NewJob
from jobs.management.measures import percentile
from jobs.stores import JobStore
from jobs.timeutil import utc_now
from jobs.worker import PoolOptions, WorkerPool

PROBE_TYPE = "benchqueue.probe"
#: How long one probe may take to start before the measurement gives up.
PROBE_TIMEOUT_SECONDS = 10


class PickupLatency:
    """Measures pickup latency on ``store`` with a pool of ``concurrency`` threads."""

    def __init__(self, store: JobStore, *, concurrency: int, samples: int):
        self.store = store
        self.concurrency = concurrency
        self.samples = samples
        self._started: dict[int, float] = {}  # probe number -> perf_counter at its handler's start
        self._event = threading.Event()

    def measure(self) -> list[str]:
        """Run both measurements; one printable line each. Raises ``CommandError`` when a
        probe does not start within ``PROBE_TIMEOUT_SECONDS``."""
        poll = settings.JOBQUEUE_POLL_INTERVAL
        handlers.handler(PROBE_TYPE)(self._handle)
        pool = WorkerPool(PoolOptions.from_settings(concurrency=self.concurrency), store=self.store)
        runner = threading.Thread(target=pool.run, name="benchqueue-pool")
        runner.start()
        try:
            same = self._pickup(pool, lambda n: services.enqueue(PROBE_TYPE, {"n": n}))
            other = self._pickup(
                pool,
                # Straight into the store, as another process would: no in-process wake-up.
                lambda n: self.store.insert(NewJob(type=PROBE_TYPE, payload={"n": n}, max_retries=0), now=utc_now()),
                jitter=poll,
            )
        finally:
            pool.stop()
            runner.join()
            handlers.unregister(PROBE_TYPE)
        return [
            self._latency_line("same process (wake-up)", same),
            self._latency_line(f"other process (polling every {poll:g} s)", other),
        ]

    def _handle(self, payload, context):
        self._started[payload["n"]] = time.perf_counter()
        self._event.set()

    def _pickup(self, pool: WorkerPool, enqueue: Callable[[int], object], *, jitter: float = 0.005) -> list[float]:
        latencies = []
        for n in range(self.samples):
            deadline = time.monotonic() + PROBE_TIMEOUT_SECONDS
            while not pool.idle and time.monotonic() < deadline:
                time.sleep(0.001)
            # A random pause, so enqueues land at every phase of the poll timer.
            time.sleep(random.uniform(0, jitter))
            self._event.clear()
            enqueued_at = time.perf_counter()
            enqueue(n)
            if not self._event.wait(PROBE_TIMEOUT_SECONDS):
                raise CommandError(f"a probe job did not start within {PROBE_TIMEOUT_SECONDS} s")
            latencies.append(self._started[n] - enqueued_at)
        return latencies

    @staticmethod
    def _latency_line(what: str, latencies: list[float]) -> str:
        return (
            f"Pickup, {what}: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"mean {statistics.fmean(latencies) * 1000:.1f} ms ({len(latencies)} jobs)"
        )
