"""The job domain objects, and the ORM tables the embedded SQL store keeps them in.

``Job`` (a dataclass) is what every layer above the stores sees, whichever store holds
the job. ``JobRecord`` and ``WorkerPoolRecord`` are rows of the embedded SQL store; only
``jobs.stores.sql`` queries them.
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


class JobRecord(models.Model):
    """A job row of the embedded SQL store. Only ``jobs.stores.sql`` queries it.

    The model also carries the admin permissions for jobs (``view_jobrecord``,
    ``change_jobrecord``), whichever store holds the jobs.
    """

    id = models.CharField(primary_key=True, max_length=24)
    type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices)
    retry_count = models.IntegerField(default=0)
    max_retries = models.IntegerField()
    priority = models.IntegerField(default=0)
    run_at = models.DateTimeField()
    lease_owner = models.CharField(max_length=200, null=True)
    lease_token = models.CharField(max_length=64, null=True)
    lease_expires_at = models.DateTimeField(null=True)
    lease_started_at = models.DateTimeField(null=True)
    attempts = models.JSONField(default=list)
    attempt_count = models.IntegerField(default=0)
    last_error = models.TextField(null=True)
    has_error = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    # Unique (constraint job_idempotency_key): two concurrent POSTs with one
    # Idempotency-Key cannot both insert.
    idempotency_key = models.CharField(max_length=MAX_IDEMPOTENCY_KEY_LENGTH, null=True)
    request_hash = models.CharField(max_length=64, null=True)
    result = models.JSONField(null=True)
    progress = models.JSONField(null=True)
    cancel_requested = models.BooleanField(default=False)
    queue = models.CharField(max_length=64, default=DEFAULT_QUEUE)
    unique_key = models.CharField(max_length=255, null=True)
    schedule = models.CharField(max_length=100, null=True)

    class Meta:
        db_table = "jobs_job"
        verbose_name = "job"
        verbose_name_plural = "jobs"
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="job_status_valid"),
            # unique jobs: the database, not a read-then-write, refuses a second live job
            models.UniqueConstraint(
                fields=["type", "unique_key"],
                condition=models.Q(status__in=UNIQUE_KEY_STATUSES, unique_key__isnull=False),
                name="job_unique_key_live",
            ),
            # Partial, like the indexes below marked so: a job without a key costs its
            # insert no index update (each one is a B-tree write and a page in the WAL).
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="job_idempotency_key",
            ),
        ]
        indexes = [
            # claim: WHERE status='pending' AND run_at <= now [AND queue NOT IN (paused)]
            # ORDER BY priority DESC, run_at, id. Covering, so paused queues are skipped in
            # the index without reading rows. Partial, like the other indexes of pending jobs:
            # a job leaves them when claimed and a claim or completion moves no entry of them
            # (queries must spell status = 'pending' as a literal for SQLite to use them).
            models.Index(
                fields=["status", "-priority", "run_at", "id", "queue"],
                condition=models.Q(status="pending"),
                name="job_claim_idx",
            ),
            # claim from one queue (runworkers --queue): the same, within a queue
            models.Index(
                fields=["status", "queue", "-priority", "run_at", "id"],
                condition=models.Q(status="pending"),
                name="job_queue_claim_idx",
            ),
            # list filtered by queue; counts per queue x status
            models.Index(fields=["queue", "-created_at", "-id"], name="job_queue_list_idx"),
            # list: ORDER BY created_at DESC, id DESC (cursor pagination)
            models.Index(fields=["-created_at", "-id"], name="job_list_idx"),
            # list filtered by status; counts per status; oldest due pending (status, run_at)
            models.Index(fields=["status", "-created_at", "-id"], name="job_status_list_idx"),
            # list filtered by type; counts per type x status
            models.Index(fields=["type", "-created_at", "-id"], name="job_type_list_idx"),
            # counts per type x status (covering)
            models.Index(fields=["type", "status"], name="job_type_status_idx"),
            # reaper: WHERE status='processing' AND lease_expires_at < now. Partial: only
            # held jobs are in it, so an insert does not touch it. (status stays a column
            # so SQLite's planner prefers it to job_status_list_idx for status=?.)
            models.Index(
                fields=["status", "lease_expires_at"], condition=models.Q(status="processing"), name="job_reaper_idx"
            ),
            # oldest due pending / delayed count: WHERE status='pending' AND run_at <= now. Partial.
            models.Index(fields=["status", "run_at"], condition=models.Q(status="pending"), name="job_due_idx"),
            # throughput chart and purge: WHERE status IN (...) AND finished_at >= since.
            # Partial: only finished jobs are in it (queries name finished_at), so
            # neither the insert nor the claim touches it.
            models.Index(
                fields=["status", "finished_at"],
                condition=models.Q(finished_at__isnull=False),
                name="job_finished_idx",
            ),
            # list filtered by "has error" (true). Partial: only failed attempts' jobs; a
            # list of jobs without error walks job_list_idx, where nearly every job matches.
            models.Index(fields=["-created_at", "-id"], condition=models.Q(has_error=True), name="job_error_list_idx"),
        ]

    def __str__(self):
        return f"{self.type} job {self.id}"


class WorkerPoolRecord(models.Model):
    """A worker process of the embedded SQL store's registry. Only ``jobs.stores.sql`` queries it."""

    id = models.CharField(primary_key=True, max_length=64)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    concurrency = models.IntegerField()
    running = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    # live pools: WHERE heartbeat_at >= now - lease
    heartbeat_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "jobs_workerpool"
        verbose_name = "worker pool"

    def __str__(self):
        return f"worker pool {self.id}"


class PausedQueueRecord(models.Model):
    """A paused queue of the embedded SQL store: its pending jobs are not claimed.
    Only ``jobs.stores.sql`` queries it."""

    name = models.CharField(primary_key=True, max_length=64)
    paused_at = models.DateTimeField()

    class Meta:
        db_table = "jobs_pausedqueue"
        verbose_name = "paused queue"

    def __str__(self):
        return f"paused queue {self.name}"


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


class ScheduleRecord(models.Model):
    """A schedule row of the embedded SQL store. Only ``jobs.stores.sql`` queries it; the
    admin's schedule pages use its permissions."""

    name = models.CharField(primary_key=True, max_length=100)
    type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    cron = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC")
    queue = models.CharField(max_length=64, default="default")
    priority = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True)
    last_run_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "jobs_schedule"
        verbose_name = "schedule"

    def __str__(self):
        return f"schedule {self.name}"
