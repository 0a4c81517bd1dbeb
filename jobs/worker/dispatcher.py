"""The dispatcher's turn: what a pool asks of the store on the hot path, and when.

Each turn records the results the workers handed back (one ``record_results``: one
durable commit for a batch of jobs), then claims at most as many due jobs as there are
idle workers (one ``claim``, skipping paused queues). With named queues
(``PoolOptions.queues``) each queue is a lane with its own threads and gets its own claim
of at most its idle threads. A lane is claimed again at once while it has work, and
otherwise only after a wake-up (``new_work``) or the poll interval; a store error backs
off, doubling up to ``_MAX_ERROR_BACKOFF``. Without named queues a turn may claim a few
jobs beyond the idle threads (``prefetch.ClaimAhead``), to keep them busy during the next
turn's commit; named queues never do, as their threads' bounds are per queue.

Paused queues are read from the store at most once per poll interval, so pausing costs
the hot path one small read per interval, not one per claim.
"""

import logging
import time
from collections.abc import Callable

from jobs.domain import Job
from jobs.worker.context import PoolContext
from jobs.worker.prefetch import ClaimAhead
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
        # Lanes (a queue name, or None: every queue) whose last claim found fewer jobs than asked.
        self._empty_lanes: set[str | None] = set()
        self._lanes: tuple[tuple[str | None, int], ...] = context.options.queues or (
            (None, context.options.concurrency),
        )
        self._paused: frozenset[str] = frozenset()
        self._paused_read_at: float | None = None  # monotonic time of the last read
        self._next_poll = 0.0  # monotonic time of the next claim when the queue looked empty
        self.error_backoff = 0.0
        self._retry_writes_at = 0.0  # monotonic time before which failed writes wait
        self._claimed_total = 0
        #: How many jobs to claim beyond the idle threads (none with named queues).
        self.claim_ahead = ClaimAhead(0 if context.options.queues else context.options.prefetch)

    @property
    def _queue_empty(self) -> bool:
        """Every lane's last claim found fewer jobs than it asked for."""
        return len(self._empty_lanes) == len(self._lanes)

    @property
    def idle(self) -> bool:
        """No job running or awaiting its write, and the last claim found no more due jobs."""
        return self._queue_empty and not self.context.holdings.running and not self.context.holdings.awaiting_write

    def turn(self, *, claiming: bool = True) -> int:
        """Record the results handed back, then (when ``claiming``) claim for idle workers
        if a job may be due: both in one transaction when the store has them (one durable
        commit per turn instead of two). How many jobs it claimed."""
        started = time.monotonic()
        if claiming and self._claim_wanted():
            claimed = self._write_and_claim_together()
            if claimed is not None:
                self.claim_ahead.turn_took(time.monotonic() - started)
                return claimed
        self.write_results()
        if not claiming or not self._claim_wanted():
            return 0
        polling = self._start_claim()
        try:
            claimed = self.claim_jobs()
        except Exception as error:
            self._store_failed("claiming jobs", error)
            return 0
        self._claim_succeeded(polling)
        self.claim_ahead.turn_took(time.monotonic() - started)
        return claimed

    def _claim_wanted(self) -> bool:
        """A worker is free and a job may be due (a wake-up, the poll interval passed, or
        the last claim filled every lane)."""
        if self.free_slots() == 0:
            return False
        return self.new_work or time.monotonic() >= self._next_poll or not self._queue_empty

    def _start_claim(self) -> bool:
        """Before a claim: consume the wake-up; whether this claim is a poll (then every
        lane is asked again)."""
        polling = self.new_work or time.monotonic() >= self._next_poll
        self.new_work = False
        if polling:
            self._empty_lanes.clear()
        return polling

    def _claim_succeeded(self, polling: bool) -> None:
        self.error_backoff = 0.0
        if polling or self._queue_empty:
            self._next_poll = time.monotonic() + self.context.options.poll_interval

    def _write_and_claim_together(self) -> int | None:
        """Record the queued results and claim in one store transaction, handing the jobs
        out only once it committed (a rolled-back claim must not run). ``None`` when there
        is nothing to write, writes are backing off, or the store has no transactions."""
        if not self.context.holdings.awaiting_write or time.monotonic() < self._retry_writes_at:
            return None
        together = self.context.store().one_transaction()
        if together is None:
            return None
        polling = self._start_claim()
        batch = self.recorder.take()
        taken: list[Job] = []
        try:
            with together:
                applied = self.recorder.store(batch) if batch else []
                self._claim_lanes(self.free_slots(), taken.extend)
        except Exception as error:
            # Rolled back: nothing was recorded and nothing claimed.
            self.recorder.put_back(batch)
            self._store_failed("recording job results and claiming jobs", error)
            self._retry_writes_at = time.monotonic() + self.error_backoff
            return 0
        self._retry_writes_at = 0.0
        _written, new_work = self.recorder.settle(batch, applied)
        if new_work:
            self.new_work = True  # a retried or released job may be due again at once
        self._receive(taken)
        self._claim_succeeded(polling)
        return len(taken)

    def free_slots(self) -> int:
        """Workers without a job, plus the jobs to claim ahead, less what ``max_jobs`` still allows."""
        threads = self.context.options.concurrency
        free = threads + self.claim_ahead.allowance(threads) - self.context.holdings.running
        if self.context.options.max_jobs is not None:
            free = min(free, self.context.options.max_jobs - self._claimed_total)
        return max(free, 0)

    def claim_jobs(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` (default: free workers) due jobs, one store call per lane
        that is not paused, has idle threads and may have work, and hand them out. A lane
        that got fewer jobs than it asked for is marked empty until the next poll or
        wake-up. How many it claimed."""
        return self._claim_lanes(self.free_slots() if limit is None else limit, self._receive)

    def _claim_lanes(self, limit: int, receive: Callable[[list[Job]], None]) -> int:
        """The store calls of ``claim_jobs``; each lane's jobs go to ``receive`` as soon
        as its claim returns. How many were claimed."""
        paused = self.paused_queues()
        running = self.context.holdings.running_by_queue() if self.context.options.queues else {}
        claimed = 0
        for queue, threads in self._lanes:
            if queue in self._empty_lanes:
                continue
            wanted = min(limit - claimed, threads - running.get(queue, 0) if queue is not None else limit - claimed)
            if wanted < 1:
                continue
            if queue in paused:
                self._empty_lanes.add(queue)
                continue
            jobs = self.context.store().claim(
                owner=self.context.worker_id,
                limit=wanted,
                now=self.context.clock(),
                lease_seconds=self.context.options.lease_seconds,
                queue=queue,
                exclude_queues=paused if queue is None else (),
            )
            if len(jobs) < wanted:
                self._empty_lanes.add(queue)
            claimed += len(jobs)
            receive(jobs)
        return claimed

    def _receive(self, jobs: list[Job]) -> None:
        """Hold claimed jobs and hand them to the workers."""
        self.context.holdings.claimed(jobs)
        self._claimed_total += len(jobs)
        for job in jobs:
            self._hand_out(job)

    def paused_queues(self) -> frozenset[str]:
        """The paused queues, read from the store at most once per poll interval."""
        now = time.monotonic()
        if self._paused_read_at is None or now - self._paused_read_at >= self.context.options.poll_interval:
            self._paused = frozenset(self.context.store().paused_queues())
            self._paused_read_at = now
        return self._paused

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
