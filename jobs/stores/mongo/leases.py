"""Writes about jobs a worker holds, each fenced on the job's id and lease token:
renewing leases (with progress, hearing of cancel requests), recording results, and
reaping jobs whose lease expired."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo import UpdateMany, UpdateOne

from jobs.domain import Job, Status
from jobs.results import JobResult
from jobs.retry import RetryStrategy
from jobs.stores.base import Renewal
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import job_of
from jobs.stores.mongo.errors import serialized
from jobs.stores.mongo.queries import held_filter, record_update
from jobs.timeutil import truncate_ms


class HeldJobs(MongoConnection):
    """``renew``, ``record_results`` and ``reap``."""

    @serialized
    def renew(
        self,
        held: Sequence[Job],
        *,
        now: datetime,
        lease_seconds: float,
        progress: Mapping[str, dict] | None = None,
    ) -> Renewal:
        """See ``JobStore.renew``: one batch of updates (one per job with progress to
        write, one for the rest) and one read; nothing sent for no jobs."""
        progress = progress or {}
        held = [job for job in held if job.lease]
        if not held:
            return Renewal()
        expires_at = truncate_ms(truncate_ms(now) + timedelta(seconds=lease_seconds))
        plain = [held_filter(job) for job in held if job.id not in progress]
        operations = [
            UpdateOne(held_filter(job), {"$set": {"lease.expiresAt": expires_at, "progress": progress[job.id]}})
            for job in held
            if job.id in progress
        ]
        if plain:
            operations.append(UpdateMany({"$or": plain}, {"$set": {"lease.expiresAt": expires_at}}))
        self._jobs.bulk_write(operations, ordered=False)
        found = list(self._jobs.find({"$or": [held_filter(job) for job in held]}, {"_id": 1, "cancelRequested": 1}))
        return Renewal(
            kept={str(document["_id"]) for document in found},
            cancel_requested={str(document["_id"]) for document in found if document.get("cancelRequested")},
        )

    @serialized
    def record_results(
        self, results: Sequence[JobResult], *, now: datetime, expired_before: datetime | None = None
    ) -> list[bool]:
        """See ``JobStore.record_results``: one unordered ``bulk_write`` of updates, each
        fenced on ``_id`` and the lease token.

        The server reports only how many updates matched. When that is all of them (the
        usual case) every result applied; otherwise one read of the ``resultId`` each
        update stamps tells which ones did.
        """
        now = truncate_ms(now)
        fence = {} if expired_before is None else {"lease.expiresAt": {"$lt": truncate_ms(expired_before)}}
        markers = [secrets.token_hex(8) if result.job.lease else None for result in results]
        operations = [
            UpdateOne({**held_filter(result.job), **fence}, record_update(result, now, marker))
            for result, marker in zip(results, markers, strict=True)
            if marker is not None
        ]
        if not operations:
            return [False] * len(results)
        if self._jobs.bulk_write(operations, ordered=False).matched_count == len(results):
            return [True] * len(results)
        ids = [ObjectId(result.job.id) for result in results]
        stamped = {document.get("resultId") for document in self._jobs.find({"_id": {"$in": ids}}, {"resultId": 1})}
        return [marker is not None and marker in stamped for marker in markers]

    @serialized
    def reap(self, *, now: datetime, retry_strategy: RetryStrategy, max_clock_skew: float = 0.0) -> int:
        """See ``JobStore.reap``: one read, then one batch of fenced updates."""
        return super().reap(now=now, retry_strategy=retry_strategy, max_clock_skew=max_clock_skew)

    def _expired_leases(self, *, now: datetime) -> list[Job]:
        expired = self._jobs.find({"status": Status.PROCESSING.value, "lease.expiresAt": {"$lt": now}})
        return [job_of(document) for document in expired]
