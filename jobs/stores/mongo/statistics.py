"""What the dashboard and metrics read: recently finished jobs, counts per type and
status, the oldest due job, the delayed count and the throughput of attempts."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.domain import Job, Outcome, Status, Throughput
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import job_of, utc
from jobs.stores.mongo.errors import serialized
from jobs.stores.mongo.queries import FINISHED, due_filter
from jobs.timeutil import truncate_ms

# Attempt outcomes that count as neither completed nor failed in the throughput.
NOT_COUNTED = [Outcome.RELEASED.value, Outcome.CANCELLED.value]
# Naive on purpose: BSON encodes naive datetimes as UTC, and in-memory fakes of MongoDB
# store them naive, so date arithmetic against it works on both.
EPOCH = datetime(1970, 1, 1)


class Statistics(MongoConnection):
    """``recently_finished``, ``count_by_type_and_status``, ``oldest_due_pending``,
    ``count_delayed`` and ``throughput``."""

    @serialized
    def recently_finished(self, *, limit: int) -> list[Job]:
        jobs: list[Job] = []
        for status in FINISHED[:2]:
            found = self._jobs.find({"status": status}, sort=[("finishedAt", -1)], limit=limit)
            jobs += [job_of(document) for document in found]
        jobs.sort(key=lambda job: job.finished_at, reverse=True)
        return jobs[:limit]

    @serialized
    def count_by_type_and_status(self) -> dict[tuple[str, str], int]:
        groups = self._jobs.aggregate(
            [{"$group": {"_id": {"type": "$type", "status": "$status"}, "count": {"$sum": 1}}}]
        )
        return {(group["_id"]["type"], group["_id"]["status"]): group["count"] for group in groups}

    @serialized
    def oldest_due_pending(self, *, now: datetime) -> datetime | None:
        document = self._jobs.find_one(due_filter(truncate_ms(now)), {"_id": 0, "runAt": 1}, sort=[("runAt", 1)])
        return utc(document["runAt"]) if document else None

    @serialized
    def count_delayed(self, *, now: datetime) -> int:
        return self._jobs.count_documents({"status": Status.PENDING.value, "runAt": {"$gt": truncate_ms(now)}})

    @serialized
    def throughput(self, *, since: datetime, bucket_seconds: int) -> list[Throughput]:
        """See ``JobStore.throughput``: one aggregation over the attempts, bucketed by the server.

        Only jobs that can hold an attempt finished since ``since`` are unwound, each set
        found by an index: an attempt finishes before its job's ``finishedAt`` (finished
        jobs) and before its ``runAt`` (a pending job is due at or after its last attempt
        ended). Epoch milliseconds are ``finishedAt - EPOCH`` rather than ``$toLong``:
        the server gives the same number, and mongomock (which has no ``$toLong`` for
        dates) can run it too.
        """
        since = truncate_ms(since)
        bucket_ms = int(bucket_seconds * 1000)
        epoch_ms = {"$subtract": ["$attempts.finishedAt", EPOCH]}
        is_completed = {"$eq": ["$attempts.outcome", Outcome.COMPLETED.value]}
        pipeline = [
            {
                "$match": {
                    "$or": [
                        {"status": {"$in": FINISHED}, "finishedAt": {"$gte": since}},
                        {"status": Status.PENDING.value, "runAt": {"$gte": since}, "attemptCount": {"$gt": 0}},
                        {"status": Status.PROCESSING.value, "attemptCount": {"$gt": 0}},
                    ]
                }
            },
            {"$project": {"_id": 0, "attempts": 1}},
            {"$unwind": "$attempts"},
            {"$match": {"attempts.finishedAt": {"$gte": since}, "attempts.outcome": {"$nin": NOT_COUNTED}}},
            {
                "$group": {
                    "_id": {"$subtract": [epoch_ms, {"$mod": [epoch_ms, bucket_ms]}]},
                    "completed": {"$sum": {"$cond": [is_completed, 1, 0]}},
                    "failed": {"$sum": {"$cond": [is_completed, 0, 1]}},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        return [
            Throughput(
                start=datetime.fromtimestamp(int(bucket["_id"]) / 1000, UTC),
                completed=bucket["completed"],
                failed=bucket["failed"],
            )
            for bucket in self._jobs.aggregate(pipeline)
        ]
