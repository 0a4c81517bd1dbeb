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
    """A column value as an aware UTC datetime (SQLite hands back text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
        if value.tzinfo is None and not value.microsecond % 1000:
            return value.replace(tzinfo=UTC)  # SQLite's naive UTC text, already whole milliseconds
    return truncate_ms(value if value.tzinfo else value.replace(tzinfo=UTC))


def parse_json(value):
    """A JSON column's value (text on SQLite, already decoded on PostgreSQL)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def attempt_to_json(attempt: Attempt) -> dict:
    """An attempt as stored in the ``attempts`` JSON array."""
    return {
        "startedAt": attempt.started_at.isoformat(),
        "finishedAt": attempt.finished_at.isoformat(),
        "worker": attempt.worker,
        "outcome": attempt.outcome,
        "error": attempt.error,
    }


def job_from_row(row: Sequence) -> Job:
    """The job a row of ``statements.COLUMNS`` (in that order) holds."""
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
            expires_at=parse_datetime(lease_expires_at),
            started_at=parse_datetime(lease_started_at),
        )
    return Job(
        id=job_id,
        type=job_type,
        payload=parse_json(payload),
        status=Status(status),
        retry_count=retry_count,
        max_retries=max_retries,
        priority=priority,
        run_at=parse_datetime(run_at),
        created_at=parse_datetime(created_at),
        updated_at=parse_datetime(updated_at),
        finished_at=parse_datetime(finished_at),
        last_error=last_error,
        lease=lease,
        attempts=tuple(Attempt.from_dict(item, parse_datetime) for item in parse_json(attempts) or ()),
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


# One encoder for every call: json.dumps builds a new one per call when given options.
encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def decode_payload(text: str) -> dict:
    """A fresh copy of the payload stored as ``text`` (most payloads are empty)."""
    return {} if text == "{}" else json.loads(text)


#: ``Job(**values)`` for the job an insert returns, built quicker (``jobs.frozen_build``).
pending_job = FrozenBuilder(Job)
