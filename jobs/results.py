"""What became of one held job: the typed results a worker or the reaper hands a store.

A result names the job (as its holder read it, lease token included) and the attempt
to append to its history. Each kind of result says, through ``transition()``, which
fields the store must write; so a store has exactly one fenced write for every kind
(``JobStore.record_results``) and never asks which kind it was given. The history is
written whole from the holder's copy: nothing else changes a job while it is held.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from jobs.domain import Attempt, Job, Status
from jobs.retry import Decision, RetryAt
from jobs.timeutil import truncate_ms


class Keep(Enum):
    """A field a transition leaves as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class Transition:
    """The fields a result writes besides the lease (cleared), the history and
    ``updatedAt``. Fields left ``KEEP`` are not written at all, so a store touches no
    index it need not."""

    status: Status
    run_at: datetime | Keep = KEEP
    retry_increment: int = 0
    last_error: str | Keep | None = KEEP
    finished_at: datetime | Keep = KEEP
    result: Any | Keep = KEEP

    def changed_fields(self) -> dict:
        """``status`` and every field not kept, by name (``has_error`` follows ``last_error``)."""
        fields = {"status": self.status}
        if self.run_at is not KEEP:
            fields["run_at"] = self.run_at
        if self.last_error is not KEEP:
            fields["last_error"] = self.last_error
            fields["has_error"] = self.last_error is not None
        if self.finished_at is not KEEP:
            fields["finished_at"] = self.finished_at
        if self.result is not KEEP:
            fields["result"] = self.result
        return fields


@dataclass(frozen=True)
class JobResult:
    """Base of the result kinds; ``job`` is the held job, ``attempt`` the run to record."""

    job: Job
    attempt: Attempt

    def transition(self, now: datetime) -> Transition:  # pragma: no cover - every kind overrides
        raise NotImplementedError


@dataclass(frozen=True)
class Completed(JobResult):
    """The handler succeeded. ``lastError`` is cleared: the attempts keep the history.
    ``result`` (the handler's JSON return value) is written by the same update."""

    result: Any = None

    def transition(self, now: datetime) -> Transition:
        had_error = self.job.last_error is not None  # else nothing to clear: leave its index alone
        return Transition(
            Status.COMPLETED,
            last_error=None if had_error else KEEP,
            finished_at=now,
            result=KEEP if self.result is None else self.result,
        )


@dataclass(frozen=True)
class Retried(JobResult):
    """The attempt failed and retries remain: ``pending`` again at ``run_at``, one more retry counted."""

    run_at: datetime

    def transition(self, now: datetime) -> Transition:
        return Transition(
            Status.PENDING, run_at=truncate_ms(self.run_at), retry_increment=1, last_error=self.attempt.error
        )


@dataclass(frozen=True)
class Failed(JobResult):
    """The attempt failed for good: ``failed``, retryCount unchanged, its error kept."""

    def transition(self, now: datetime) -> Transition:
        return Transition(Status.FAILED, last_error=self.attempt.error, finished_at=now)


@dataclass(frozen=True)
class Released(JobResult):
    """Given back unfinished (shutdown): ``pending`` and due now, retryCount unchanged."""

    def transition(self, now: datetime) -> Transition:
        return Transition(Status.PENDING, run_at=now)


@dataclass(frozen=True)
class Cancelled(JobResult):
    """The job was cancelled while it ran and its handler stopped: ``cancelled``, never retried."""

    def transition(self, now: datetime) -> Transition:
        return Transition(Status.CANCELLED, finished_at=now)


def after_failure(job: Job, attempt: Attempt, decision: Decision) -> Retried | Failed:
    """The result of a failed attempt, as the retry strategy decided."""
    if isinstance(decision, RetryAt):
        return Retried(job, attempt, run_at=decision.run_at)
    return Failed(job, attempt)
