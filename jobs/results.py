"""What became of one held job: the typed results a worker or the reaper hands a store.

A result names the job (as its holder read it, lease token included) and the attempt
to append to its history. Each kind of result says, through ``transition()``, which
fields the store must write; so a store has exactly one fenced write for every kind
(``JobStore.record_results``) and never asks which kind it was given.
"""

from dataclasses import dataclass
from datetime import datetime

from jobs.models import Attempt, Job, Status
from jobs.retry import Decision, RetryAt
from jobs.timeutil import truncate_ms


@dataclass(frozen=True)
class Transition:
    """The fields a result writes besides the lease (cleared), the history and
    ``updatedAt``. Fields a result leaves alone carry the holder's copy, which is exact:
    nothing else writes a job while its lease is held."""

    status: Status
    run_at: datetime
    retry_increment: int
    last_error: str | None
    finished_at: datetime | None

    @property
    def has_error(self) -> bool:
        return self.last_error is not None


@dataclass(frozen=True)
class JobResult:
    """Base of the result kinds; ``job`` is the held job, ``attempt`` the run to record."""

    job: Job
    attempt: Attempt

    def transition(self, now: datetime) -> Transition:  # pragma: no cover - every kind overrides
        raise NotImplementedError


@dataclass(frozen=True)
class Completed(JobResult):
    """The handler succeeded. ``lastError`` is cleared: the attempts keep the history."""

    def transition(self, now: datetime) -> Transition:
        return Transition(Status.COMPLETED, self.job.run_at, 0, None, now)


@dataclass(frozen=True)
class Retried(JobResult):
    """The attempt failed and retries remain: ``pending`` again at ``run_at``, one more retry counted."""

    run_at: datetime

    def transition(self, now: datetime) -> Transition:
        return Transition(Status.PENDING, truncate_ms(self.run_at), 1, self.attempt.error, self.job.finished_at)


@dataclass(frozen=True)
class Failed(JobResult):
    """The attempt failed for good: ``failed``, retryCount unchanged, its error kept."""

    def transition(self, now: datetime) -> Transition:
        return Transition(Status.FAILED, self.job.run_at, 0, self.attempt.error, now)


@dataclass(frozen=True)
class Released(JobResult):
    """Given back unfinished (shutdown): ``pending`` and due now, retryCount unchanged."""

    def transition(self, now: datetime) -> Transition:
        return Transition(Status.PENDING, now, 0, self.job.last_error, self.job.finished_at)


def after_failure(job: Job, attempt: Attempt, decision: Decision) -> Retried | Failed:
    """The result of a failed attempt, as the retry strategy decided."""
    if isinstance(decision, RetryAt):
        return Retried(job, attempt, run_at=decision.run_at)
    return Failed(job, attempt)
