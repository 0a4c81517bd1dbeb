"""``jobs.management.sqlitetime``: the benchmark's split of an enqueue's CPU between
SQLite's calls and the Python around them."""

import sqlite3

import pytest
from django.db import connection

from jobs import services
from jobs.management.sqlitetime import SqliteCallTimer, measure_enqueue_split


@pytest.fixture(autouse=True)
def _sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("the split times SQLite's calls")


def _busy_python(iterations: int = 200_000) -> int:
    return sum(range(iterations))


def test_the_timer_counts_statements_fetches_and_commits_and_leaves_plain_connections_behind(sql_store):
    timer = SqliteCallTimer()
    with timer.installed():
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT count(*) FROM n"
            )
            assert cursor.fetchall() == [(20000,)]
        assert type(connection.connection).__name__ == "TimedConnection"
    assert timer.seconds > 0
    connection.ensure_connection()
    assert type(connection.connection) is sqlite3.Connection
    assert "factory" not in connection.settings_dict["OPTIONS"]


def test_cpu_spent_outside_sqlite_is_not_counted_as_sqlite(sql_store):
    timer = SqliteCallTimer()
    with timer.installed():
        split = measure_enqueue_split(_busy_python, 1, timer)
    assert timer.seconds == 0
    assert split.sqlite_us == 0
    assert split.python_us == split.cpu_us > 0


def test_a_connection_made_with_the_class_outside_django_is_timed_too(tmp_path):
    timer = SqliteCallTimer()
    plain = sqlite3.connect(tmp_path / "x.sqlite3", factory=timer.connection_class())
    plain.execute("CREATE TABLE t (x)")
    plain.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(20000)])
    plain.commit()
    assert plain.cursor().execute("SELECT count(*) FROM t").fetchone() == (20000,)
    plain.close()
    assert timer.seconds > 0


def test_an_enqueue_split_is_the_loops_cpu_per_job_in_two_parts(sql_store):
    count = 20
    timer = SqliteCallTimer()
    with timer.installed():
        split = measure_enqueue_split(lambda: [services.enqueue("noop", {}) for _ in range(count)], count, timer)

    assert len(sql_store.list_jobs(limit=100)) == count
    assert 0 < split.sqlite_us < split.cpu_us
    assert split.python_us == pytest.approx(split.cpu_us - split.sqlite_us)
    assert "µs inside SQLite's calls" in split.describe()
