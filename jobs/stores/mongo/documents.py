"""The BSON documents of jobs, worker pools and schedules, and the domain objects they
read back as (``Job``, ``PoolInfo``, ``Schedule``).

Fields are the camelCase ones of the job document in docs/ARCHITECTURE.md. Every
datetime is written as UTC in whole milliseconds and read back as aware UTC, so a job
read back equals, field for field, the job returned when it was written.
"""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from jobs.domain import DEFAULT_QUEUE, Attempt, Job, Lease, NewJob, PoolInfo, Schedule, Status
from jobs.timeutil import truncate_ms

_SCHEDULE_FIELDS = ("type", "payload", "cron", "timezone", "queue", "priority", "enabled")


def utc(value: datetime | None) -> datetime | None:
    """A datetime read from MongoDB (naive UTC unless the client is tz_aware) as aware UTC."""
    return None if value is None else truncate_ms(value)


def object_id(job_id: str) -> ObjectId | None:
    """The ``_id`` of the job ``job_id``, or ``None`` when it cannot be a job id."""
    return ObjectId(job_id) if isinstance(job_id, str) and ObjectId.is_valid(job_id) else None


def attempt_document(attempt: Attempt) -> dict:
    document = attempt.to_dict()
    document["startedAt"] = truncate_ms(attempt.started_at)
    document["finishedAt"] = truncate_ms(attempt.finished_at)
    document["outcome"] = str(attempt.outcome)
    return document


def _lease(document: dict | None) -> Lease | None:
    if not document:
        return None
    return Lease(
        owner=document["owner"],
        token=document["token"],
        expires_at=utc(document["expiresAt"]),
        started_at=utc(document["startedAt"]),
    )


def job_of(document: dict) -> Job:
    """The domain job of a document.

    Documents written by the original service lack the extended fields; they read with
    the defaults a new job would have.
    """
    created_at = utc(document["createdAt"])
    return Job(
        id=str(document["_id"]),
        type=document["type"],
        payload=document.get("payload") or {},
        status=Status(document["status"]),
        retry_count=document.get("retryCount", 0),
        max_retries=document.get("maxRetries", 0),
        priority=document.get("priority", 0),
        run_at=utc(document.get("runAt")) or created_at,
        created_at=created_at,
        updated_at=utc(document.get("updatedAt")) or created_at,
        finished_at=utc(document.get("finishedAt")),
        last_error=document.get("lastError"),
        lease=_lease(document.get("lease")),
        attempts=tuple(Attempt.from_dict(item, parse=utc) for item in document.get("attempts") or ()),
        attempt_count=document.get("attemptCount", 0),
        idempotency_key=document.get("idempotencyKey"),
        request_hash=document.get("requestHash"),
        result=document.get("result"),
        progress=document.get("progress"),
        cancel_requested=bool(document.get("cancelRequested", False)),
        queue=document.get("queue", DEFAULT_QUEUE),
        unique_key=document.get("uniqueKey"),
        schedule=document.get("schedule"),
    )


def new_document(new_job: NewJob, now: datetime) -> dict:
    """The document of a new pending job, with a fresh ``_id``."""
    return {
        "_id": ObjectId(),
        "type": new_job.type,
        "payload": new_job.payload,
        "status": Status.PENDING.value,
        "retryCount": 0,
        "maxRetries": new_job.max_retries,
        "priority": new_job.priority,
        "runAt": truncate_ms(new_job.run_at) if new_job.run_at is not None else now,
        "lease": None,
        "attempts": [],
        "attemptCount": 0,
        "lastError": None,
        "hasError": False,
        "createdAt": now,
        "updatedAt": now,
        "finishedAt": None,
        # Absent, not null, without a key: the unique index is sparse.
        **({"idempotencyKey": new_job.idempotency_key} if new_job.idempotency_key is not None else {}),
        **({"requestHash": new_job.request_hash} if new_job.request_hash is not None else {}),
        "queue": new_job.queue,
        **({"uniqueKey": new_job.unique_key} if new_job.unique_key is not None else {}),
        **({"schedule": new_job.schedule} if new_job.schedule is not None else {}),
    }


def pool_document(pool: PoolInfo) -> dict:
    """A pool's registry entry. The server gives it an ObjectId ``_id``: servers that
    speak MongoDB's protocol without being MongoDB (CongoDB) refuse any other ``_id``."""
    return {
        "poolId": pool.id,
        "host": pool.host,
        "pid": pool.pid,
        "concurrency": pool.concurrency,
        "running": pool.running,
        "startedAt": truncate_ms(pool.started_at),
        "heartbeatAt": truncate_ms(pool.heartbeat_at),
    }


def pool_of(document: dict) -> PoolInfo:
    return PoolInfo(
        id=document["poolId"],
        host=document["host"],
        pid=document["pid"],
        concurrency=document["concurrency"],
        running=document["running"],
        started_at=utc(document["startedAt"]),
        heartbeat_at=utc(document["heartbeatAt"]),
    )


def schedule_document(schedule: Schedule) -> dict:
    """A schedule's document; like pools, it keeps the server's ObjectId ``_id``."""
    return {
        "name": schedule.name,
        **{field: getattr(schedule, field) for field in _SCHEDULE_FIELDS},
        "nextRunAt": truncate_ms(schedule.next_run_at) if schedule.next_run_at else None,
        "lastRunAt": truncate_ms(schedule.last_run_at) if schedule.last_run_at else None,
    }


def schedule_of(document: dict) -> Schedule:
    return Schedule(
        name=document["name"],
        **{field: document[field] for field in _SCHEDULE_FIELDS},
        next_run_at=utc(document.get("nextRunAt")),
        last_run_at=utc(document.get("lastRunAt")),
    )
