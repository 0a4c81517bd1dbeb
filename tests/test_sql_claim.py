"""The SQL store's claim on whichever database the run uses: SQLite by default,
PostgreSQL under ``make test-postgres``.

A claim must never take more jobs than its limit, whatever plan the database picks.
PostgreSQL once ran the ``LIMIT … FOR UPDATE SKIP LOCKED`` pick once per row of a
nested-loop semi join on small or unanalysed tables, so ``claim(limit=1)`` with 5 due
jobs took all 5. The table sizes and statistics below cover the plans that produced.
"""

import threading

import pytest
from django.db import connection

from jobs.domain import Attempt, NewJob, Outcome, Status
from jobs.results import Completed
from jobs.stores.sql import TABLE
from tests.worker_support import run_in_threads

LEASE = 30.0


def new():
    return NewJob(type="noop", payload={}, max_retries=3)


def analyze():
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")


@pytest.fixture
def forget_sqlite_statistics():
    """SQLite plans every later query from ANALYZE's statistics, and a flush between
    tests keeps them: drop them (a schema change, so every connection reloads) after."""
    yield
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")
            cursor.execute("DROP TABLE IF EXISTS sqlite_stat4")


def processing_count(store) -> int:
    return store.count_by_type_and_status().get(("noop", Status.PROCESSING.value), 0)


@pytest.mark.parametrize("pending", [1, 5, 500])
@pytest.mark.parametrize("statistics", ["none", "current", "taken when nearly empty"])
@pytest.mark.parametrize("limit", [1, 3])
def test_a_claim_never_takes_more_than_its_limit(
    sql_store, clock, forget_sqlite_statistics, pending, statistics, limit
):
    if statistics == "taken when nearly empty":
        sql_store.insert(new(), now=clock())
        analyze()
        pending_to_add = pending - 1
    else:
        pending_to_add = pending
    sql_store.insert_many([new() for _ in range(pending_to_add)], now=clock())
    if statistics == "current":
        analyze()

    claimed = sql_store.claim(owner="w", limit=limit, now=clock(), lease_seconds=LEASE)

    assert len(claimed) == min(limit, pending)
    assert processing_count(sql_store) == min(limit, pending)


def test_concurrent_claims_each_stay_within_their_limit(sql_store, clock):
    sql_store.insert_many([new() for _ in range(200)], now=clock())
    start = threading.Barrier(4)
    batches: list[list] = []

    def claimer(name):
        start.wait(timeout=30)
        while batch := sql_store.claim(owner=name, limit=2, now=clock(), lease_seconds=LEASE):
            batches.append(batch)

    errors = run_in_threads(claimer, 4, timeout=60)

    assert errors == []
    assert max(len(batch) for batch in batches) <= 2
    claimed_ids = [job.id for batch in batches for job in batch]
    assert len(claimed_ids) == len(set(claimed_ids)) == 200
    assert processing_count(sql_store) == 200


@pytest.mark.parametrize(("where", "index"), [({}, "job_claim_idx"), ({"queue": "default"}, "job_queue_claim_idx")])
def test_a_claim_among_many_finished_jobs_walks_the_partial_index_of_pending_jobs(
    sql_store, clock, forget_sqlite_statistics, where, index
):
    """On either database, with statistics: the claim indexes hold only pending jobs
    (migration 0004), and the claim still finds its jobs through them."""
    sql_store.insert_many([new() for _ in range(3000)], now=clock())
    finished = sql_store.claim(owner="w", limit=2900, now=clock(), lease_seconds=LEASE)
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
    assert all(sql_store.record_results([Completed(job, attempt) for job in finished], now=clock()))
    analyze()
    plans = []

    def explain(sql, params=(), **options):
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {'QUERY PLAN ' if connection.vendor == 'sqlite' else ''}{sql}", params)
            plans.append(" ".join(str(row) for row in cursor.fetchall()))
        return []

    sql_store._execute = explain
    sql_store.claim(owner="w", limit=8, now=clock(), lease_seconds=LEASE, **where)

    *_inbox_check, plan = plans  # on SQLite the claim first asks whether the inbox holds jobs
    assert index in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="about PostgreSQL's plan of its claim statement")
def test_the_claim_updates_the_picked_rows_by_id_even_with_statistics_of_a_nearly_empty_table(
    sql_store, clock, forget_sqlite_statistics
):
    """With a status test beside the join on id, statistics taken when one job was
    pending made PostgreSQL walk every pending row (the due index) once per claim, to
    find the few rows the pick had locked."""
    sql_store.insert(new(), now=clock())
    analyze()
    sql_store.insert_many([new() for _ in range(499)], now=clock())
    plans = []

    def explain(sql, params=(), **options):
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return []

    sql_store._execute = explain
    sql_store.claim(owner="w", limit=8, now=clock(), lease_seconds=LEASE)

    [plan] = plans
    # The update's own scan of the table (the pick's is aliased jobs_job_1): by id.
    scans = [line for line in plan.splitlines() if "Scan" in line and f" on {TABLE} " in line]
    updated = [line for line in scans if f"{TABLE}_1" not in line]
    assert updated and all(f"Index Scan using {TABLE}_" in line for line in updated), plan


def test_a_claim_on_sqlite_reads_its_datetimes_without_the_drivers_converter(sql_store, clock, monkeypatch):
    """A claim's rows carry six datetime columns; passed through Django's converter each
    is a Python call, two of them (the lease's) for values the claim already knows."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's column converters")
    import sqlite3

    converted = []
    convert = sqlite3.converters["DATETIME"]
    monkeypatch.setitem(sqlite3.converters, "DATETIME", lambda value: converted.append(value) or convert(value))
    sql_store.insert_many([new() for _ in range(3)], now=clock())
    stored = {job.id: job for job in sql_store.list_jobs(limit=10)}
    converted.clear()

    claimed = sql_store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)

    assert converted == []
    assert len(claimed) == 3
    for job in claimed:
        before = stored[job.id]
        assert (job.run_at, job.created_at, job.finished_at) == (before.run_at, before.created_at, None)
        assert job.updated_at == job.lease.started_at == clock() and job.lease.expires_at > clock()
        assert sql_store.get(job.id) == job
