"""Periodic schedules: when a cron expression ticks, and what a valid schedule is.

A schedule's ticks are computed in its own time zone (``zoneinfo``), by croniter, so
``0 9 * * *`` in ``Europe/Paris`` fires at 09:00 Paris time across daylight-saving
changes. Everything handed back is UTC in whole milliseconds, like every job datetime.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from rest_framework import serializers

from jobs.timeutil import truncate_ms
from jobs.validation import (
    PRIORITY_LIMIT,
    JobInputSerializer,
    PayloadField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)

SCHEDULE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
QUEUE_NAME = re.compile(r"[a-z0-9_-]{1,64}")
MAX_CRON_LENGTH = 200


def next_tick(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick of ``cron`` in ``timezone`` strictly after ``after`` (UTC)."""
    start = after.astimezone(ZoneInfo(timezone))
    return truncate_ms(croniter(cron, start).get_next(datetime))


def latest_tick(cron: str, timezone: str, at: datetime) -> datetime:
    """The last tick of ``cron`` in ``timezone`` strictly before ``at`` (UTC)."""
    start = at.astimezone(ZoneInfo(timezone))
    return truncate_ms(croniter(cron, start).get_prev(datetime))


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean: no ``"true"``, ``1`` or ``"on"``."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ScheduleInputSerializer(StrictSerializer):
    """A schedule as ``POST /schedules`` and ``JOBQUEUE_SCHEDULES`` give it (camelCase
    where the API has it). ``validated_data`` holds the ``jobs.domain.Schedule`` fields
    but the run times. The payload passes the job type's own validation, exactly as a
    ``POST /jobs`` of that type and payload would."""

    server_fields = frozenset({"nextRunAt", "lastRunAt"})

    name = StrictCharField(max_length=100, trim_whitespace=False)
    type = StrictCharField(max_length=100, trim_whitespace=False)
    payload = PayloadField(required=False, default=dict)
    cron = StrictCharField(max_length=MAX_CRON_LENGTH, trim_whitespace=False)
    timezone = StrictCharField(required=False, default="UTC", max_length=64, trim_whitespace=False)
    queue = StrictCharField(required=False, default="default", max_length=64, trim_whitespace=False)
    priority = StrictIntegerField(required=False, default=0, min_value=-PRIORITY_LIMIT, max_value=PRIORITY_LIMIT)
    enabled = StrictBooleanField(required=False, default=True)

    def validate_name(self, value: str) -> str:
        if not SCHEDULE_NAME.fullmatch(value):
            raise serializers.ValidationError("Use 1 to 100 letters, digits and _ . : - only.")
        return value

    def validate_cron(self, value: str) -> str:
        if not croniter.is_valid(value):
            raise serializers.ValidationError(
                f"{value!r} is not a cron expression (five fields, e.g. '*/5 * * * *', or @hourly, @daily...)."
            )
        return value

    def validate_timezone(self, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            message = f"Unknown time zone {value!r} (an IANA name, e.g. Europe/Paris)."
            raise serializers.ValidationError(message) from None
        return value

    def validate_queue(self, value: str) -> str:
        if not QUEUE_NAME.fullmatch(value):
            raise serializers.ValidationError("Use 1 to 64 lower-case letters, digits, _ and - only.")
        return value

    def validate(self, attrs: dict) -> dict:
        """The type and payload as ``POST /jobs`` checks them, errors under the same names."""
        job = JobInputSerializer(
            data={"type": attrs["type"], "payload": attrs["payload"], "priority": attrs["priority"]},
            context={"now": None},
        )
        if not job.is_valid():
            raise serializers.ValidationError(job.errors)
        return attrs
