"""The SQL store's ``one_transaction``, in which a worker's turn records its results and
claims the next jobs, on whichever database the run uses (SQLite by default, PostgreSQL
under ``make test-postgres``, where the transaction is pipelined: its statements are
queued and their answers come back together).

Whatever the transport, a turn commits all of its writes or none, tells which results
applied only from what the database matched, and leaves the connection usable.
"""

import dataclasses

import pytest
from django.db import DatabaseError, connection

from jobs.domain import Attempt, NewJob, Outcome, Status
from jobs.results import Completed

LEASE = 30.0


def new():
    return NewJob(type="noop", payload={}, max_retries=3)


def completed(job, clock) -> Completed:
    return Completed(job, Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED))


def statuses(store, jobs) -> list[Status]:
    return [store.get(job.id).status for job in jobs]


@pytest.fixture
def one_running_two_pending(sql_store, clock):
    sql_store.insert_many([new() for _ in range(3)], now=clock())
    [running] = sql_store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE)
    return running


def test_a_turn_commits_its_results_and_its_claim_together(sql_store, clock, one_running_two_pending):
    running = one_running_two_pending

    with sql_store.one_transaction():
        applied = sql_store.record_results([completed(running, clock)], now=clock())
        claimed = sql_store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE)

    assert list(applied) == [True]
    assert sql_store.get(running.id).status == Status.COMPLETED
    assert len(claimed) == 2 and statuses(sql_store, claimed) == [Status.PROCESSING] * 2
    assert [sql_store.get(job.id).lease for job in claimed] == [job.lease for job in claimed]


def test_a_result_whose_lease_was_lost_is_not_applied_in_a_turn(sql_store, clock, one_running_two_pending):
    running = one_running_two_pending
    stale = dataclasses.replace(running, lease=dataclasses.replace(running.lease, token="not-the-lease"))

    with sql_store.one_transaction():
        applied = sql_store.record_results([completed(stale, clock), completed(running, clock)], now=clock())

    assert list(applied) == [False, True]
    assert sql_store.get(running.id).status == Status.COMPLETED


def test_a_turn_that_raises_writes_nothing_and_the_next_one_works(sql_store, clock, one_running_two_pending):
    running = one_running_two_pending

    with pytest.raises(OSError), sql_store.one_transaction():
        sql_store.record_results([completed(running, clock)], now=clock())
        sql_store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE)
        raise OSError("injected: the turn failed before its commit")

    assert sql_store.get(running.id).status == Status.PROCESSING
    assert sql_store.get(running.id).lease == running.lease
    assert sql_store.count_by_type_and_status()[("noop", Status.PENDING.value)] == 2
    with sql_store.one_transaction():
        [applied] = sql_store.record_results([completed(running, clock)], now=clock())
        claimed = sql_store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE)
    assert applied and len(claimed) == 2


def test_a_turn_inside_another_joins_it_and_is_rolled_back_with_it(sql_store, clock, one_running_two_pending):
    running = one_running_two_pending

    with pytest.raises(OSError), sql_store.one_transaction():
        with sql_store.one_transaction():
            sql_store.record_results([completed(running, clock)], now=clock())
        raise OSError("injected: the outer turn failed")

    assert sql_store.get(running.id).status == Status.PROCESSING


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a failed statement aborts the transaction on PostgreSQL")
def test_a_turn_whose_statement_failed_does_not_commit_even_if_the_error_was_caught(
    sql_store, clock, one_running_two_pending
):
    running = one_running_two_pending

    with pytest.raises(DatabaseError), sql_store.one_transaction():
        sql_store.record_results([completed(running, clock)], now=clock())
        with pytest.raises(DatabaseError):
            sql_store.claim(owner="w", limit=2**70, now=clock(), lease_seconds=LEASE)  # bigint out of range

    assert sql_store.get(running.id).status == Status.PROCESSING
    assert sql_store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE) != []


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


only_on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


@only_on_postgresql
def test_a_turn_prepares_its_claim_and_record_and_stays_within_the_limit(sql_store, clock, one_running_two_pending):
    running = one_running_two_pending
    sql_store.insert_many([new() for _ in range(5)], now=clock())

    with sql_store.one_transaction():
        [applied] = sql_store.record_results([completed(running, clock)], now=clock())
        claimed = sql_store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)
    again = sql_store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)

    assert applied and len(claimed) == 3 and len(again) == 3
    statements = prepared_statements()
    assert any(text.startswith("WITH pick") for text in statements)
    assert any(text.startswith("UPDATE") and "FROM (VALUES" in text for text in statements)
    assert not any("INSERT" in text for text in statements)  # Django's own statements stay unprepared


@only_on_postgresql
def test_nothing_is_prepared_when_the_database_options_turn_prepared_statements_off(transactional_db, clock):
    from jobs.stores.sql import SqlJobStore

    options = connection.settings_dict.setdefault("OPTIONS", {})
    options["prepare_threshold"] = None
    connection.close()
    try:
        store = SqlJobStore()
        store.insert(new(), now=clock())
        assert len(store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE)) == 1
        assert prepared_statements() == []
    finally:
        del options["prepare_threshold"]
        connection.close()
