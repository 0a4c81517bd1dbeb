"""``jobs.management.sqlitetime``: the benchmark's split of an enqueue between SQLite's
calls and the Python around them."""

import sqlite3

import pytest
from django.db import connection

from jobs import services
from jobs.management.sqlitetime import SqliteCallTimer, measure_enqueue_split

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("the split times SQLite's calls")


def test_the_timer_counts_statements_fetches_and_commits_and_leaves_plain_connections_behind():
    timer = SqliteCallTimer()
    with timer.installed():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchall() == [(1,)]
        assert type(connection.connection).__name__ == "TimedConnection"
    assert timer.seconds > 0
    connection.ensure_connection()
    assert type(connection.connection) is sqlite3.Connection
    assert "factory" not in connection.settings_dict["OPTIONS"]


def test_time_outside_sqlite_is_not_counted_as_sqlite():
    timer = SqliteCallTimer()
    with timer.installed():
        sum(range(100_000))
    assert timer.seconds == 0


def test_an_enqueue_split_is_the_loop_time_per_job_in_two_parts(sql_store):
    count = 20
    split = measure_enqueue_split(lambda: [services.enqueue("noop", {}) for _ in range(count)], count)

    assert len(sql_store.list_jobs(limit=100)) == count
    assert 0 < split.sqlite_us < split.wall_us
    assert split.rest_us == pytest.approx(split.wall_us - split.sqlite_us)
    assert "µs inside SQLite's calls" in split.describe()
