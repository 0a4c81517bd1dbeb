"""The filters and updates more than one part of the store sends about jobs: which jobs
are due, which are live for a unique key, which are finished, the fence on a held job,
and the update that records a result."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from bson import ObjectId

from jobs.domain import UNIQUE_KEY_STATUSES, Job, Status
from jobs.results import JobResult
from jobs.stores.mongo.documents import attempt_document

UNIQUE_KEY_LIVE = [status.value for status in UNIQUE_KEY_STATUSES]
FINISHED = [Status.COMPLETED.value, Status.FAILED.value, Status.CANCELLED.value]


def due_filter(now: datetime, queue: str | None = None, exclude_queues: Collection[str] = ()) -> dict:
    """Pending jobs whose time has come, of ``queue`` or of any queue but the excluded: the claim filter."""
    due = {"status": Status.PENDING.value, "runAt": {"$lte": now}}
    if queue is not None:
        due["queue"] = queue
    elif exclude_queues:
        due["queue"] = {"$nin": sorted(exclude_queues)}
    return due


def held_filter(job: Job) -> dict:
    """The filter fencing every write about a held job: its id and its lease token."""
    return {"_id": ObjectId(job.id), "lease.token": job.lease.token, "status": Status.PROCESSING.value}


# A transition's field names (``jobs.results``) as document fields.
_FIELD_NAMES = {
    "status": "status",
    "run_at": "runAt",
    "last_error": "lastError",
    "has_error": "hasError",
    "finished_at": "finishedAt",
    "result": "result",
}


def record_update(result: JobResult, now: datetime, marker: str) -> dict:
    """The update recording ``result``: its transition, the lease ended, the history
    written whole from the holder's copy (nothing else changes it while the job is held)
    and ``resultId`` stamped so the writer can tell its update applied."""
    change = result.transition(now)
    history, attempt_count = result.job.recorded_attempts(result.attempt)
    fields = {_FIELD_NAMES[name]: value for name, value in change.changed_fields().items()}
    update = {
        "$set": {
            **fields,
            "status": change.status.value,
            "lease": None,
            "cancelRequested": False,
            "attempts": [attempt_document(item) for item in history],
            "attemptCount": attempt_count,
            "updatedAt": now,
            "resultId": marker,
        }
    }
    if change.retry_increment:
        update["$inc"] = {"retryCount": change.retry_increment}
    return update
