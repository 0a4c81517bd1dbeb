"""Lease keeping: the pool's second thread renews the leases of every held job, keeps the
pool's entry in the registry (heartbeats), checks the process's health, reaps jobs
of lost workers, and deletes finished jobs past their retention (``jobs.retention``).

It renews right before each reaping, so the pool's own reaper never takes a job this
pool still holds, however long a store outage delayed the renewals.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import connections

from jobs import retention, schedule_services
from jobs.domain import PoolInfo
from jobs.timeutil import truncate_ms
from jobs.worker.context import PoolContext

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Keeps one pool's leases; ``stop_pool(recycle)`` is how it asks the pool to stop."""

    def __init__(
        self,
        context: PoolContext,
        *,
        abandoned_threads: Callable[[], int],
        stop_pool: Callable[[bool], None],
        new_work: Callable[[], None],
    ):
        self.context = context
        self._abandoned_threads = abandoned_threads
        self._stop_pool = stop_pool
        self._new_work = new_work
        self._lost: set[str] = set()  # already logged
        # Read now, so a bad retention setting stops the pool at start, not an hour later.
        self._retention = retention.RetentionPolicy.from_settings()

    def run(self, closed: threading.Event) -> None:
        """The keeper thread's loop, until ``closed`` is set."""
        now = time.monotonic()
        next_renew, next_reap = now + self.context.options.renew_every, now + self.context.options.reap_every
        next_purge = now + self.context.options.retention_interval
        try:
            while not closed.wait(max(0.0, min(next_renew, next_reap, next_purge) - time.monotonic())):
                now = time.monotonic()
                if now >= next_renew:
                    next_renew = now + self.context.options.renew_every
                    self.guarded("renewing leases", self.renew)
                    self.guarded("heartbeating the pool registry", self.heartbeat)
                    self.check_health()
                if now >= next_reap:
                    next_reap = now + self.context.options.reap_every
                    self.guarded("reaping jobs of lost workers", self.reap)
                    self.guarded("ticking periodic schedules", self.tick_schedules)
                if now >= next_purge:
                    next_purge = now + self.context.options.retention_interval
                    self.guarded("deleting finished jobs past their retention", self.purge)
        finally:
            connections.close_all()

    def guarded(self, what: str, step) -> None:
        """Run ``step``; log its failure instead of raising (the next turn retries)."""
        try:
            step()
        except Exception as error:  # the store may be down for a moment; the next turn retries
            logger.warning("worker %s: %s failed: %s", self.context.worker_id, what, error)

    def renew(self) -> int:
        """Extend the leases of every job this pool holds, in one store call, writing the
        progress its handlers reported since and telling handlers whose job was cancelled
        (``context.cancelled``). How many it kept.

        Logs each job whose lease was lost: its handler's result will be discarded.
        """
        held = self.context.holdings.held_jobs()
        if not held:
            return 0
        now = self.context.clock()
        progress = self.context.holdings.take_progress()
        renewal = self.context.store().renew(
            held, now=now, lease_seconds=self.context.options.lease_seconds, progress=progress
        )
        kept = renewal.kept
        self.context.holdings.cancel_requested(renewal.cancel_requested)
        self.context.holdings.renewed(kept, truncate_ms(now + timedelta(seconds=self.context.options.lease_seconds)))
        for job in held:
            if job.id in kept or job.id in self._lost or not self.context.holdings.is_held(job.id):
                continue
            self._lost.add(job.id)
            logger.warning(
                "worker %s lost the lease on job %s (%s): it expired and was reaped or taken over; "
                "the handler keeps running but its result will be discarded",
                self.context.worker_id,
                job.id,
                job.type,
            )
        return len(kept)

    def reap(self) -> int:
        """Return jobs whose lease expired (their worker was lost) to the queue. How many.

        Renews this pool's own leases first (and skips the reaping if that fails), so
        this never takes a job the pool still holds; allows ``max_clock_skew`` past each
        expiry, so it never takes a job another host holds while their clocks disagree
        by less than that.
        """
        self.renew()
        options = self.context.options
        reaped = self.context.store().reap(
            now=self.context.clock(), retry_strategy=options.retry_strategy, max_clock_skew=options.max_clock_skew
        )
        if reaped:
            logger.info("reaped %d jobs whose worker was lost", reaped)
            self._new_work()
        return reaped

    def purge(self) -> int:
        """Delete finished jobs past their retention, in bounded batches. How many."""
        return retention.purge_expired(store=self.context.store(), clock=self.context.clock, policy=self._retention)

    def tick_schedules(self) -> int:
        """Enqueue the jobs of periodic schedules whose time has come (every pool does;
        each tick still makes one job). How many this pool enqueued."""
        enqueued = schedule_services.tick_schedules(clock=self.context.clock)
        if enqueued:
            self._new_work()
        return enqueued

    def sync_schedules(self) -> None:
        """Create or update the schedules of ``JOBQUEUE_SCHEDULES`` (at pool start)."""
        self.guarded(
            "syncing JOBQUEUE_SCHEDULES",
            lambda: schedule_services.sync_schedules_from_settings(clock=self.context.clock),
        )

    def register(self) -> None:
        """Enter the pool registry (the dashboard's list of live pools)."""
        now = self.context.clock()
        self.context.store().register_pool(
            PoolInfo(
                id=self.context.worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.context.options.concurrency,
                running=0,
                started_at=now,
                heartbeat_at=now,
            )
        )

    def unregister(self) -> None:
        """Leave the registry on a clean stop (best effort: the entry goes stale anyway)."""
        try:
            self.context.store().unregister_pool(self.context.worker_id)
        except Exception as error:
            logger.warning("worker %s: could not unregister from the pool registry: %s", self.context.worker_id, error)

    def heartbeat(self) -> None:
        """Tell the pool registry this pool is alive and how many jobs it runs."""
        self.context.store().heartbeat_pool(
            self.context.worker_id, running=self.context.holdings.running_handlers, now=self.context.clock()
        )

    def check_health(self) -> None:
        """Stop when the supervisor is gone, or when abandoned threads pile up (a
        supervised process then exits and the supervisor starts a fresh one)."""
        if self.context.options.parent_pid is not None and os.getppid() != self.context.options.parent_pid:
            logger.warning("worker %s: the supervisor process is gone; stopping", self.context.worker_id)
            self._stop_pool(False)
        limit = self.context.options.max_abandoned_threads
        if limit is None:
            return
        abandoned = self._abandoned_threads()
        if abandoned >= limit:
            logger.warning(
                "worker %s: %d timed-out handlers are still running; restarting this process to be rid of them",
                self.context.worker_id,
                abandoned,
            )
            self._stop_pool(True)
