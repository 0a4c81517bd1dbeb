"""Finished jobs past retention: deleting and purging them in bounded batches, and
filling the store with finished jobs for the benchmarks."""

from __future__ import annotations

from datetime import datetime

from jobs.domain import NewJob, Status
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import new_document
from jobs.stores.mongo.errors import serialized
from jobs.stores.mongo.queries import FINISHED
from jobs.timeutil import truncate_ms


class Retention(MongoConnection):
    """``delete_finished``, ``purge_finished`` and ``fill_finished``."""

    @serialized
    def delete_finished(self, *, finished_before: datetime) -> int:
        result = self._jobs.delete_many(
            {"status": {"$in": FINISHED}, "finishedAt": {"$lt": truncate_ms(finished_before)}}
        )
        return result.deleted_count

    @serialized
    def purge_finished(self, *, status: str, finished_before: datetime, limit: int) -> int:
        """See ``JobStore.purge_finished``: ids read from the ``finished`` index, then one
        ``delete_many`` re-checking the condition, so concurrent purges are harmless."""
        match = {"status": status, "finishedAt": {"$lt": truncate_ms(finished_before)}}
        ids = [doc["_id"] for doc in self._jobs.find(match, {"_id": 1}, sort=[("finishedAt", 1)], limit=limit)]
        if not ids:
            return 0
        return self._jobs.delete_many({"_id": {"$in": ids}, **match}).deleted_count

    @serialized
    def fill_finished(self, count: int, *, finished_at: datetime, type: str) -> None:
        """See ``JobStore.fill_finished``: unordered ``insert_many`` of 10,000 documents a time."""
        at = truncate_ms(finished_at)
        for start in range(0, count, 10_000):
            documents = []
            for _ in range(min(10_000, count - start)):
                document = new_document(NewJob(type=type, payload={}, max_retries=0), at)
                document.update(status=Status.COMPLETED.value, attemptCount=1, finishedAt=at)
                documents.append(document)
            self._jobs.insert_many(documents, ordered=False)
