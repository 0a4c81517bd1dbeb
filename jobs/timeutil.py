"""Time helpers shared by the stores, services and API.

All job datetimes are timezone-aware UTC truncated to whole milliseconds, because
MongoDB stores milliseconds: truncating everywhere makes a job read back equal, field
for field, to the job returned when it was created, whichever store holds it.
"""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def truncate_ms(moment: datetime) -> datetime:
    """``moment`` in UTC with microseconds cut to whole milliseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    """The current time, UTC, in whole milliseconds. The default clock."""
    return truncate_ms(datetime.now(UTC))


def isoformat_z(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC ending in ``Z`` with milliseconds, e.g. ``2026-02-02T05:30:00.123Z``."""
    if moment is None:
        return None
    return truncate_ms(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
