"""Recording results: every result handed back is written in one batch per turn, and
none is dropped while the pool still holds its job's lease.

A batch whose write fails stays queued (its leases keep being renewed by the lease
keeper) and is tried again at the dispatcher's next turn, after its backoff. Only a
result whose lease the pool can no longer vouch for (the last known expiry has passed,
because renewals failed too) is given up: then the job is another worker's to reap.
"""

import logging
from collections import Counter

from jobs.results import JobResult, Released, Retried
from jobs.worker.context import PoolContext

logger = logging.getLogger(__name__)


class ResultRecorder:
    """Writes a pool's results; counts what was recorded (by result class) and lost."""

    def __init__(self, context: PoolContext):
        self.context = context
        #: Results written, by result class (``Completed``, ``Retried``, ``Failed``, ``Released``).
        self.recorded: Counter[type[JobResult]] = Counter()
        #: Results refused by the store because the lease was lost.
        self.lost = 0
        #: Results given up after their lease lapsed while the store refused every write.
        self.given_up = 0

    def write(self) -> tuple[int, bool]:
        """Write every queued result in one ``record_results`` call.

        Returns (how many were applied, whether a result may have made a job due again).
        Raises the store's error after putting the batch back, so the caller backs off.
        """
        batch = self.take()
        if not batch:
            return 0, False
        try:
            applied = self.store(batch)
        except Exception:
            self.put_back(batch)
            raise
        return self.settle(batch, applied)

    def take(self) -> list[JobResult]:
        """The queued results, taken for one write: each must then go to ``settle`` or ``put_back``."""
        return self.context.holdings.take_results()

    def store(self, batch: list[JobResult]) -> list[bool]:
        """Send ``batch`` to the store (one ``record_results``); for each, whether it applied.
        Inside the store's ``one_transaction`` nothing is settled until that commits."""
        return self.context.store().record_results(batch, now=self.context.clock())

    def put_back(self, batch: list[JobResult]) -> None:
        """The write of ``batch`` failed (or was rolled back): queue again the results whose
        lease the pool still holds."""
        self.context.holdings.put_back(self._still_held(batch))

    def settle(self, batch: list[JobResult], applied: list[bool]) -> tuple[int, bool]:
        """``batch`` was written (committed): count it and let its jobs go. Returns (how
        many were applied, whether a result may have made a job due again)."""
        self.context.holdings.written(batch)
        written = 0
        for result, ok in zip(batch, applied, strict=True):
            if ok:
                written += 1
                self.recorded[type(result)] += 1
            else:
                self.lost += 1
                logger.warning(
                    "worker %s lost the lease on job %s (%s) before recording its result (%s): "
                    "the job was reaped or taken over, so this result was discarded",
                    self.context.worker_id,
                    result.job.id,
                    result.job.type,
                    result.attempt.outcome,
                )
        return written, any(isinstance(result, Retried | Released) for result in batch)

    def _still_held(self, batch: list[JobResult]) -> list[JobResult]:
        """The results to try again: those whose lease the pool still holds."""
        now = self.context.clock()
        keep, lapsed = [], []
        for result in batch:
            until = self.context.holdings.lease_until(result.job.id)
            (keep if until is not None and now < until else lapsed).append(result)
        if lapsed:
            self.context.holdings.written(lapsed)
            self.given_up += len(lapsed)
            logger.error(
                "worker %s could not record %d job results before their leases lapsed: %s; "
                "they will be reaped and run again",
                self.context.worker_id,
                len(lapsed),
                ", ".join(result.job.id for result in lapsed),
            )
        return keep
