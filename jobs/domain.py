"""The job domain objects every layer above the stores works with, whichever store holds
the job: ``Job`` and ``NewJob``, their attempts and leases, statuses and outcomes, list
filters, worker pools, queues and schedules. The ORM tables the embedded SQL store keeps
them in are in ``jobs.models``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import models

# Attempts kept in a job's history; older ones are dropped and only counted.
ATTEMPT_HISTORY_LIMIT = 20
# A stored idempotency key: the client's (255 characters at most) behind its owner's scope.
MAX_IDEMPOTENCY_KEY_LENGTH = 320

#: The queue of a job enqueued without one.
DEFAULT_QUEUE = "default"
#: What a queue name may be: lowercase letters, digits, "_" and "-", 1 to 64 of them.
QUEUE_NAME_PATTERN = r"^[a-z0-9_-]{1,64}$"


class Status(models.TextChoices):
    """Where a job is in its life; the SQL table refuses any other value."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


class Outcome(models.TextChoices):
    """How one attempt ended."""

    COMPLETED = "completed"
    FAILED = "failed"  # raised; will be retried if retries remain
    TIMED_OUT = "timed out"
    LEASE_EXPIRED = "lease expired (worker lost)"
    RELEASED = "released"  # shutdown before the job finished; not counted as a retry
    CANCELLED = "cancelled"  # the handler stopped because the job was cancelled; never retried


@dataclass(frozen=True)
class Lease:
    """Who holds a processing job, the token that fences its writes, and until when."""

    owner: str
    token: str
    expires_at: datetime
    started_at: datetime


@dataclass(frozen=True)
class Attempt:
    """One run of a job."""

    started_at: datetime
    finished_at: datetime
    worker: str
    outcome: str
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "worker": self.worker,
            "outcome": self.outcome,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict, parse=lambda value: value) -> "Attempt":
        return cls(
            started_at=parse(data["startedAt"]),
            finished_at=parse(data["finishedAt"]),
            worker=data["worker"],
            outcome=data["outcome"],
            error=data.get("error"),
        )


@dataclass(frozen=True)
class Job:
    """A job as stored, whichever store holds it. Datetimes are UTC, whole milliseconds."""

    id: str
    type: str
    payload: dict
    status: Status
    retry_count: int
    max_retries: int
    priority: int
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    last_error: str | None = None
    lease: Lease | None = None
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)
    attempt_count: int = 0  # every attempt ever made, including those dropped from `attempts`
    # The client's Idempotency-Key (scoped by ``services``) and a hash of the request it
    # came with; a store keeps at most one job per key (a unique index).
    idempotency_key: str | None = None
    request_hash: str | None = None
    # Not stored: True on the job ``JobStore.insert`` returns for a key it already held.
    replayed: bool = field(default=False, compare=False)
    result: Any = None  # the handler's JSON return value, written with its completion
    #: ``{"fraction", "message", "updatedAt"}`` as last reported by the running handler.
    progress: dict | None = None
    #: A cancel was asked for while the job was processing; its handler is told at the next renewal.
    cancel_requested: bool = False
    queue: str = DEFAULT_QUEUE
    unique_key: str | None = None  # while pending or processing, no other job of its type has it
    schedule: str | None = None  # the name of the schedule that enqueued it

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def with_attempt(self, attempt: Attempt) -> "Job":
        """This job with ``attempt`` recorded: appended to the history (which keeps the
        latest ``ATTEMPT_HISTORY_LIMIT``) and counted in ``attempt_count``. Nothing else
        changes; the stores write the result's status and times themselves."""
        attempts, attempt_count = self.recorded_attempts(attempt)
        return replace(self, attempts=attempts, attempt_count=attempt_count)

    def recorded_attempts(self, attempt: Attempt) -> tuple[tuple["Attempt", ...], int]:
        """The history and ``attempt_count`` of ``with_attempt(attempt)``, without copying
        the job (a store recording a batch of results needs only these)."""
        return (*self.attempts, attempt)[-ATTEMPT_HISTORY_LIMIT:], self.attempt_count + 1


@dataclass(frozen=True)
class NewJob:
    """What a store needs to insert a job; ids and timestamps are the store's to make."""

    type: str
    payload: dict
    max_retries: int
    priority: int = 0
    run_at: datetime | None = None  # None: due now
    # With a key, ``JobStore.insert`` returns the job already stored under it, if any.
    idempotency_key: str | None = None
    request_hash: str | None = None
    queue: str = DEFAULT_QUEUE
    unique_key: str | None = None
    schedule: str | None = None
    #: ``payload`` as compact JSON text (``separators=(",", ":")``, ``ensure_ascii=False``)
    #: when validation already encoded it: a store that keeps JSON text writes it as is
    #: instead of encoding the payload a second time. ``None``: the store encodes it.
    encoded_payload: str | None = field(default=None, compare=False, repr=False)


# While a job is in one of these, its (type, unique key) is taken.
UNIQUE_KEY_STATUSES = (Status.PENDING, Status.PROCESSING)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a job list holds: each field that is not ``None`` must match."""

    status: str | None = None
    type: str | None = None
    has_error: bool | None = None
    queue: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> "JobFilter":
        """The filter among a validated list query's values (other keys are ignored)."""
        return cls(**{name: query.get(name) for name in ("status", "type", "has_error", "queue")})


ALL_JOBS = JobFilter()


@dataclass(frozen=True)
class PoolInfo:
    """A running worker process, as it registered itself."""

    id: str
    host: str
    pid: int
    concurrency: int
    running: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class QueueInfo:
    """One named queue: jobs per status, when its oldest due pending job became due
    (``None``: none due) and whether it is paused."""

    name: str
    counts: dict[str, int]
    oldest_due_at: datetime | None
    paused: bool


@dataclass(frozen=True)
class Throughput:
    """Jobs finished in one time bucket starting at ``start``."""

    start: datetime
    completed: int
    failed: int


@dataclass(frozen=True)
class Schedule:
    """A periodic job: ``type`` with ``payload`` enqueued at each ``cron`` tick in ``timezone``.

    ``next_run_at`` is the first tick not enqueued yet; ``last_run_at`` the latest
    enqueued. Datetimes are UTC, whole milliseconds.
    """

    name: str
    type: str
    payload: dict
    cron: str
    timezone: str = "UTC"
    queue: str = "default"
    priority: int = 0
    enabled: bool = True
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
