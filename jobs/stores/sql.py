"""The embedded job store: jobs in Django's own database (SQLite under var/ by default).

The only module that queries the jobs table. Hot paths (insert, claim, finish) use
one raw SQL statement each, because the ORM adds more Python per call than SQLite
spends on the statement, and because an atomic batch claim needs ``UPDATE … RETURNING``,
which the ORM cannot express. Everything else goes through the ORM.

Durability and concurrency come from the connection settings (``jobqueue.settings``):
WAL with ``synchronous=FULL`` and ``BEGIN IMMEDIATE`` transactions with a busy timeout,
so several processes share the file safely. On PostgreSQL the claim picks its rows
with ``FOR UPDATE SKIP LOCKED``. Supported: SQLite ≥ 3.35 and PostgreSQL (both have
``UPDATE … RETURNING``); other databases are refused at start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, IntegrityError, OperationalError, connections, transaction
from django.db.models import Count, F

from jobs.frozen_build import FrozenBuilder
from jobs.ids import new_job_id, new_job_ids
from jobs.models import (
    ALL_JOBS,
    FINISHED_STATUSES,
    Attempt,
    Job,
    JobFilter,
    JobRecord,
    Lease,
    NewJob,
    Outcome,
    PausedQueueRecord,
    PoolInfo,
    Schedule,
    ScheduleRecord,
    Status,
    Throughput,
    WorkerPoolRecord,
)
from jobs.results import JobResult
from jobs.stores.base import JobStore, ListCursor, Renewal, StoreUnavailable, translate_errors
from jobs.timeutil import truncate_ms

logger = logging.getLogger(__name__)

TABLE = JobRecord._meta.db_table
# Every column, in the order ``_job_from_row`` reads them.
COLUMNS = (
    "id",
    "type",
    "payload",
    "status",
    "retry_count",
    "max_retries",
    "priority",
    "run_at",
    "lease_owner",
    "lease_token",
    "lease_expires_at",
    "lease_started_at",
    "attempts",
    "attempt_count",
    "last_error",
    "created_at",
    "updated_at",
    "finished_at",
    "idempotency_key",
    "request_hash",
    "result",
    "progress",
    "cancel_requested",
    "queue",
    "unique_key",
    "schedule",
)
_SELECT_COLUMNS = ", ".join(COLUMNS)
_INSERT = (
    f"INSERT INTO {TABLE} (id, type, payload, status, retry_count, max_retries, priority, run_at, "
    "attempts, attempt_count, has_error, created_at, updated_at, idempotency_key, request_hash, queue, "
    "unique_key, schedule, cancel_requested) "
    "VALUES (%s, %s, %s, 'pending', 0, %s, %s, %s, '[]', 0, FALSE, %s, %s, %s, %s, %s, %s, %s, FALSE)"
)
# PostgreSQL types of the values a result records: client-side bound parameters reach
# PostgreSQL as untyped literals, which a VALUES list makes text.
_RECORDED_TYPES = {
    "status": "varchar",
    "run_at": "timestamptz",
    "finished_at": "timestamptz",
    "last_error": "text",
    "has_error": "boolean",
    "result": "jsonb",
    "retries": "integer",
    "attempts": "jsonb",
    "attempt_count": "integer",
}

# Rows per recording statement: far below SQLite's 32,766 bound parameters.
RECORD_CHUNK = 500


@functools.cache
def _record_sql(vendor: str, columns: tuple[str, ...], counts_retry: bool, only_expired: bool, rows: int) -> str:
    """One UPDATE recording ``rows`` results of one shape (the columns their transition
    changes): the values come as a VALUES list joined on id, fenced per row on its lease
    token and status; ``RETURNING id`` says which rows matched. Parameters, in text order:
    ``now``; each row's changed values, [its retry increment], attempts, attempt count, id,
    lease token; [``expired_before``]."""
    names = [*columns, *(["retries"] if counts_retry else []), "attempts", "attempt_count", "job_id", "token"]
    row = f"({', '.join(['%s'] * len(names))})"
    # A VALUES list names its columns column1, column2, … on both SQLite and PostgreSQL.
    position = {name: f"v.column{number}" for number, name in enumerate(names, start=1)}

    def value(name: str) -> str:
        return f"CAST({position[name]} AS {_RECORDED_TYPES[name]})" if vendor == "postgresql" else position[name]

    assignments = [f"{column} = {value(column)}" for column in columns]
    if counts_retry:
        assignments.append(f"retry_count = retry_count + {value('retries')}")
    assignments += [
        "lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, lease_started_at = NULL",
        f"cancel_requested = FALSE, attempts = {value('attempts')}, attempt_count = {value('attempt_count')}",
        "updated_at = %s",
    ]
    # The unary + (SQLite) keeps the planner on the primary key, not the index of held jobs.
    status = f"{'' if vendor == 'postgresql' else '+'}{TABLE}.status"
    sql = (
        f"UPDATE {TABLE} SET {', '.join(assignments)} FROM (VALUES {', '.join([row] * rows)}) AS v "
        f"WHERE {TABLE}.id = {position['job_id']} AND {TABLE}.lease_token = {position['token']} "
        f"AND {status} = 'processing'"
    )
    if only_expired:
        sql += f" AND {TABLE}.lease_expires_at < %s"
    return sql + f" RETURNING {TABLE}.id"


def _batches(rows: Sequence[tuple[int, tuple, bool, list]]) -> list[tuple[tuple, list[tuple[int, list]]]]:
    """``rows`` (index, columns, counts_retry, values) as statements to run, in order: one
    per shape and chunk. Two results for one job each get their own statement, in order
    (a join would apply one of them without saying which; the later one now fails its fence)."""
    if len({values[-2] for _, _, _, values in rows}) < len(rows):
        return [((columns, counts_retry), [(index, values)]) for index, columns, counts_retry, values in rows]
    shapes: dict[tuple, list[tuple[int, list]]] = {}
    for index, columns, counts_retry, values in rows:
        shapes.setdefault((columns, counts_retry), []).append((index, values))
    return [
        (shape, batch[start : start + RECORD_CHUNK])
        for shape, batch in shapes.items()
        for start in range(0, len(batch), RECORD_CHUNK)
    ]


_CLAIM_SET = (
    "SET status = 'processing', lease_owner = %s, lease_token = %s, lease_expires_at = %s, "
    "lease_started_at = %s, updated_at = %s"
)
_CLAIM_ORDER = "ORDER BY priority DESC, run_at, id LIMIT %s"


@functools.cache
def _claim_sql(vendor: str, one_queue: bool, excluded: int) -> str:
    """The claim statement: from one queue (served by ``job_queue_claim_idx``) or from
    every queue but ``excluded`` paused ones (``job_claim_idx``; the few paused names
    are filtered while walking it). Parameters: the lease, then ``now``, the queue or
    the excluded names, and the limit."""
    where = "WHERE status = 'pending' AND run_at <= %s"
    if one_queue:
        where += " AND queue = %s"
    elif excluded:
        where += f" AND queue NOT IN ({', '.join(['%s'] * excluded)})"
    pick = f"{where} {_CLAIM_ORDER}"
    if vendor == "postgresql":
        # PostgreSQL skips rows another claimer has locked. The pick is a MATERIALIZED CTE so
        # it runs exactly once: as an IN subquery, the planner may run it once per row of a
        # nested-loop semi join on a small or unanalysed table, each run locking the next
        # unlocked rows, and the claim then took every due job instead of its limit.
        return (
            f"WITH pick AS MATERIALIZED (SELECT id FROM {TABLE} {pick} FOR UPDATE SKIP LOCKED) "
            f"UPDATE {TABLE} {_CLAIM_SET} FROM pick WHERE {TABLE}.id = pick.id AND {TABLE}.status = 'pending' "
            "RETURNING " + ", ".join(f"{TABLE}.{column}" for column in COLUMNS)
        )
    # SQLite runs the whole statement under its write lock, so no job is handed out twice.
    # The unary + keeps the status check but stops SQLite choosing the status index for the
    # outer UPDATE, which would scan every pending row instead of looking each one up by id.
    return (
        f"UPDATE {TABLE} {_CLAIM_SET} WHERE +status = 'pending' "
        f"AND id IN (SELECT id FROM {TABLE} {pick}) RETURNING {_SELECT_COLUMNS}"
    )


_LIVE_WITH_KEY = (
    f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE type = %s AND unique_key = %s AND status IN ('pending', 'processing')"
)
# How often an insert refused for its unique key looks for the holder before giving up.
UNIQUE_INSERT_TRIES = 5
# What the store needs: UPDATE … RETURNING (SQLite 3.35) and the claim above.
SUPPORTED_VENDORS = ("sqlite", "postgresql")
MINIMUM_SQLITE = (3, 35)


def _parse_datetime(value) -> datetime | None:
    """A column value as an aware UTC datetime (SQLite hands back text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
        if value.tzinfo is None and not value.microsecond % 1000:
            return value.replace(tzinfo=UTC)  # SQLite's naive UTC text, already whole milliseconds
    return truncate_ms(value if value.tzinfo else value.replace(tzinfo=UTC))


def _parse_json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def _attempt_to_json(attempt: Attempt) -> dict:
    return {
        "startedAt": attempt.started_at.isoformat(),
        "finishedAt": attempt.finished_at.isoformat(),
        "worker": attempt.worker,
        "outcome": attempt.outcome,
        "error": attempt.error,
    }


def _counted_as(outcome: str) -> str | None:
    """The throughput column an attempt's outcome counts in; a release or a cancel is no result."""
    if outcome == Outcome.COMPLETED:
        return "completed"
    return None if outcome in (Outcome.RELEASED, Outcome.CANCELLED) else "failed"


def _job_from_row(row: Sequence) -> Job:
    (
        job_id,
        job_type,
        payload,
        status,
        retry_count,
        max_retries,
        priority,
        run_at,
        lease_owner,
        lease_token,
        lease_expires_at,
        lease_started_at,
        attempts,
        attempt_count,
        last_error,
        created_at,
        updated_at,
        finished_at,
        idempotency_key,
        request_hash,
        result,
        progress,
        cancel_requested,
        queue,
        unique_key,
        schedule,
    ) = row
    lease = None
    if lease_token is not None:
        lease = Lease(
            owner=lease_owner,
            token=lease_token,
            expires_at=_parse_datetime(lease_expires_at),
            started_at=_parse_datetime(lease_started_at),
        )
    return Job(
        id=job_id,
        type=job_type,
        payload=_parse_json(payload),
        status=Status(status),
        retry_count=retry_count,
        max_retries=max_retries,
        priority=priority,
        run_at=_parse_datetime(run_at),
        created_at=_parse_datetime(created_at),
        updated_at=_parse_datetime(updated_at),
        finished_at=_parse_datetime(finished_at),
        last_error=last_error,
        lease=lease,
        attempts=tuple(Attempt.from_dict(item, _parse_datetime) for item in _parse_json(attempts) or ()),
        attempt_count=attempt_count,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        result=_parse_json(result),
        progress=_parse_json(progress),
        cancel_requested=bool(cancel_requested),
        queue=queue,
        unique_key=unique_key,
        schedule=schedule,
    )


@functools.cache
def _qmark(sql: str) -> str:
    """``sql`` with Django's ``%s`` placeholders as SQLite's ``?``, converted once per text
    (Django's SQLite cursor runs this regex on every call)."""
    return _FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")


_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")

# One encoder for every call: json.dumps builds a new one per call when given options.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _execute_on_sqlite(connection, sql: str, params: Sequence) -> list[tuple]:
    """What ``connection.cursor().execute()`` does on SQLite, minus a wrapper object and a
    regex per call: the same sqlite3 connection (so the same transaction), the same error
    translation (``wrap_database_errors`` raises Django's exceptions and marks the
    connection), skipped only when queries are being logged (DEBUG, test captures)."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        cursor = connection.connection.execute(_qmark(sql), params)
        if cursor.description is None:
            return [(cursor.rowcount,)]
        return cursor.fetchall()


def _decode_payload(text: str) -> dict:
    """A fresh copy of the payload stored as ``text`` (most payloads are empty)."""
    return {} if text == "{}" else json.loads(text)


#: ``Job(**values)`` for the job an insert returns, built quicker (``jobs.frozen_build``).
_pending_job = FrozenBuilder(Job)


def _pool_from_record(record: WorkerPoolRecord) -> PoolInfo:
    return PoolInfo(
        id=record.id,
        host=record.host,
        pid=record.pid,
        concurrency=record.concurrency,
        running=record.running,
        started_at=truncate_ms(record.started_at),
        heartbeat_at=truncate_ms(record.heartbeat_at),
    )


_SCHEDULE_FIELDS = ("type", "payload", "cron", "timezone", "queue", "priority", "enabled", "next_run_at", "last_run_at")


def _schedule_from_record(record: ScheduleRecord) -> Schedule:
    return Schedule(
        name=record.name,
        **{field: getattr(record, field) for field in _SCHEDULE_FIELDS if not field.endswith("_at")},
        next_run_at=truncate_ms(record.next_run_at) if record.next_run_at else None,
        last_run_at=truncate_ms(record.last_run_at) if record.last_run_at else None,
    )


def _as_unavailable(store: SqlJobStore, error: Exception) -> Exception | None:
    """A locked (busy past ``JOBQUEUE_STORE_TIMEOUT``) or unreachable database is an
    outage the caller may retry; the transaction was rolled back, so nothing was written."""
    if isinstance(error, OperationalError):
        return StoreUnavailable(f"{store.describe()} is locked or unreachable: {error}")
    return None


@translate_errors(_as_unavailable)
class SqlJobStore(JobStore):
    """Jobs in a Django database (``using`` names the alias, ``default`` unless told)."""

    kind = "sql"

    def __init__(self, using: str = "default"):
        super().__init__()
        self.using = using

    # -- plumbing -----------------------------------------------------------------------
    @property
    def _connection(self):
        return connections[self.using]

    def _execute(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """Run one statement (one round trip); its rows, if it returns any."""
        connection = self._connection
        if connection.vendor == "sqlite" and not connection.queries_logged:
            return _execute_on_sqlite(connection, sql, params)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.description is None:
                return [(cursor.rowcount,)]
            return cursor.fetchall()

    def _rowcount(self, sql: str, params: Sequence) -> int:
        return self._execute(sql, params)[0][0]

    def _dt(self, value: datetime | None):
        """A datetime as the database driver wants it (naive UTC text on SQLite)."""
        if value is not None and value.tzinfo is UTC and self._naive_utc_text:
            # What adapt_datetimefield_value returns for it (str() of the naive datetime),
            # without its connection and settings look-ups (a tenth of an enqueue's
            # Python); isoformat then cutting "+00:00" is a third quicker than replace+str.
            return value.isoformat(" ")[:-6]
        return self._connection.ops.adapt_datetimefield_value(value)

    @functools.cached_property
    def _naive_utc_text(self) -> bool:
        """Whether the database takes datetimes as naive UTC text (SQLite, with USE_TZ)."""
        connection = self._connection
        return connection.vendor == "sqlite" and connection.timezone is UTC  # None without USE_TZ

    def _json(self, value) -> str:
        return _encode_json(value)

    @staticmethod
    def _encoded_payload(new_job: NewJob) -> str:
        """The payload's JSON text: as validation encoded it (the same compact form), else encoded now."""
        encoded = new_job.encoded_payload
        return _encode_json(new_job.payload) if encoded is None else encoded

    def _jobs(self):
        return JobRecord.objects.using(self.using)

    def describe(self) -> str:
        settings_dict = self._connection.settings_dict
        vendor = self._connection.vendor
        if vendor == "sqlite":
            return f"SQLite at {settings_dict['NAME']}"
        host = settings_dict.get("HOST") or "localhost"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"{self._connection.display_name} at {host}{port}, database {settings_dict['NAME']}"

    def ensure_ready(self) -> None:
        """Refuse, with the reason, a database the store does not support or a missing table."""
        self._check_database_is_supported()
        try:
            self._execute(f"SELECT 1 FROM {TABLE} WHERE 1 = 0")
        except DatabaseError as error:
            raise StoreUnavailable(
                f"the jobs table is not usable in {self.describe()}: {error} (run `python manage.py migrate`)"
            ) from error

    def _check_database_is_supported(self) -> None:
        vendor = self._connection.vendor
        if vendor not in SUPPORTED_VENDORS:
            raise StoreUnavailable(
                f"the embedded job store supports SQLite and PostgreSQL, not {self._connection.display_name} "
                "(set DATABASE_URL to a PostgreSQL database, or MONGODB_URI)"
            )
        if vendor == "sqlite" and self._connection.Database.sqlite_version_info < MINIMUM_SQLITE:
            found = ".".join(map(str, self._connection.Database.sqlite_version_info))
            needed = ".".join(map(str, MINIMUM_SQLITE))
            raise StoreUnavailable(
                f"the embedded job store needs SQLite {needed} or newer (UPDATE … RETURNING); found {found}"
            )

    def close(self) -> None:
        self._connection.close()

    # -- enqueue and read -----------------------------------------------------------------
    def _insert_params(
        self, job_id: str, new_job: NewJob, now: datetime, encoded_payload: str, now_value=None
    ) -> tuple:
        """The INSERT's parameters; ``now_value`` is ``now`` already adapted, if the caller has it."""
        now_value = self._dt(now) if now_value is None else now_value
        return (
            job_id,
            new_job.type,
            encoded_payload,
            new_job.max_retries,
            new_job.priority,
            now_value if new_job.run_at is None else self._dt(new_job.run_at),
            now_value,
            now_value,
            new_job.idempotency_key,
            new_job.request_hash,
            new_job.queue,
            new_job.unique_key,
            new_job.schedule,
        )

    def _new_job(self, job_id: str, new_job: NewJob, now: datetime, stored_payload: dict) -> Job:
        """The job as inserted; ``stored_payload``: the payload decoded from the text stored (a
        copy, not the caller's dict, which they may change afterwards)."""
        return _pending_job(
            id=job_id,
            type=new_job.type,
            payload=stored_payload,
            status=Status.PENDING,
            retry_count=0,
            max_retries=new_job.max_retries,
            priority=new_job.priority,
            run_at=truncate_ms(new_job.run_at) if new_job.run_at is not None else now,
            created_at=now,
            updated_at=now,
            idempotency_key=new_job.idempotency_key,
            request_hash=new_job.request_hash,
            queue=new_job.queue,
            unique_key=new_job.unique_key,
            schedule=new_job.schedule,
        )

    def insert(self, new_job: NewJob, *, now: datetime) -> Job:
        if new_job.unique_key is not None:
            return self.insert_unique(new_job, now=now)[0]
        now = truncate_ms(now)
        job_id = new_job_id()
        encoded_payload = self._encoded_payload(new_job)
        params = self._insert_params(job_id, new_job, now, encoded_payload)
        if new_job.idempotency_key is None:
            self._execute(_INSERT, params)
            return self._new_job(job_id, new_job, now, _decode_payload(encoded_payload))
        try:
            # A savepoint, so that the refused insert leaves an outer transaction usable.
            with transaction.atomic(using=self.using):
                self._execute(_INSERT, params)
        except IntegrityError:
            existing = self._by_idempotency_key(new_job.idempotency_key)
            if existing is None:
                raise
            return dataclasses.replace(existing, replayed=True)
        return self._new_job(job_id, new_job, now, _decode_payload(encoded_payload))

    def _by_idempotency_key(self, key: str) -> Job | None:
        rows = self._execute(f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE idempotency_key = %s", (key,))
        return _job_from_row(rows[0]) if rows else None

    def insert_unique(self, new_job: NewJob, *, now: datetime) -> tuple[Job, bool]:
        now = truncate_ms(now)
        for _ in range(UNIQUE_INSERT_TRIES):
            job_id = new_job_id()
            encoded_payload = self._encoded_payload(new_job)
            try:
                # A savepoint inside a caller's transaction, so PostgreSQL can go on after the refusal.
                with transaction.atomic(using=self.using):
                    self._execute(_INSERT, self._insert_params(job_id, new_job, now, encoded_payload))
                return self._new_job(job_id, new_job, now, _decode_payload(encoded_payload)), True
            except IntegrityError:
                rows = self._execute(_LIVE_WITH_KEY, (new_job.type, new_job.unique_key))
                if rows:
                    return _job_from_row(rows[0]), False
                # The holder of the key finished between the refusal and the read: try again.
        raise StoreUnavailable(f"unique key {new_job.unique_key!r} kept changing hands; try again")

    def insert_many(self, new_jobs: Sequence[NewJob], *, now: datetime) -> list[Job]:
        """One ``executemany`` of the insert in one transaction: one durable commit for the lot."""
        now = truncate_ms(now)
        ids = new_job_ids(len(new_jobs))
        payloads = [self._encoded_payload(new_job) for new_job in new_jobs]
        rows = list(zip(ids, new_jobs, payloads, strict=True))
        now_value = self._dt(now)  # adapted once: most jobs of a batch are due now
        params = [self._insert_params(job_id, new_job, now, payload, now_value) for job_id, new_job, payload in rows]
        if params:
            with transaction.atomic(using=self.using):
                with self._connection.cursor() as cursor:
                    cursor.executemany(_INSERT, params)
        # One parse for every copy: a JSON array of the texts stored.
        stored_payloads = json.loads(f"[{','.join(payloads)}]")
        return [
            self._new_job(job_id, new_job, now, payload)
            for job_id, new_job, payload in zip(ids, new_jobs, stored_payloads, strict=True)
        ]

    def get(self, job_id: str) -> Job | None:
        rows = self._execute(f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE id = %s", (job_id,))
        return _job_from_row(rows[0]) if rows else None

    def list_jobs(
        self,
        criteria: JobFilter = ALL_JOBS,
        *,
        limit: int = 50,
        after: ListCursor | None = None,
        before: ListCursor | None = None,
    ) -> list[Job]:
        query = self._jobs().order_by("-created_at", "-id")
        matches = {name: value for name, value in vars(criteria).items() if value is not None}
        query = query.filter(**matches)  # the filter's fields are the model's column names
        if after is not None:
            created_at, job_id = after
            query = query.filter(created_at__lte=created_at).exclude(created_at=created_at, id__gte=job_id)
        if before is not None:
            # The jobs just before the cursor in list order: read upwards from it, then flip.
            created_at, job_id = before
            query = query.filter(created_at__gte=created_at).exclude(created_at=created_at, id__lte=job_id)
            query = query.reverse()
        jobs = [_job_from_row(row) for row in query.values_list(*COLUMNS)[:limit]]
        return jobs[::-1] if before is not None else jobs

    # -- the worker's side ----------------------------------------------------------------
    def claim(
        self,
        *,
        owner: str,
        limit: int,
        now: datetime,
        lease_seconds: float,
        queue: str | None = None,
        exclude_queues: Collection[str] = (),
    ) -> list[Job]:
        if limit < 1:
            return []
        now = truncate_ms(now)
        token = uuid.uuid4().hex
        expires_at = truncate_ms(now + timedelta(seconds=lease_seconds))
        lease = (owner, token, self._dt(expires_at), self._dt(now), self._dt(now))
        excluded = () if queue is not None else tuple(sorted(exclude_queues))
        pick = (self._dt(now), *((queue,) if queue is not None else excluded), limit)
        vendor = self._connection.vendor
        sql = _claim_sql(vendor, queue is not None, len(excluded))
        rows = self._execute(sql, (*pick, *lease) if vendor == "postgresql" else (*lease, *pick))
        jobs = [_job_from_row(row) for row in rows]
        jobs.sort(key=lambda job: (-job.priority, job.run_at, job.id))
        return jobs

    def renew(
        self,
        held: Sequence[Job],
        *,
        now: datetime,
        lease_seconds: float,
        progress: Mapping[str, dict] | None = None,
    ) -> Renewal:
        """See ``JobStore.renew``: one UPDATE … RETURNING, progress included (a CASE by id)."""
        if not held:
            return Renewal()
        expires_at = truncate_ms(now + timedelta(seconds=lease_seconds))
        assignments, params = ["lease_expires_at = %s"], [self._dt(expires_at)]
        reported = [(job_id, value) for job_id, value in (progress or {}).items()]
        if reported:
            cast = "CAST(%s AS jsonb)" if self._connection.vendor == "postgresql" else "%s"
            cases = " ".join([f"WHEN %s THEN {cast}"] * len(reported))
            assignments.append(f"progress = CASE id {cases} ELSE progress END")
            params += [item for job_id, value in reported for item in (job_id, self._json(value))]
        match = " OR ".join(["(id = %s AND lease_token = %s)"] * len(held))
        params += [value for job in held for value in (job.id, job.lease.token)]
        rows = self._execute(
            f"UPDATE {TABLE} SET {', '.join(assignments)} WHERE status = 'processing' AND ({match}) "
            "RETURNING id, cancel_requested",
            params,
        )
        return Renewal(kept={job_id for job_id, _ in rows}, cancel_requested={job_id for job_id, flag in rows if flag})

    def _record_row(self, result: JobResult, now: datetime) -> tuple[tuple, bool, list]:
        """``result`` as one row of a batched record: its shape (the columns its transition
        changes, whether it counts a retry) and the values, ending with id and lease token."""
        job, change = result.job, result.transition(now)
        history, attempt_count = job.recorded_attempts(result.attempt)
        fields = change.changed_fields()
        values = [self._column_value(name, value) for name, value in fields.items()]
        if change.retry_increment:
            values.append(change.retry_increment)
        values += [
            self._json([_attempt_to_json(item) for item in history]),
            attempt_count,
            job.id,
            job.lease.token,
        ]
        return tuple(fields), bool(change.retry_increment), values

    def _column_value(self, name: str, value):
        if name == "result":
            return self._json(value)
        if isinstance(value, datetime):
            return self._dt(value)
        return value.value if isinstance(value, Status) else value

    def record_results(
        self, results: Sequence[JobResult], *, now: datetime, expired_before: datetime | None = None
    ) -> list[bool]:
        """See ``JobStore.record_results``: one fenced ``UPDATE … FROM (VALUES …) RETURNING id``
        per shape of transition (a batch of completions is one statement), all in one
        transaction, so a batch pays for one durable commit (none of its own inside
        ``one_transaction``, whose commit it shares). A result is applied exactly when its
        row (id, lease token, still processing) matched, which the returned ids tell."""
        now = truncate_ms(now)
        if not results:
            return []
        rows = [(index, *self._record_row(result, now)) for index, result in enumerate(results)]
        applied = [False] * len(results)
        expired = [self._dt(truncate_ms(expired_before))] if expired_before is not None else []
        vendor = self._connection.vendor
        batches = _batches(rows)
        # One statement needs no transaction of its own; several share one (without a
        # savepoint inside an outer transaction: a failure here fails all of it anyway).
        together = (
            transaction.atomic(using=self.using, savepoint=False) if len(batches) > 1 else contextlib.nullcontext()
        )
        with together:
            for (columns, counts_retry), batch in batches:
                sql = _record_sql(vendor, columns, counts_retry, expired_before is not None, len(batch))
                params = [self._dt(now), *(value for _, values in batch for value in values), *expired]
                matched = {row[0] for row in self._execute(sql, params)}
                for index, values in batch:
                    applied[index] = values[-2] in matched
        return applied

    @contextlib.contextmanager
    def _shared_transaction(self):
        try:
            with transaction.atomic(using=self.using):
                yield
        except OperationalError as error:
            # Raised by the commit, after the calls inside (which translate their own errors).
            raise _as_unavailable(self, error) from error

    def one_transaction(self):
        """See ``JobStore.one_transaction``: a Django ``atomic`` block on this store's database."""
        return self._shared_transaction()

    def _expired_leases(self, *, now: datetime) -> list[Job]:
        rows = self._execute(
            f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE status = 'processing' AND lease_expires_at < %s",
            (self._dt(now),),
        )
        return [_job_from_row(row) for row in rows]

    # -- operator actions ---------------------------------------------------------------
    def cancel(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        changed = (
            self._jobs()
            .filter(id=job_id, status=Status.PENDING)
            .update(status=Status.CANCELLED, finished_at=now, updated_at=now)
        )
        return self.get(job_id) if changed else None

    def request_cancel(self, job_id: str, *, now: datetime) -> Job | None:
        changed = (
            self._jobs()
            .filter(id=job_id, status=Status.PROCESSING)
            .update(cancel_requested=True, updated_at=truncate_ms(now))
        )
        return self.get(job_id) if changed else None

    def retry_cancelled(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        changed = (
            self._jobs()
            .filter(id=job_id, status=Status.CANCELLED)
            .update(status=Status.PENDING, run_at=now, finished_at=None, cancel_requested=False, updated_at=now)
        )
        return self.get(job_id) if changed else None

    def retry_now(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        try:
            with transaction.atomic(using=self.using):
                retried = self._retry_now_query(now, id=job_id)
        except IntegrityError:  # a live job of its type holds its unique key: it stays failed
            return None
        if retried:
            return self.get(job_id)
        # A delayed pending job becomes due now; one already due keeps its place in line.
        self._jobs().filter(id=job_id, status=Status.PENDING, run_at__gt=now).update(run_at=now, updated_at=now)
        job = self.get(job_id)
        return job if job is not None and job.status == Status.PENDING else None

    def _retry_now_query(self, now: datetime, **match) -> int:
        """Failed jobs matching ``match`` → pending, due now, one more attempt allowed."""
        return (
            self._jobs()
            .filter(status=Status.FAILED, **match)
            .update(
                status=Status.PENDING,
                run_at=now,
                retry_count=F("retry_count") + 1,
                max_retries=F("max_retries") + 1,
                finished_at=None,
                updated_at=now,
            )
        )

    def retry_failed(self, *, type: str, now: datetime) -> int:
        return self._retry_now_query(truncate_ms(now), type=type)

    def delete_finished(self, *, finished_before: datetime) -> int:
        deleted, _ = (
            self._jobs().filter(status__in=[s.value for s in FINISHED_STATUSES], finished_at__lt=finished_before)
        ).delete()
        return deleted

    def purge_finished(self, *, status: str, finished_before: datetime, limit: int) -> int:
        # Bounded: one DELETE of at most ``limit`` rows found by job_finished_idx, so a
        # purge never holds the write lock for long and two pools purging at once only
        # race for the same rows (each row is deleted once; the other finds fewer).
        return self._rowcount(
            f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} WHERE status = %s AND finished_at < %s "
            "ORDER BY finished_at LIMIT %s)",
            (status, self._dt(truncate_ms(finished_before)), limit),
        )

    def fill_finished(self, count: int, *, finished_at: datetime, type: str) -> None:
        """See ``JobStore.fill_finished``: one INSERT … SELECT over a generated series,
        ids ``ff`` + 22 hex digits (new job ids never start so: they begin with a timestamp)."""
        at = self._dt(truncate_ms(finished_at))
        columns = (
            "id, type, payload, status, retry_count, max_retries, priority, run_at, attempts, attempt_count, "
            "has_error, created_at, updated_at, finished_at, queue, cancel_requested"
        )
        values = "%s, '{}', 'completed', 0, 0, 0, %s, '[]', 1, %s, %s, %s, %s, 'default', FALSE"
        if self._connection.vendor == "postgresql":
            sql = (
                f"INSERT INTO {TABLE} ({columns}) SELECT 'ff' || lpad(to_hex(i), 22, '0'), {values} "
                "FROM generate_series(1, %s) AS i"
            )
        else:
            sql = (
                f"INSERT INTO {TABLE} ({columns}) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                f"WHERE i < %s) SELECT printf('ff%%022x', i), {values} FROM n"
            )
        params = (type, at, False, at, at, at)
        with transaction.atomic(using=self.using):
            self._execute(sql, (*params, count) if self._connection.vendor == "postgresql" else (count, *params))

    # -- named queues -------------------------------------------------------------------
    def _paused(self):
        return PausedQueueRecord.objects.using(self.using)

    def pause_queue(self, name: str, *, now: datetime) -> None:
        self._paused().get_or_create(name=name, defaults={"paused_at": truncate_ms(now)})

    def resume_queue(self, name: str) -> None:
        self._paused().filter(name=name).delete()

    def paused_queues(self) -> set[str]:
        return set(self._paused().values_list("name", flat=True))

    def count_by_queue_and_status(self) -> dict[tuple[str, str], int]:
        rows = self._jobs().values_list("queue", "status").annotate(n=Count("*")).order_by()
        return {(queue, status): n for queue, status, n in rows}

    def oldest_due_by_queue(self, *, now: datetime) -> dict[str, datetime]:
        rows = self._execute(
            f"SELECT queue, MIN(run_at) FROM {TABLE} WHERE status = 'pending' AND run_at <= %s GROUP BY queue",
            (self._dt(truncate_ms(now)),),
        )
        return {queue: _parse_datetime(oldest) for queue, oldest in rows}

    # -- statistics -----------------------------------------------------------------------
    def recently_finished(self, *, limit: int) -> list[Job]:
        jobs: list[Job] = []
        for status in (Status.COMPLETED, Status.FAILED):
            rows = self._execute(
                # "finished_at IS NOT NULL" (always true of a finished job) lets the
                # partial job_finished_idx serve the ORDER BY.
                f"SELECT {_SELECT_COLUMNS} FROM {TABLE} WHERE status = %s AND finished_at IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT %s",
                (status.value, limit),
            )
            jobs += [_job_from_row(row) for row in rows]
        jobs.sort(key=lambda job: job.finished_at, reverse=True)
        return jobs[:limit]

    def count_by_type_and_status(self) -> dict[tuple[str, str], int]:
        rows = self._jobs().values_list("type", "status").annotate(n=Count("*")).order_by()
        return {(job_type, status): n for job_type, status, n in rows}

    # The two below name status = 'pending' as a literal, not a bound parameter as the ORM
    # would: SQLite uses the partial job_due_idx only for a query it can see is about pending jobs.
    def oldest_due_pending(self, *, now: datetime) -> datetime | None:
        rows = self._execute(
            f"SELECT MIN(run_at) FROM {TABLE} WHERE status = 'pending' AND run_at <= %s", (self._dt(truncate_ms(now)),)
        )
        return _parse_datetime(rows[0][0]) if rows and rows[0][0] is not None else None

    def count_delayed(self, *, now: datetime) -> int:
        rows = self._execute(
            f"SELECT COUNT(*) FROM {TABLE} WHERE status = 'pending' AND run_at > %s", (self._dt(truncate_ms(now)),)
        )
        return sum(count for (count,) in rows)

    def throughput(self, *, since: datetime, bucket_seconds: int) -> list[Throughput]:
        """See ``JobStore.throughput``, in two grouped queries.

        Parsing every finished job's attempts is what makes counting attempts slow, and a
        finished job's last attempt is recorded by the same write that sets its
        ``finished_at`` and status: those are counted from the indexed columns. Only the
        earlier attempts of jobs that ran more than once, and the attempts of jobs that
        are not finished, are unnested from the JSON history.
        """
        rows = self._final_attempt_rows(since, bucket_seconds) + self._earlier_attempt_rows(since, bucket_seconds)
        counts: dict[int, dict[str, int]] = {}
        for bucket, outcome, count in rows:
            counted_as = _counted_as(outcome)
            if counted_as:
                per_bucket = counts.setdefault(int(bucket), {"completed": 0, "failed": 0})
                per_bucket[counted_as] += count
        return [
            Throughput(
                start=datetime.fromtimestamp(bucket * bucket_seconds, tz=UTC),
                completed=per_bucket["completed"],
                failed=per_bucket["failed"],
            )
            for bucket, per_bucket in sorted(counts.items())
        ]

    def _epoch(self, column: str) -> str:
        """SQL for the epoch seconds of a datetime column (or text holding an ISO datetime)."""
        if self._connection.vendor == "sqlite":
            return f"CAST(strftime('%%s', {column}) AS INTEGER)"
        return f"CAST(EXTRACT(EPOCH FROM CAST({column} AS timestamptz)) AS BIGINT)"

    def _final_attempt_rows(self, since: datetime, bucket_seconds: int) -> list[tuple]:
        """(bucket number, outcome, count) of completed and failed jobs' last attempts, by ``finished_at``."""
        return self._execute(
            f"SELECT {self._epoch('finished_at')} / %s AS bucket, status, COUNT(*) FROM {TABLE} "
            "WHERE status IN ('completed', 'failed') AND finished_at >= %s GROUP BY 1, 2",
            (bucket_seconds, self._dt(since)),
        )

    def _earlier_attempt_rows(self, since: datetime, bucket_seconds: int) -> list[tuple]:
        """(bucket number, outcome, count) of every other attempt finished since ``since``.

        Candidates come from indexes: an attempt ends before its job's ``finished_at``
        (finished jobs) and before its ``run_at`` (a pending job is due at or after its
        last attempt ended). ``earlier`` is how many of a job's attempts to count, from
        the first: all but the last for a completed or failed job, all for the others.
        """
        vendor = self._connection.vendor
        if vendor == "sqlite":
            length, unnest, index = "json_array_length", "json_each(j.attempts) AS a", "a.key"
            finished, outcome = "json_extract(a.value, '$.finishedAt')", "json_extract(a.value, '$.outcome')"
        else:  # PostgreSQL (ensure_ready refuses any other database)
            length, index = "jsonb_array_length", "a.position - 1"
            unnest = "jsonb_array_elements(j.attempts) WITH ORDINALITY AS a(value, position)"
            finished, outcome = "a.value ->> 'finishedAt'", "a.value ->> 'outcome'"
        since_text = self._dt(since)
        return self._execute(
            f"SELECT {self._epoch(finished)} / %s AS bucket, {outcome} AS outcome, COUNT(*) FROM ("
            f"SELECT attempts, {length}(attempts) - 1 AS earlier FROM {TABLE} "
            "WHERE status IN ('completed', 'failed') AND finished_at >= %s AND attempt_count > 1 "
            f"UNION ALL SELECT attempts, {length}(attempts) FROM {TABLE} "
            "WHERE status = 'cancelled' AND finished_at >= %s AND attempt_count > 0 "
            f"UNION ALL SELECT attempts, {length}(attempts) FROM {TABLE} "
            "WHERE status = 'pending' AND run_at >= %s AND attempt_count > 0 "
            f"UNION ALL SELECT attempts, {length}(attempts) FROM {TABLE} "
            "WHERE status = 'processing' AND attempt_count > 0"
            f") AS j, {unnest} WHERE {index} < j.earlier AND {self._epoch(finished)} >= %s GROUP BY 1, 2",
            (bucket_seconds, since_text, since_text, since_text, int(since.timestamp())),
        )

    # -- worker-pool registry -------------------------------------------------------------
    def register_pool(self, pool: PoolInfo) -> None:
        WorkerPoolRecord.objects.using(self.using).update_or_create(
            id=pool.id,
            defaults={
                "host": pool.host,
                "pid": pool.pid,
                "concurrency": pool.concurrency,
                "running": pool.running,
                "started_at": pool.started_at,
                "heartbeat_at": pool.heartbeat_at,
            },
        )

    def heartbeat_pool(self, pool_id: str, *, running: int, now: datetime) -> None:
        WorkerPoolRecord.objects.using(self.using).filter(id=pool_id).update(running=running, heartbeat_at=now)

    def unregister_pool(self, pool_id: str) -> None:
        WorkerPoolRecord.objects.using(self.using).filter(id=pool_id).delete()

    def live_pools(self, *, heartbeat_since: datetime) -> list[PoolInfo]:
        records = WorkerPoolRecord.objects.using(self.using).filter(heartbeat_at__gte=heartbeat_since)
        return [_pool_from_record(record) for record in records.order_by("started_at", "id")]

    # -- periodic schedules ---------------------------------------------------------------
    def _schedules(self):
        return ScheduleRecord.objects.using(self.using)

    def _schedule_values(self, schedule: Schedule) -> dict:
        return {field: getattr(schedule, field) for field in _SCHEDULE_FIELDS}

    def insert_schedule(self, schedule: Schedule) -> bool:
        try:
            with transaction.atomic(using=self.using):
                self._schedules().create(name=schedule.name, **self._schedule_values(schedule))
        except IntegrityError:
            return False
        return True

    def replace_schedule(self, schedule: Schedule) -> bool:
        return self._schedules().filter(name=schedule.name).update(**self._schedule_values(schedule)) == 1

    def get_schedule(self, name: str) -> Schedule | None:
        record = self._schedules().filter(name=name).first()
        return _schedule_from_record(record) if record else None

    def list_schedules(self) -> list[Schedule]:
        return [_schedule_from_record(record) for record in self._schedules().order_by("name")]

    def delete_schedule(self, name: str) -> bool:
        deleted, _ = self._schedules().filter(name=name).delete()
        return deleted > 0

    def advance_schedule(
        self, name: str, *, expected_next_run: datetime, next_run: datetime, last_run: datetime
    ) -> bool:
        moved = self._schedules().filter(name=name, next_run_at=expected_next_run)
        return moved.update(next_run_at=next_run, last_run_at=last_run) == 1
