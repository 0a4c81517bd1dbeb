"""Every job datetime is aware UTC in whole milliseconds, whatever it was given as."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobs.timeutil import truncate_ms, utc_now


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)),
        (datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)),
        (datetime(2026, 1, 2, 3, 4, 5, 999), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # naive means UTC
        (
            datetime(2026, 1, 2, 5, 4, 5, 1_500, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 1, 2, 3, 4, 5, 1_000, tzinfo=UTC),
        ),
        (
            datetime(2026, 1, 2, 3, 4, 5, 2_000, tzinfo=timezone(timedelta(0))),
            datetime(2026, 1, 2, 3, 4, 5, 2_000, tzinfo=UTC),
        ),
    ],
)
def test_truncate_ms_gives_utc_in_whole_milliseconds(given, expected):
    result = truncate_ms(given)

    assert result == expected
    assert result.tzinfo is UTC
    assert result.microsecond % 1000 == 0


def test_utc_now_is_utc_in_whole_milliseconds():
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    now = utc_now()

    assert now.tzinfo is UTC and now.microsecond % 1000 == 0
    assert before <= now <= datetime.now(UTC)


def test_utc_now_follows_the_clock_millisecond_by_millisecond(monkeypatch):
    """Readings within one millisecond share one datetime; the next millisecond is a new,
    exact one (the reading is reused, never stale)."""
    clock_ns = [1_764_496_800_123_400_000]
    monkeypatch.setattr("jobs.timeutil.time.time_ns", lambda: clock_ns[0])
    first = utc_now()
    clock_ns[0] += 500_000  # half a millisecond later: the same millisecond
    same = utc_now()
    clock_ns[0] += 500_000  # the next millisecond
    later = utc_now()

    assert first == datetime(2025, 11, 30, 10, 0, 0, 123_000, tzinfo=UTC) and same is first
    assert later == datetime(2025, 11, 30, 10, 0, 0, 124_000, tzinfo=UTC)
