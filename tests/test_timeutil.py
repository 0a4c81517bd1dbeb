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
