"""Periodic schedules (the ``schedules`` collection), one per name. Advancing one
matches the next run its caller read, so of two callers racing only one moves it."""

from __future__ import annotations

from datetime import datetime

import pymongo
from pymongo.errors import DuplicateKeyError

from jobs.domain import Schedule
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import schedule_document, schedule_of
from jobs.stores.mongo.errors import serialized
from jobs.timeutil import truncate_ms


class Schedules(MongoConnection):
    """``insert_schedule``, ``replace_schedule``, ``get_schedule``, ``list_schedules``,
    ``delete_schedule`` and ``advance_schedule``."""

    @serialized
    def insert_schedule(self, schedule: Schedule) -> bool:
        try:
            self._schedules.insert_one(schedule_document(schedule))
        except DuplicateKeyError:
            return False
        return True

    @serialized
    def replace_schedule(self, schedule: Schedule) -> bool:
        document = schedule_document(schedule)
        return self._schedules.update_one({"name": schedule.name}, {"$set": document}).matched_count == 1

    @serialized
    def get_schedule(self, name: str) -> Schedule | None:
        document = self._schedules.find_one({"name": name})
        return schedule_of(document) if document else None

    @serialized
    def list_schedules(self) -> list[Schedule]:
        return [schedule_of(document) for document in self._schedules.find({}).sort("name", pymongo.ASCENDING)]

    @serialized
    def delete_schedule(self, name: str) -> bool:
        return self._schedules.delete_one({"name": name}).deleted_count == 1

    @serialized
    def advance_schedule(
        self, name: str, *, expected_next_run: datetime, next_run: datetime, last_run: datetime
    ) -> bool:
        moved = self._schedules.update_one(
            {"name": name, "nextRunAt": truncate_ms(expected_next_run)},
            {"$set": {"nextRunAt": truncate_ms(next_run), "lastRunAt": truncate_ms(last_run)}},
        )
        return moved.modified_count == 1
