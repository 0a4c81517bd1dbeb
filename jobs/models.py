"""The ORM tables: jobs, worker pools, paused queues and schedules (the objects the rest of
the code works with are in ``jobs.domain``; only the stores read and write these)."""

from django.db import models

from jobs.domain import DEFAULT_QUEUE, MAX_IDEMPOTENCY_KEY_LENGTH, UNIQUE_KEY_STATUSES, Status


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
            models.Index(fields=["queue", "created_at", "id"], name="job_queue_list_idx"),
            # list: ORDER BY created_at DESC, id DESC (cursor pagination), read backwards.
            # The list indexes are ascending on purpose: a new job's entry lands at the end
            # of its range, where a B-tree appends, not at the start (moving the SQLite
            # inbox: about 8 µs a job instead of 12; docs/ARCHITECTURE.md, "Indexes").
            models.Index(fields=["created_at", "id"], name="job_list_idx"),
            # list filtered by status; counts per status; oldest due pending (status, run_at)
            models.Index(fields=["status", "created_at", "id"], name="job_status_list_idx"),
            # list filtered by type; counts per type x status
            models.Index(fields=["type", "created_at", "id"], name="job_type_list_idx"),
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
            models.Index(fields=["created_at", "id"], condition=models.Q(has_error=True), name="job_error_list_idx"),
        ]

    def __str__(self):
        return f"{self.type} job {self.id}"


class JobInbox(models.Model):
    """Jobs just enqueued on SQLite, not yet moved into ``jobs_job``
    (``jobs.stores.sql.inbox``; docs/ARCHITECTURE.md, "The inbox").

    Only what a plain new job sets is stored (migration 0007); read as a job row, the other
    columns are what every new job has (``statements.INBOX_AS_JOBS``). Only the primary key
    is indexed, and on SQLite the table is ``WITHOUT ROWID``, so a row lives in that key's
    B-tree alone: an insert here writes one B-tree page where one into ``jobs_job`` writes
    ten (its row and nine index entries), and with ``synchronous=FULL`` each page is
    written to the WAL before the commit's fsync. Only ``jobs.stores.sql`` queries it.
    """

    id = models.CharField(primary_key=True, max_length=24)
    type = models.CharField(max_length=100)
    # A JSON column, as in jobs_job, so that a payload the move could not copy is refused
    # by its own enqueue rather than by the move of a thousand others.
    payload = models.JSONField(default=dict)
    max_retries = models.IntegerField()
    priority = models.IntegerField(default=0)
    run_at = models.DateTimeField()
    created_at = models.DateTimeField()
    queue = models.CharField(max_length=64, default=DEFAULT_QUEUE)
    schedule = models.CharField(max_length=100, null=True)

    class Meta:
        db_table = "jobs_inbox"
        verbose_name = "inbox job"

    def __str__(self):
        return f"{self.type} job {self.id} (in the inbox)"


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
