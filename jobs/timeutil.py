"""Time helpers shared by the stores, services and API.

All job datetimes are timezone-aware UTC truncated to whole milliseconds, because
MongoDB stores milliseconds: truncating everywhere makes a job read back equal, field
for field, to the job returned when it was created, whichever store holds it.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def truncate_ms(moment: datetime) -> datetime:
    """``moment`` in UTC with microseconds cut to whole milliseconds."""
    if moment.tzinfo is UTC and not moment.microsecond % 1000:
        return moment  # already so (most calls): datetimes are immutable
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


#: The last reading of ``utc_now``: (whole milliseconds since the epoch, that moment).
_last_reading: tuple[int, datetime] = (-1, datetime.min)


def utc_now() -> datetime:
    """The current time, UTC, in whole milliseconds. The default clock.

    Calls within one millisecond get the same (immutable) datetime: enqueues in a burst
    then share its construction, and the store its text (``SqlConnection._dt``)."""
    global _last_reading
    milliseconds = time.time_ns() // 1_000_000
    last = _last_reading  # one read: another thread may replace the pair meanwhile
    if last[0] == milliseconds:
        return last[1]
    # Whole milliseconds as float seconds are off by far less than the half microsecond
    # fromtimestamp rounds to, so the result is exact; and twice as quick as now().replace().
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    _last_reading = (milliseconds, moment)
    return moment


def isoformat_z(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC ending in ``Z`` with milliseconds, e.g. ``2026-02-02T05:30:00.123Z``.

    The year always has four digits (``0001-01-01T00:00:00.000Z``), which ``strftime``
    does not promise.
    """
    if moment is None:
        return None
    utc = truncate_ms(moment)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}Z"
    )
