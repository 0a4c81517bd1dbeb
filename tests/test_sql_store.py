"""What only the embedded SQL store does: SQLite durability settings, query plans,
round trips, and the reaper's race with a renewing worker. The SQLite-specific ones are
marked ``sqlite_only`` and skipped when the suite runs on PostgreSQL."""

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import SynchronousOnlyOperation
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from jobs.domain import Attempt, JobFilter, NewJob, Outcome, Status
from jobs.results import Completed
from jobs.retry import RetryStrategy
from jobs.stores import StoreUnavailable
from jobs.stores.sql import TABLE, SqlJobStore
from tests.roundtrip_support import counting

LEASE = 30.0


def new(**options):
    return NewJob(type="noop", payload={}, max_retries=3, **options)


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_full_sync_and_a_busy_timeout(sql_store):
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert connection.transaction_mode == "IMMEDIATE"


@pytest.mark.sqlite_only
def test_describe_names_the_sqlite_file(sql_store):
    assert sql_store.describe() == f"SQLite at {connection.settings_dict['NAME']}"


def test_a_database_without_the_jobs_table_is_reported_clearly(sql_store):
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO jobs_job_away")
    try:
        # SQLite says "no such table", PostgreSQL 'relation "jobs_job" does not exist'.
        with pytest.raises(
            StoreUnavailable, match=r"(?s)(no such table|does not exist).*run `python manage.py migrate`"
        ):
            SqlJobStore().ensure_ready()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE jobs_job_away RENAME TO {TABLE}")


def test_a_database_the_store_does_not_support_is_refused_at_start(sql_store, monkeypatch):
    database = connections["default"]
    monkeypatch.setattr(database, "vendor", "mysql")
    monkeypatch.setattr(database, "display_name", "MySQL")

    with pytest.raises(StoreUnavailable, match="supports SQLite and PostgreSQL, not MySQL"):
        SqlJobStore().ensure_ready()


@pytest.mark.sqlite_only
def test_an_sqlite_without_update_returning_is_refused_at_start(sql_store, monkeypatch):
    monkeypatch.setattr(connections["default"].Database, "sqlite_version_info", (3, 34, 1))

    with pytest.raises(StoreUnavailable, match=r"needs SQLite 3\.35 or newer .*found 3\.34\.1"):
        SqlJobStore().ensure_ready()


@pytest.mark.sqlite_only
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
        (f"SELECT id FROM {TABLE} WHERE idempotency_key = 'k'", "job_idempotency_key"),
    ],
)
def test_the_hot_queries_use_their_index(sql_store, query, index):
    with connection.cursor() as cursor:
        plan = " ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {query}").fetchall())
    assert index in plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan


def claim_plan(sql_store, clock, **where) -> str:
    """SQLite's query plan of the claim statement of a claim of 8 jobs (it runs nothing; the
    statement before it asks whether the inbox holds jobs)."""
    claimed = []

    def explain(sql, params=(), **options):
        with connection.cursor() as cursor:
            claimed.append(" ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)))
        return []

    sql_store._execute = explain
    sql_store.claim(owner="w", limit=8, now=clock(), lease_seconds=LEASE, **where)
    *_inbox_check, plan = claimed
    return plan


@pytest.mark.sqlite_only
def test_a_claim_looks_pending_jobs_up_by_id_not_by_scanning_them(sql_store, clock):
    sql_store.insert_many([new() for _ in range(50)], now=clock())
    plan = claim_plan(sql_store, clock)
    assert "USING COVERING INDEX job_claim_idx (status=?)" in plan
    assert "SEARCH jobs_job USING INDEX sqlite_autoindex_jobs_job_1 (id=?)" in plan
    assert "SCAN" not in plan


def test_a_job_costs_under_three_statements_from_insert_to_completed(sql_store, clock):
    jobs = 64
    claimed = []
    with counting(sql_store) as sent:
        for _ in range(jobs):
            sql_store.insert(new(), now=clock())
        while batch := sql_store.claim(owner="w", limit=16, now=clock(), lease_seconds=LEASE):
            claimed.extend(batch)
            attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
            assert all(sql_store.record_results([Completed(job, attempt) for job in batch], now=clock()))

    per_job = sent.total() / jobs
    assert len(claimed) == jobs
    assert per_job <= 3


def test_the_reaper_spares_a_job_renewed_after_it_read_the_expired_lease(sql_store, clock, monkeypatch):
    sql_store.insert(new(), now=clock())
    [held] = sql_store.claim(owner="slow-but-alive", limit=1, now=clock(), lease_seconds=LEASE)
    clock.advance(LEASE + 1)
    real_execute = SqlJobStore._execute

    def renew_right_after_the_reaper_reads(self, sql, params=(), **options):
        rows = real_execute(self, sql, params, **options)
        if sql.startswith("SELECT") and "lease_expires_at <" in sql:
            assert real_execute(
                self,
                f"UPDATE {TABLE} SET lease_expires_at = %s WHERE id = %s",
                (self._dt(clock() + timedelta(seconds=LEASE)), held.id),
            )
        return rows

    monkeypatch.setattr(SqlJobStore, "_execute", renew_right_after_the_reaper_reads)

    assert sql_store.reap(now=clock(), retry_strategy=RetryStrategy(base_delay=0, max_delay=0)) == 0
    job = sql_store.get(held.id)
    assert job.status == Status.PROCESSING and job.lease.token == held.lease.token and job.attempt_count == 0


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("where", "index"),
    [
        ({"queue": "emails"}, "job_queue_claim_idx (status=? AND queue=?)"),
        ({"exclude_queues": {"a", "b"}}, "job_claim_idx (status=?)"),
    ],
)
def test_a_claim_by_queue_or_around_paused_queues_is_one_indexed_query(sql_store, clock, where, index):
    sql_store.insert_many([new(queue=name) for name in ("emails", "a", "b", "default") for _ in range(10)], now=clock())
    plan = claim_plan(sql_store, clock, **where)
    assert f"USING COVERING INDEX {index}" in plan
    assert "SEARCH jobs_job USING INDEX sqlite_autoindex_jobs_job_1 (id=?)" in plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan


@pytest.mark.sqlite_only
def test_the_retention_purge_walks_the_finished_index(sql_store, clock):
    with connection.cursor() as cursor:
        plan = " ".join(
            str(row)
            for row in cursor.execute(
                f"EXPLAIN QUERY PLAN DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} "
                "WHERE status = 'completed' AND finished_at < '2026-01-01' ORDER BY finished_at LIMIT 1000)"
            )
        )
    assert "job_finished_idx (status=? AND finished_at<?)" in plan and "TEMP B-TREE" not in plan


def explained_statements(sql_store, run) -> list[str]:
    """SQLite's query plans of the raw statements ``run(sql_store)`` would execute (none runs)."""
    plans = []

    def explain(sql, params=(), **options):
        with connection.cursor() as cursor:
            plans.append(" ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)))
        return []

    sql_store._execute = explain
    run(sql_store)
    return plans


@pytest.mark.sqlite_only
def test_the_due_and_delayed_counts_read_the_partial_index_of_pending_jobs(sql_store, clock):
    def run(store):
        store.oldest_due_pending(now=clock())
        store.oldest_due_by_queue(now=clock())
        store.count_delayed(now=clock())

    # Each first asks whether the inbox holds jobs to move (it does not: nothing was inserted).
    plans = [plan for plan in explained_statements(sql_store, run) if "jobs_inbox" not in plan]

    assert len(plans) == 3
    for plan in plans:
        # oldest due per queue may walk job_queue_claim_idx instead: as partial, and covering
        assert "job_due_idx (status=? AND run_at" in plan or "COVERING INDEX job_queue_claim_idx" in plan
        assert "SCAN jobs_job" not in plan


@pytest.mark.sqlite_only
def test_a_batch_of_results_is_one_statement_looking_each_job_up_by_id(sql_store, clock):
    sql_store.insert_many([new() for _ in range(4)], now=clock())
    held = sql_store.claim(owner="w", limit=4, now=clock(), lease_seconds=LEASE)
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)

    plans = explained_statements(
        sql_store, lambda store: store.record_results([Completed(job, attempt) for job in held], now=clock())
    )

    [plan] = plans
    assert "SEARCH jobs_job USING INDEX sqlite_autoindex_jobs_job_1 (id=?)" in plan
    assert "SCAN jobs_job" not in plan


def test_a_second_result_for_the_same_attempt_in_one_batch_is_refused(sql_store, clock):
    sql_store.insert_many([new() for _ in range(2)], now=clock())
    first, second = sql_store.claim(owner="w", limit=2, now=clock(), lease_seconds=LEASE)
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)

    applied = sql_store.record_results(
        [Completed(first, attempt), Completed(second, attempt), Completed(first, attempt)], now=clock()
    )

    assert applied == [True, True, False]
    assert sql_store.get(first.id).attempt_count == 1
    assert sql_store.get(first.id).status == Status.COMPLETED


@pytest.mark.sqlite_only
def test_the_recently_finished_jobs_are_read_from_the_partial_finished_index(sql_store):
    plans = explained_statements(sql_store, lambda store: store.recently_finished(limit=10))

    assert len(plans) == 2
    for plan in plans:
        assert "USING INDEX job_finished_idx (status=?" in plan and "TEMP B-TREE" not in plan


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("criteria", "index"),
    [
        (JobFilter(), "job_list_idx"),
        (JobFilter(status="completed"), "job_status_list_idx"),
        (JobFilter(type="email"), "job_type_list_idx"),
        (JobFilter(queue="mail"), "job_queue_list_idx"),
    ],
)
@pytest.mark.parametrize("page", ["first", "after", "before"])
def test_every_page_of_the_list_reads_its_ascending_index_backwards_or_forwards_without_sorting(
    sql_store, criteria, index, page
):
    # The list indexes are ascending (docs/ARCHITECTURE.md, "Indexes") while the list is
    # newest first: SQLite must walk them in either direction, not sort the matches.
    cursor_at = (datetime(2026, 1, 1, tzinfo=UTC), "0" * 24)
    pages = {"first": {}, "after": {"after": cursor_at}, "before": {"before": cursor_at}}
    with CaptureQueriesContext(connection) as captured:
        sql_store.list_jobs(criteria, limit=50, **pages[page])
    [query] = [entry["sql"] for entry in captured.captured_queries if "ORDER BY" in entry["sql"]]
    with connection.cursor() as cursor:
        plan = " ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {query}"))

    assert index in plan and "TEMP B-TREE" not in plan


@pytest.mark.sqlite_only
def test_the_list_of_jobs_with_an_error_walks_the_partial_error_index(sql_store, clock):
    with CaptureQueriesContext(connection) as captured:
        sql_store.list_jobs(JobFilter(has_error=True), limit=50)
    [query] = [entry["sql"] for entry in captured.captured_queries if TABLE in entry["sql"]]
    with connection.cursor() as cursor:
        plan = " ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {query}"))

    assert "job_error_list_idx" in plan and "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no fraction: SQLite's text has none either
        datetime(2026, 1, 2, 5, 4, 5, 1_000, tzinfo=timezone(timedelta(hours=2))),
        None,
    ],
)
def test_datetimes_are_written_as_djangos_own_adapter_writes_them(sql_store, moment):
    assert sql_store._dt(moment) == connection.ops.adapt_datetimefield_value(moment)


def test_each_thread_uses_its_own_connection_and_a_closed_one_reopens(sql_store, clock):
    """The store looks Django's connection up once per thread: a thread never gets
    another's, and closing it (as Django does between requests) does not break the next call."""
    seen = {}

    def enqueue_in_a_thread():
        seen["job"] = sql_store.insert(new(), now=clock())
        seen["connection"] = connections[sql_store.using]
        connections[sql_store.using].close()

    sql_store.insert(new(), now=clock())
    thread = threading.Thread(target=enqueue_in_a_thread)
    thread.start()
    thread.join(timeout=30)

    assert seen["connection"] is not connection
    assert sql_store.get(seen["job"].id) is not None
    connection.close()
    assert sql_store.get(seen["job"].id).status is Status.PENDING


def test_the_store_refuses_to_run_in_an_event_loop_thread_as_django_does(sql_store, clock):
    # The fast SQLite path skips Django's cursor, whose guard refuses synchronous database
    # calls from async code; the guard must still hold when the connection is already open.
    job = sql_store.insert(new(), now=clock())  # opens this thread's connection

    async def read_in_the_loop():
        return sql_store.get(job.id)

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(read_in_the_loop())
    assert sql_store.get(job.id) == job
