"""The SQL texts of the store's raw statements and the column list they read.

The hot paths (insert, claim, record) each run one of these statements, written by
hand rather than through the ORM: the ORM adds more Python per call than SQLite spends
on the statement, and an atomic batch claim needs ``UPDATE … RETURNING``, which the ORM
cannot express. Texts that depend on the database or on the batch's shape are built
once per shape and cached; ``record_batches`` cuts a batch of results into those
statements. Nothing here runs a statement.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from jobs.models import JobInbox, JobRecord

TABLE = JobRecord._meta.db_table
# Every column, in the order ``rows.job_from_row`` reads them.
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
SELECT_COLUMNS = ", ".join(COLUMNS)
# PostgreSQL hands timestamptz values through Django's loader, written in Python (a tenth
# of a claim's Python for its 8 rows of 6 datetimes); read as naive UTC timestamps they
# go through psycopg's C loader, and ``rows.parse_datetime`` makes them aware again.
_DATETIME_COLUMNS = frozenset(
    column for column in COLUMNS if JobRecord._meta.get_field(column).get_internal_type() == "DateTimeField"
)
_PG_RETURNED_COLUMNS = ", ".join(
    f"{TABLE}.{column} AT TIME ZONE 'UTC' AS {column}" if column in _DATETIME_COLUMNS else f"{TABLE}.{column}"
    for column in COLUMNS
)
# SQLite hands a column declared as a datetime through Django's converter (a Python call
# parsing it, 2-3 µs) even where the value goes unused, as a claim's lease columns do; an
# expression (a unary +) has no declared type, so the claim returns the text itself,
# which ``rows.parse_datetime`` reads with ``datetime.fromisoformat``.
_SQLITE_CLAIM_RETURNED = ", ".join(f"+{column}" if column in _DATETIME_COLUMNS else column for column in COLUMNS)
# A new job's columns: the inbox's (``INBOX_COLUMNS``, in its order), then those only the
# jobs table has a value for, then the constants of every new job.
INSERT = (
    f"INSERT INTO {TABLE} (id, type, payload, max_retries, priority, run_at, created_at, queue, schedule, "
    "updated_at, idempotency_key, request_hash, unique_key, status, retry_count, attempts, attempt_count, "
    "has_error, cancel_requested) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', 0, '[]', 0, FALSE, FALSE)"
)

# The inbox (``inbox.py``): a plain new job's own columns into ``jobs_inbox``; its rows
# read as job rows (every column ``jobs_inbox`` lacks is the same for every new job); the
# move of its rows, in the order they came, into the jobs table; a job read from either.
INBOX = JobInbox._meta.db_table
INBOX_COLUMNS = tuple(field.column for field in JobInbox._meta.concrete_fields)
INSERT_INTO_INBOX = (
    f"INSERT INTO {INBOX} ({', '.join(INBOX_COLUMNS)}) VALUES ({', '.join(['%s'] * len(INBOX_COLUMNS))})"
)
# A job row's column that jobs_inbox lacks, as an expression for a job just enqueued. A
# column added to the jobs table must be added here or to the inbox: a KeyError says so.
_AS_ENQUEUED = {
    "status": "'pending'",
    "retry_count": "0",
    "lease_owner": "NULL",
    "lease_token": "NULL",
    "lease_expires_at": "NULL",
    "lease_started_at": "NULL",
    "attempts": "'[]'",
    "attempt_count": "0",
    "last_error": "NULL",
    "has_error": "FALSE",
    "updated_at": "created_at",
    "finished_at": "NULL",
    "idempotency_key": "NULL",
    "request_hash": "NULL",
    "result": "NULL",
    "progress": "NULL",
    "cancel_requested": "FALSE",
    "unique_key": "NULL",
}


def _inbox_as_job(columns: Sequence[str]) -> str:
    return ", ".join(column if column in INBOX_COLUMNS else f"{_AS_ENQUEUED[column]} AS {column}" for column in columns)


_ALL_COLUMNS = tuple(field.column for field in JobRecord._meta.concrete_fields)
INBOX_AS_JOBS = f"SELECT {_inbox_as_job(_ALL_COLUMNS)} FROM {INBOX}"
INBOX_HAS_JOBS = f"SELECT 1 FROM {INBOX} LIMIT 1"
MOVE_INBOX = f"INSERT INTO {TABLE} ({', '.join(_ALL_COLUMNS)}) {INBOX_AS_JOBS} ORDER BY id"
EMPTY_INBOX = f"DELETE FROM {INBOX}"
GET_BY_ID = f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE id = %s"
GET_BY_ID_WITH_INBOX = f"{GET_BY_ID} UNION ALL SELECT {_inbox_as_job(COLUMNS)} FROM {INBOX} WHERE id = %s"
LIVE_WITH_KEY = (
    f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE type = %s AND unique_key = %s AND status IN ('pending', 'processing')"
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
def record_sql(vendor: str, columns: tuple[str, ...], counts_retry: bool, only_expired: bool, rows: int) -> str:
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


def record_batches(rows: Sequence[tuple[int, tuple, bool, list]]) -> list[tuple[tuple, list[tuple[int, list]]]]:
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
_CLAIM_ORDER = "ORDER BY priority DESC, run_at, id LIMIT"


@functools.cache
def claim_sql(vendor: str, one_queue: bool, excluded: int, *, limit: int | None = None) -> str:
    """The claim statement: from one queue (served by ``job_queue_claim_idx``) or from
    every queue but ``excluded`` paused ones (``job_claim_idx``; the few paused names
    are filtered while walking it). Parameters on SQLite: the lease, then ``now``, the
    queue or the excluded names, and the limit; on PostgreSQL the limit is in the text
    (``limit``, an int) and the lease comes last."""
    where = "WHERE status = 'pending' AND run_at <= %s"
    if one_queue:
        where += " AND queue = %s"
    elif excluded:
        where += f" AND queue NOT IN ({', '.join(['%s'] * excluded)})"
    if vendor == "postgresql":
        pick = f"{where} {_CLAIM_ORDER} {int(limit)}"
        # PostgreSQL skips rows another claimer has locked. The pick is a MATERIALIZED CTE so
        # it runs exactly once: as an IN subquery, the planner may run it once per row of a
        # nested-loop semi join on a small or unanalysed table, each run locking the next
        # unlocked rows, and the claim then took every due job instead of its limit.
        # The update joins the pick on id alone: the pick locked its rows while they were
        # pending and holds them till commit, so no status test is needed, and with one
        # (``status = 'pending'``) stale statistics that called the pending jobs few made
        # the planner walk every pending row (the index of due jobs) once per claim.
        return (
            f"WITH pick AS MATERIALIZED (SELECT id FROM {TABLE} {pick} FOR UPDATE SKIP LOCKED) "
            f"UPDATE {TABLE} {_CLAIM_SET} FROM pick WHERE {TABLE}.id = pick.id "
            f"RETURNING {_PG_RETURNED_COLUMNS}"
        )
    pick = f"{where} {_CLAIM_ORDER} %s"
    # SQLite runs the whole statement under its write lock, so no job is handed out twice.
    # The unary + keeps the status check but stops SQLite choosing the status index for the
    # outer UPDATE, which would scan every pending row instead of looking each one up by id.
    return (
        f"UPDATE {TABLE} {_CLAIM_SET} WHERE +status = 'pending' "
        f"AND id IN (SELECT id FROM {TABLE} {pick}) RETURNING {_SQLITE_CLAIM_RETURNED}"
    )
