"""Operator actions on one job or one type: cancel, request a cancel, retry a cancelled
or failed job (or every failed job of a type), each matched on the state it leaves."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from jobs.domain import Job, Status
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import job_of, object_id
from jobs.stores.mongo.errors import serialized
from jobs.timeutil import truncate_ms


class OperatorActions(MongoConnection):
    """``cancel``, ``request_cancel``, ``retry_cancelled``, ``retry_now`` and ``retry_failed``."""

    @serialized
    def cancel(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        update = {"$set": {"status": Status.CANCELLED.value, "finishedAt": now, "updatedAt": now}}
        return self._update_job(job_id, {"status": Status.PENDING.value}, update)

    @serialized
    def request_cancel(self, job_id: str, *, now: datetime) -> Job | None:
        update = {"$set": {"cancelRequested": True, "updatedAt": truncate_ms(now)}}
        return self._update_job(job_id, {"status": Status.PROCESSING.value}, update)

    @serialized
    def retry_cancelled(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        update = {
            "$set": {
                "status": Status.PENDING.value,
                "runAt": now,
                "finishedAt": None,
                "cancelRequested": False,
                "updatedAt": now,
            }
        }
        return self._update_job(job_id, {"status": Status.CANCELLED.value}, update)

    @serialized
    def retry_now(self, job_id: str, *, now: datetime) -> Job | None:
        """See ``JobStore.retry_now``. A pending job's runAt only moves earlier ($min), so
        a job already due keeps its place in the queue."""
        now = truncate_ms(now)
        try:
            retried = self._update_job(job_id, {"status": Status.FAILED.value}, self._rerun_update(now))
        except DuplicateKeyError:  # a live job of its type holds its unique key: it stays failed
            return None
        if retried is not None:
            return retried
        hurried = {"$min": {"runAt": now}, "$set": {"updatedAt": now}}
        return self._update_job(job_id, {"status": Status.PENDING.value}, hurried)

    @staticmethod
    def _rerun_update(now: datetime) -> dict:
        """Failed → pending, due now, with one more attempt allowed; history kept."""
        return {
            "$set": {"status": Status.PENDING.value, "runAt": now, "finishedAt": None, "updatedAt": now},
            "$inc": {"retryCount": 1, "maxRetries": 1},
        }

    def _update_job(self, job_id: str, state: dict, update: dict) -> Job | None:
        """Apply ``update`` to the job if it matches ``state``; the job after, or ``None``."""
        found = object_id(job_id)
        if found is None:
            return None
        document = self._jobs.find_one_and_update({"_id": found, **state}, update, return_document=ReturnDocument.AFTER)
        return job_of(document) if document else None

    @serialized
    def retry_failed(self, *, type: str, now: datetime) -> int:
        result = self._jobs.update_many(
            {"type": type, "status": Status.FAILED.value}, self._rerun_update(truncate_ms(now))
        )
        return result.modified_count
