"""The template filters' formatting and the list cursor codec (pure functions)."""

from datetime import UTC, datetime

import pytest

from jobs.services import decode_list_cursor as decode_cursor
from jobs.services import encode_list_cursor as encode_cursor
from jobs.templatetags.jobs_admin import first_line, format_duration, format_list_time
from tests.admin.support import TRACEBACK


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "—"),
        (0.25, "250 ms"),
        (1.5, "1.5 s"),
        (42, "42 s"),
        (185, "3 min 5 s"),
        (120, "2 min"),
        (2 * 3600 + 600, "2 h 10 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
    ],
)
def test_format_duration(seconds, expected):
    assert format_duration(seconds) == expected


def test_list_times_are_short_today_and_dated_before():
    now = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)

    assert format_list_time(datetime(2026, 3, 9, 4, 59, 37, tzinfo=UTC), now=now) == "04:59:37"
    assert format_list_time(datetime(2026, 3, 8, 23, 10, 5, tzinfo=UTC), now=now) == "Mar 8, 23:10"


def test_first_line_takes_the_exception_line_of_a_traceback_and_cuts_long_lines():
    assert first_line(TRACEBACK).startswith("ConnectionRefusedError")
    assert first_line("\n  boom\nsecond line") == "boom"
    assert first_line(None) == "" and first_line("   ") == ""
    assert first_line("x" * 500, limit=10) == "x" * 9 + "…"


def test_cursor_round_trips_and_rejects_garbage(jobs):
    job = jobs.pending("noop")

    assert decode_cursor(encode_cursor(job)) == (job.created_at, job.id)
    for garbage in ("", "123", "abc_" + job.id, "123_notanid", f"-5_{job.id}"):
        with pytest.raises(ValueError):
            decode_cursor(garbage)
