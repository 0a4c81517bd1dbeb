"""Storing new jobs (one, unique, many) and reading them back (one, a page of a list).

An insert that fails after landing raises ``StoreUnavailable`` (the API's ``503``),
never a success that may not be durable. A caller retrying with the same
Idempotency-Key (or ``uniqueKey``) gets the job already stored, replayed, never a
second one: the unique index refuses the twin. A job with neither key, and a bulk
enqueue, may be stored twice by such a retry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import pymongo
from pymongo.errors import DuplicateKeyError

from jobs.domain import ALL_JOBS, Job, JobFilter, NewJob
from jobs.stores.base import ListCursor, StoreUnavailable
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import job_of, new_document, object_id
from jobs.stores.mongo.errors import serialized
from jobs.stores.mongo.queries import UNIQUE_KEY_LIVE
from jobs.timeutil import truncate_ms

# List order: newest first; the id breaks ties so cursor pagination is exact.
LIST_ORDER = [("createdAt", pymongo.DESCENDING), ("_id", pymongo.DESCENDING)]
# How often an insert refused for its unique key looks for the holder before giving up.
UNIQUE_INSERT_TRIES = 5


class EnqueueAndRead(MongoConnection):
    """``insert``, ``insert_unique``, ``insert_many``, ``get`` and ``list_jobs``."""

    @serialized
    def insert(self, new_job: NewJob, *, now: datetime) -> Job:
        if new_job.unique_key is not None:
            return self.insert_unique(new_job, now=now)[0]
        document = new_document(new_job, truncate_ms(now))
        try:
            self._jobs.insert_one(document)
        except DuplicateKeyError:
            if new_job.idempotency_key is None:
                raise
            existing = self._jobs.find_one({"idempotencyKey": new_job.idempotency_key})
            if existing is None:
                raise
            return dataclasses.replace(job_of(existing), replayed=True)
        return job_of(document)

    @serialized
    def insert_unique(self, new_job: NewJob, *, now: datetime) -> tuple[Job, bool]:
        live = {"type": new_job.type, "uniqueKey": new_job.unique_key, "status": {"$in": UNIQUE_KEY_LIVE}}
        for _ in range(UNIQUE_INSERT_TRIES):
            document = new_document(new_job, truncate_ms(now))
            try:
                self._jobs.insert_one(document)
                return job_of(document), True
            except DuplicateKeyError:
                holder = self._jobs.find_one(live)
                if holder is not None:
                    return job_of(holder), False
                # The holder of the key finished between the refusal and the read: try again.
        raise StoreUnavailable(f"unique key {new_job.unique_key!r} kept changing hands; try again")

    @serialized
    def insert_many(self, new_jobs: Sequence[NewJob], *, now: datetime) -> list[Job]:
        """Store many new pending jobs with one ``insert_many``; them, as stored, in order."""
        if not new_jobs:
            return []
        now = truncate_ms(now)
        documents = [new_document(new_job, now) for new_job in new_jobs]
        self._jobs.insert_many(documents, ordered=True)
        return [job_of(document) for document in documents]

    @serialized
    def get(self, job_id: str) -> Job | None:
        found = object_id(job_id)
        if found is None:
            return None
        document = self._jobs.find_one({"_id": found})
        return job_of(document) if document else None

    @serialized
    def list_jobs(
        self,
        criteria: JobFilter = ALL_JOBS,
        *,
        limit: int = 50,
        after: ListCursor | None = None,
        before: ListCursor | None = None,
    ) -> list[Job]:
        """See ``JobStore.list_jobs``. Raises ``ValueError`` for a cursor id that is not 24-hex."""
        if limit < 1:  # pymongo reads limit 0 as "no limit"
            return []
        query: dict = {
            field: value
            for field, value in (
                ("status", None if criteria.status is None else str(criteria.status)),
                ("type", criteria.type),
                ("hasError", criteria.has_error),
                ("queue", criteria.queue),
            )
            if value is not None
        }
        order = LIST_ORDER
        if after is not None:
            query["$or"] = self._beyond(after, "$lt")
        if before is not None:
            # The jobs just before the cursor in list order: read upwards from it, then flip.
            query["$or"] = self._beyond(before, "$gt")
            order = [(field, -direction) for field, direction in LIST_ORDER]
        jobs = [job_of(document) for document in self._jobs.find(query, sort=order, limit=limit)]
        return jobs[::-1] if before is not None else jobs

    @staticmethod
    def _beyond(cursor: ListCursor, comparison: str) -> list[dict]:
        """Strictly past (createdAt, id), "$lt" towards older jobs, "$gt" towards newer."""
        created_at, job_id = cursor
        cursor_id = object_id(job_id)
        if cursor_id is None:
            raise ValueError(f"list cursor id {job_id!r} is not a job id")
        created_at = truncate_ms(created_at)
        return [{"createdAt": {comparison: created_at}}, {"createdAt": created_at, "_id": {comparison: cursor_id}}]
