"""What only the embedded SQL store does: SQLite durability settings, query plans,
round trips, and the reaper's race with a renewing worker."""

from datetime import timedelta

import pytest
from django.db import connection

from jobs.models import Attempt, NewJob, Outcome, Status
from jobs.stores import JobResult, StoreUnavailable
from jobs.stores.sql import TABLE, SqlJobStore

LEASE = 30.0


def new(**options):
    return NewJob(type="noop", payload={}, max_retries=3, **options)


def test_sqlite_runs_in_wal_mode_with_full_sync_and_a_busy_timeout(sql_store):
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert connection.transaction_mode == "IMMEDIATE"


def test_describe_names_the_sqlite_file(sql_store):
    assert sql_store.describe() == f"SQLite at {connection.settings_dict['NAME']}"


def test_a_database_without_the_jobs_table_is_reported_clearly(sql_store):
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO jobs_job_away")
    try:
        with pytest.raises(StoreUnavailable, match=r"no such table.*run `python manage.py migrate`"):
            SqlJobStore().ensure_ready()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE jobs_job_away RENAME TO {TABLE}")


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            f"SELECT id FROM {TABLE} WHERE status = 'pending' AND run_at <= '2030-01-01' "
            "ORDER BY priority DESC, run_at, id LIMIT 8",
            "job_claim_idx",
        ),
        (f"SELECT id FROM {TABLE} ORDER BY created_at DESC, id DESC LIMIT 50", "job_list_idx"),
        (
            f"SELECT id FROM {TABLE} WHERE type = 'email' ORDER BY created_at DESC, id DESC LIMIT 50",
            "job_type_list_idx",
        ),
        (
            f"SELECT id FROM {TABLE} WHERE status = 'processing' AND lease_expires_at < '2030-01-01'",
            "job_reaper_idx",
        ),
        (f"SELECT type, status, COUNT(*) FROM {TABLE} GROUP BY type, status", "job_type_status_idx"),
    ],
)
def test_the_hot_queries_use_their_index(sql_store, query, index):
    with connection.cursor() as cursor:
        plan = " ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {query}").fetchall())
    assert index in plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan


def test_a_claim_looks_pending_jobs_up_by_id_not_by_scanning_them(sql_store, clock):
    sql_store.insert_many([new() for _ in range(50)], now=clock())
    claimed = []

    def explain(sql, params=()):
        with connection.cursor() as cursor:
            claimed.append(" ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)))
        return []

    sql_store._execute = explain
    sql_store.claim(owner="w", limit=8, now=clock(), lease_seconds=LEASE)

    [plan] = claimed
    assert "USING COVERING INDEX job_claim_idx (status=?)" in plan
    assert "SEARCH jobs_job USING INDEX sqlite_autoindex_jobs_job_1 (id=?)" in plan
    assert "SCAN" not in plan


def test_a_job_costs_under_three_statements_from_insert_to_completed(sql_store, clock):
    jobs = 64
    before = sql_store.round_trips
    for _ in range(jobs):
        sql_store.insert(new(), now=clock())
    claimed = []
    while batch := sql_store.claim(owner="w", limit=16, now=clock(), lease_seconds=LEASE):
        claimed.extend(batch)
        attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
        assert all(sql_store.finish_many([JobResult("complete", job, attempt) for job in batch], now=clock()))

    per_job = (sql_store.round_trips - before) / jobs
    assert len(claimed) == jobs
    assert per_job <= 3


def test_the_reaper_spares_a_job_renewed_after_it_read_the_expired_lease(sql_store, clock, monkeypatch):
    sql_store.insert(new(), now=clock())
    [held] = sql_store.claim(owner="slow-but-alive", limit=1, now=clock(), lease_seconds=LEASE)
    clock.advance(LEASE + 1)
    real_execute = SqlJobStore._execute

    def renew_right_after_the_reaper_reads(self, sql, params=()):
        rows = real_execute(self, sql, params)
        if sql.startswith("SELECT") and "lease_expires_at <" in sql:
            assert real_execute(
                self,
                f"UPDATE {TABLE} SET lease_expires_at = %s WHERE id = %s",
                (self._dt(clock() + timedelta(seconds=LEASE)), held.id),
            )
        return rows

    monkeypatch.setattr(SqlJobStore, "_execute", renew_right_after_the_reaper_reads)

    assert sql_store.reap(now=clock(), retry_delay=lambda retries: 0) == 0
    job = sql_store.get(held.id)
    assert job.status == Status.PROCESSING and job.lease.token == held.lease.token and job.attempt_count == 0


def test_earlier_attempts_without_json_unnesting_are_counted_alike(sql_store):
    """Databases other than SQLite and PostgreSQL count the same candidates in Python."""
    from datetime import UTC, datetime

    start = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    sql_store.insert_many([new(), new(), new(), new()], now=start)
    done, retried, released, failed_twice = sql_store.claim(owner="w", limit=4, now=start, lease_seconds=LEASE)

    def attempt(outcome, at):
        return Attempt(started_at=start, finished_at=at, worker="w", outcome=outcome, error=None)

    sql_store.complete(done, attempt=attempt(Outcome.COMPLETED, start), now=start)
    sql_store.retry(failed_twice, attempt=attempt(Outcome.TIMED_OUT, start), run_at=start, now=start)
    later = start + timedelta(minutes=2)
    sql_store.retry(retried, attempt=attempt(Outcome.FAILED, later), run_at=later, now=later)
    sql_store.release(released, attempt=attempt(Outcome.RELEASED, later), now=later)
    claimed_again = sql_store.claim(owner="w", limit=4, now=later, lease_seconds=LEASE)
    again = next(job for job in claimed_again if job.id == failed_twice.id)
    sql_store.fail(again, attempt=attempt(Outcome.FAILED, later), now=later)
    since = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)

    in_python = sql_store._earlier_attempt_rows_in_python(since, 60)
    in_sql = sql_store._earlier_attempt_rows(since, 60)

    minute = int(start.timestamp()) // 60
    assert sorted(in_python) == [(minute, "timed out", 1), (minute + 2, "failed", 1), (minute + 2, "released", 1)]
    assert sorted(in_python) == sorted(tuple(row) for row in in_sql)
