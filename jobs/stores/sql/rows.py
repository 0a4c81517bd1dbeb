"""Rows of the jobs table ↔ ``Job``: reading a row (SQLite hands back datetimes and JSON
as text), and the JSON and job objects the enqueue and record paths write and return.

Adapting a datetime for the driver needs the connection, so it lives with it
(``connection.SqlConnection._dt``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from jobs.domain import Attempt, Job, Lease, Status
from jobs.frozen_build import FrozenBuilder
from jobs.timeutil import truncate_ms


def parse_datetime(value) -> datetime | None:
    """A column value as an aware UTC datetime (SQLite hands back text, or a naive UTC
    datetime where Django's converter already parsed it)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None and not value.microsecond % 1000:
        return value.replace(tzinfo=UTC)  # SQLite's naive UTC, already whole milliseconds
    return truncate_ms(value if value.tzinfo else value.replace(tzinfo=UTC))


def parse_json(value):
    """A JSON column's value (text on SQLite, already decoded on PostgreSQL)."""
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str | bytes) else value


def _parse_attempts(value) -> tuple[Attempt, ...]:
    """The ``attempts`` column: a JSON array (``[]`` for every job not yet run)."""
    if value is None or value == "[]":
        return ()
    return tuple(Attempt.from_dict(item, parse_datetime) for item in parse_json(value))


def attempt_to_json(attempt: Attempt) -> dict:
    """An attempt as stored in the ``attempts`` JSON array."""
    return {
        "startedAt": attempt.started_at.isoformat(),
        "finishedAt": attempt.finished_at.isoformat(),
        "worker": attempt.worker,
        "outcome": attempt.outcome,
        "error": attempt.error,
    }


def job_from_row(row: Sequence, lease: Lease | None = None) -> Job:
    """The job a row of ``statements.COLUMNS`` (in that order) holds.

    ``lease``: the lease the statement that returned the row gave the job (a claim gives
    one lease to every job it takes), used instead of parsing the row's lease columns.
    """
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
    if lease is None and lease_token is not None:
        lease = Lease(
            owner=lease_owner,
            token=lease_token,
            expires_at=parse_datetime(lease_expires_at),
            started_at=parse_datetime(lease_started_at),
        )
    return build_job(
        id=job_id,
        type=job_type,
        payload=decode_payload(payload) if isinstance(payload, str) else parse_json(payload),
        status=_STATUS_BY_VALUE[status],
        retry_count=retry_count,
        max_retries=max_retries,
        priority=priority,
        run_at=parse_datetime(run_at),
        created_at=parse_datetime(created_at),
        updated_at=parse_datetime(updated_at),
        finished_at=parse_datetime(finished_at),
        last_error=last_error,
        lease=lease,
        attempts=_parse_attempts(attempts),
        attempt_count=attempt_count,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        result=parse_json(result),
        progress=parse_json(progress),
        cancel_requested=bool(cancel_requested),
        queue=queue,
        unique_key=unique_key,
        schedule=schedule,
    )


_STATUS_BY_VALUE = {status.value: status for status in Status}

# One encoder for every call: json.dumps builds a new one per call when given options.
encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def decode_payload(text: str) -> dict:
    """A fresh copy of the payload stored as ``text`` (most payloads are empty)."""
    return {} if text == "{}" else json.loads(text)


#: ``Job(**values)``, built quicker (``jobs.frozen_build``): for each job a row or an insert gives.
build_job = FrozenBuilder(Job)
