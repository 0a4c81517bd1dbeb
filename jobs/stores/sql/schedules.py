"""Periodic schedules as rows of ``ScheduleRecord``: create, replace, read, list, delete,
and advance (moved only from the next run the caller read, so two tickers never both
enqueue one tick).
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from jobs.domain import Schedule
from jobs.models import ScheduleRecord
from jobs.stores.sql.connection import SqlConnection
from jobs.timeutil import truncate_ms

_SCHEDULE_FIELDS = ("type", "payload", "cron", "timezone", "queue", "priority", "enabled", "next_run_at", "last_run_at")


def _schedule_from_record(record: ScheduleRecord) -> Schedule:
    return Schedule(
        name=record.name,
        **{field: getattr(record, field) for field in _SCHEDULE_FIELDS if not field.endswith("_at")},
        next_run_at=truncate_ms(record.next_run_at) if record.next_run_at else None,
        last_run_at=truncate_ms(record.last_run_at) if record.last_run_at else None,
    )


class Schedules(SqlConnection):
    """``insert_schedule``, ``replace_schedule``, ``get_schedule``, ``list_schedules``,
    ``delete_schedule`` and ``advance_schedule``."""

    def _schedules(self):
        return ScheduleRecord.objects.using(self.using)

    def _schedule_values(self, schedule: Schedule) -> dict:
        return {field: getattr(schedule, field) for field in _SCHEDULE_FIELDS}

    def insert_schedule(self, schedule: Schedule) -> bool:
        try:
            with transaction.atomic(using=self.using):
                self._schedules().create(name=schedule.name, **self._schedule_values(schedule))
        except IntegrityError:
            return False
        return True

    def replace_schedule(self, schedule: Schedule) -> bool:
        return self._schedules().filter(name=schedule.name).update(**self._schedule_values(schedule)) == 1

    def get_schedule(self, name: str) -> Schedule | None:
        record = self._schedules().filter(name=name).first()
        return _schedule_from_record(record) if record else None

    def list_schedules(self) -> list[Schedule]:
        return [_schedule_from_record(record) for record in self._schedules().order_by("name")]

    def delete_schedule(self, name: str) -> bool:
        deleted, _ = self._schedules().filter(name=name).delete()
        return deleted > 0

    def advance_schedule(
        self, name: str, *, expected_next_run: datetime, next_run: datetime, last_run: datetime
    ) -> bool:
        moved = self._schedules().filter(name=name, next_run_at=expected_next_run)
        return moved.update(next_run_at=next_run, last_run_at=last_run) == 1
