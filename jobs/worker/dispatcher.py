"""The dispatcher's turn: what a pool asks of the store on the hot path, and when.

Each turn records the results the workers handed back (one ``record_results``: one
durable commit for a batch of jobs), then claims at most as many due jobs as there are
idle workers (one ``claim``). It claims again at once while the queue has work, and
otherwise only after a wake-up (``new_work``) or the poll interval; a store error backs
off, doubling up to ``_MAX_ERROR_BACKOFF``.
"""

import logging
import time
from collections.abc import Callable

from jobs.models import Job
from jobs.worker.context import PoolContext
from jobs.worker.recorder import ResultRecorder

logger = logging.getLogger(__name__)

#: Longest pause after the store failed a call, before trying again.
_MAX_ERROR_BACKOFF = 5.0


class Dispatcher:
    """The claim loop's decisions for one pool; ``hand_out(job)`` gives a claimed job to a worker."""

    def __init__(self, context: PoolContext, *, recorder: ResultRecorder, hand_out: Callable[[Job], None]):
        self.context = context
        self.recorder = recorder
        self._hand_out = hand_out
        #: A job may have become due since the last claim (set from any thread).
        self.new_work = False
        self._queue_empty = False  # the last claim found fewer jobs than it asked for
        self._next_poll = 0.0  # monotonic time of the next claim when the queue looked empty
        self.error_backoff = 0.0
        self._retry_writes_at = 0.0  # monotonic time before which failed writes wait
        self._claimed_total = 0

    @property
    def idle(self) -> bool:
        """No job running or awaiting its write, and the last claim found no more due jobs."""
        return self._queue_empty and not self.context.holdings.running and not self.context.holdings.awaiting_write

    def turn(self, *, claiming: bool = True) -> int:
        """Record the results handed back, then (when ``claiming``) claim for idle workers
        if a job may be due. How many jobs it claimed."""
        self.write_results()
        if not claiming:
            return 0
        free = self.free_slots()
        wanted = self.new_work or not self._queue_empty or time.monotonic() >= self._next_poll
        if free == 0 or not wanted:
            return 0
        self.new_work = False
        try:
            claimed = self.claim_jobs(free)
        except Exception as error:
            self._store_failed("claiming jobs", error)
            return 0
        self.error_backoff = 0.0
        # Fewer jobs than idle workers: the queue is empty; wait for a wake-up or the poll.
        self._queue_empty = claimed < free
        self._next_poll = time.monotonic() + self.context.options.poll_interval
        return claimed

    def free_slots(self) -> int:
        """Workers without a job, less what ``max_jobs`` still allows."""
        free = self.context.options.concurrency - self.context.holdings.running
        if self.context.options.max_jobs is not None:
            free = min(free, self.context.options.max_jobs - self._claimed_total)
        return max(free, 0)

    def claim_jobs(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` (default: free workers) due jobs in one store call and
        hand them out. How many it claimed."""
        limit = self.free_slots() if limit is None else limit
        if limit < 1:
            return 0
        jobs = self.context.store().claim(
            owner=self.context.worker_id,
            limit=limit,
            now=self.context.clock(),
            lease_seconds=self.context.options.lease_seconds,
        )
        self.context.holdings.claimed(jobs)
        self._claimed_total += len(jobs)
        for job in jobs:
            self._hand_out(job)
        return len(jobs)

    def write_results(self) -> int:
        """Record every result handed back, in one store call. How many were applied.

        A failed write keeps the results (and their leases) and is tried again after the
        backoff; a result the store refuses was fenced off (the lease was lost).
        """
        if time.monotonic() < self._retry_writes_at:
            return 0
        try:
            written, new_work = self.recorder.write()
        except Exception as error:
            self._store_failed("recording job results", error)
            self._retry_writes_at = time.monotonic() + self.error_backoff
            return 0
        self._retry_writes_at = 0.0
        if new_work:
            self.new_work = True  # a retried or released job may be due again at once
        return written

    def finished_its_work(self) -> bool:
        """``max_jobs`` are done, or (``run_until_idle``) nothing is due or running."""
        if self.context.holdings.running or self.context.holdings.awaiting_write:
            return False
        if self.context.options.max_jobs is not None and self._claimed_total >= self.context.options.max_jobs:
            return True
        return self.context.options.run_until_idle and self._queue_empty and not self.new_work

    def idle_timeout(self) -> float:
        """How long the dispatcher may sleep when nothing wakes it."""
        if self.error_backoff:
            return self.error_backoff
        if self.free_slots() and self._queue_empty:
            return max(0.0, self._next_poll - time.monotonic())
        # Every worker is busy: a result handed back wakes the dispatcher; the timeout
        # only bounds how long a missed wake-up could cost.
        return max(self.context.options.poll_interval, 1.0)

    def _store_failed(self, what: str, error: Exception) -> None:
        self.error_backoff = min(max(self.error_backoff * 2, self.context.options.poll_interval), _MAX_ERROR_BACKOFF)
        logger.warning(
            "worker %s: %s failed (%s); trying again in %.2f s", self.context.worker_id, what, error, self.error_backoff
        )
