"""Named queues: pausing and resuming them (the ``paused_queues`` collection), and the
per-queue counts and oldest due job the queue list shows."""

from __future__ import annotations

from datetime import datetime

from jobs.domain import DEFAULT_QUEUE
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import utc
from jobs.stores.mongo.errors import serialized
from jobs.stores.mongo.queries import due_filter
from jobs.timeutil import truncate_ms


class NamedQueues(MongoConnection):
    """``pause_queue``, ``resume_queue``, ``paused_queues``, ``count_by_queue_and_status``
    and ``oldest_due_by_queue``."""

    @serialized
    def pause_queue(self, name: str, *, now: datetime) -> None:
        self._paused.update_one({"name": name}, {"$setOnInsert": {"pausedAt": truncate_ms(now)}}, upsert=True)

    @serialized
    def resume_queue(self, name: str) -> None:
        self._paused.delete_many({"name": name})

    @serialized
    def paused_queues(self) -> set[str]:
        return {document["name"] for document in self._paused.find({}, {"_id": 0, "name": 1})}

    @serialized
    def count_by_queue_and_status(self) -> dict[tuple[str, str], int]:
        groups = self._jobs.aggregate(
            [
                {
                    "$group": {
                        "_id": {"queue": {"$ifNull": ["$queue", DEFAULT_QUEUE]}, "status": "$status"},
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
        return {(group["_id"]["queue"], group["_id"]["status"]): group["n"] for group in groups}

    @serialized
    def oldest_due_by_queue(self, *, now: datetime) -> dict[str, datetime]:
        groups = self._jobs.aggregate(
            [
                {"$match": due_filter(truncate_ms(now))},
                {"$group": {"_id": {"$ifNull": ["$queue", DEFAULT_QUEUE]}, "oldest": {"$min": "$runAt"}}},
            ]
        )
        return {group["_id"]: utc(group["oldest"]) for group in groups}
