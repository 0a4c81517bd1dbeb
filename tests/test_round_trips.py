"""Round trips as the drivers send them (``jobs.management.roundtrips``): the counters
themselves, and what each store operation costs. The SQLite figures are exact, so a store
that starts sending one more statement fails here; the MongoDB ones run on a real server
(``make test-mongo``), since mongomock reports no commands.
"""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connections

from conftest import REAL_MONGODB_URI, discard_store, make_store
from jobs.domain import Attempt, NewJob, Outcome, PoolInfo
from jobs.management import extrapasses, tablegrowth
from jobs.management.roundtrips import RoundTripCounter, SqlStatements
from jobs.results import Completed
from jobs.retry import RetryStrategy
from tests.roundtrip_support import counting

LEASE = 30.0


def new():
    return NewJob(type="noop", payload={}, max_retries=0)


def completed(held, clock):
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
    return [Completed(job, attempt) for job in held]


def pool(clock):
    return PoolInfo(
        id="host:1:ab12", host="host", pid=1, concurrency=4, running=0, started_at=clock(), heartbeat_at=clock()
    )


# --- the SQL counter ------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_every_statement_is_counted_whichever_way_it_reaches_sqlite(sql_store, clock):
    jobs = sql_store.insert_many([new(), new()], now=clock())
    connection = connections["default"]
    connection.ensure_connection()
    counter = RoundTripCounter()
    connection.connection.execute("SELECT 1")  # before counting: not counted

    with SqlStatements(counter):
        with connection.cursor() as cursor:  # Django's cursor
            cursor.execute("SELECT 1")
        connection.connection.execute("SELECT 2")  # the raw sqlite3 connection, as the store's fast path
        with connection.cursor() as cursor:
            # SQLite runs it once per row.
            cursor.executemany("UPDATE jobs_job SET priority = 1 WHERE id = %s", [(job.id,) for job in jobs])

    connection.connection.execute("SELECT 3")  # after: not counted
    assert counter.by_kind() == {"SELECT": 2, "UPDATE": 2}


def test_statements_of_a_connection_another_thread_opens_are_counted(sql_store):
    counter = RoundTripCounter()
    done = threading.Event()

    def other_thread():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connections["default"].close()
            done.set()

    with SqlStatements(counter):
        thread = threading.Thread(target=other_thread)
        thread.start()
        assert done.wait(10)
        thread.join(10)

    assert counter.by_kind()["SELECT"] == 1


@pytest.mark.sqlite_only
def test_a_method_counts_in_its_own_phase_and_its_wrapper_is_put_back(sql_store, clock):
    counter = RoundTripCounter()
    sql_store.insert_many([new()], now=clock())  # straight into the jobs table: the inbox stays empty
    with SqlStatements(counter), counter.attribute_methods(sql_store, {"claim": "claim"}):
        counter.phase = "upkeep"
        [held] = sql_store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE)
        sql_store.renew([held], now=clock(), lease_seconds=LEASE)

    # the claim: the inbox check and the claim statement
    assert (counter.total("claim"), counter.total("upkeep")) == (2, 1)
    assert "claim" not in vars(sql_store)


# --- what each SQL store operation sends, on SQLite -------------------------------------


@pytest.mark.sqlite_only
def test_inserting_one_job_is_one_statement_in_autocommit(sql_store, clock):
    with counting(sql_store) as sent:
        sql_store.insert(new(), now=clock())

    assert sent.by_kind() == {"INSERT": 1}


@pytest.mark.sqlite_only
def test_inserting_three_jobs_at_once_is_three_inserts_in_one_transaction(sql_store, clock):
    with counting(sql_store) as sent:
        sql_store.insert_many([new(), new(), new()], now=clock())

    assert sent.by_kind() == {"BEGIN": 1, "INSERT": 3, "COMMIT": 1}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("pending", [0, 5])
def test_claiming_a_batch_is_one_statement_after_the_inbox_check_full_or_empty(sql_store, clock, pending):
    sql_store.insert_many([new() for _ in range(pending)], now=clock())

    with counting(sql_store) as sent:
        held = sql_store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)

    assert len(held) == min(pending, 3)
    assert sent.by_kind() == {"SELECT": 1, "UPDATE": 1}


@pytest.mark.sqlite_only
def test_a_claim_moves_jobs_enqueued_one_by_one_out_of_the_inbox_in_its_own_transaction(sql_store, clock):
    for _ in range(5):
        sql_store.insert(new(), now=clock())

    with counting(sql_store) as sent:
        held = sql_store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)

    assert len(held) == 3
    # the check, then one transaction: the move of all five (INSERT … SELECT), the inbox
    # emptied, the claim, one commit
    assert sent.by_kind() == {"SELECT": 1, "BEGIN": 1, "INSERT": 1, "DELETE": 1, "UPDATE": 1, "COMMIT": 1}


@pytest.mark.sqlite_only
def test_recording_one_result_or_a_batch_of_them_is_one_statement(sql_store, clock):
    sql_store.insert_many([new() for _ in range(4)], now=clock())
    held = sql_store.claim(owner="w", limit=4, now=clock(), lease_seconds=LEASE)

    with counting(sql_store) as one:
        assert sql_store.record_results(completed(held[:1], clock), now=clock()) == [True]
    with counting(sql_store) as three:
        assert sql_store.record_results(completed(held[1:], clock), now=clock()) == [True] * 3

    assert one.by_kind() == {"UPDATE": 1}
    assert three.by_kind() == {"UPDATE": 1}


@pytest.mark.sqlite_only
def test_renewing_a_batch_is_one_statement(sql_store, clock):
    sql_store.insert_many([new() for _ in range(3)], now=clock())
    held = sql_store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)

    with counting(sql_store) as sent:
        assert sql_store.renew(held, now=clock(), lease_seconds=LEASE).kept == {job.id for job in held}

    assert sent.by_kind() == {"UPDATE": 1}


@pytest.mark.sqlite_only
def test_the_pool_registry_and_the_reaper(sql_store, clock):
    with counting(sql_store) as registering:
        sql_store.register_pool(pool(clock))
    with counting(sql_store) as beating:
        sql_store.heartbeat_pool("host:1:ab12", running=1, now=clock())
    with counting(sql_store) as reaping:
        assert sql_store.reap(now=clock(), retry_strategy=RetryStrategy()) == 0

    # The ORM's update_or_create: a read, then an insert under a savepoint, in a transaction.
    assert registering.by_kind() == {"BEGIN": 1, "SELECT": 1, "SAVEPOINT": 1, "INSERT": 1, "RELEASE": 1, "COMMIT": 1}
    assert beating.by_kind() == {"UPDATE": 1}
    assert reaping.by_kind() == {"SELECT": 1}


# --- on every store (MongoDB: a real server) ------------------------------------------


@pytest.fixture
def mongodb_store():
    """The MongoDB store on the server at MONGODB_URI (skipped without one)."""
    store = make_store("mongodb")
    try:
        store.ensure_ready()
        yield store
    finally:
        discard_store("mongodb", store)


@pytest.mark.mongodb
def test_an_insert_of_three_jobs_is_one_command_on_mongodb(mongodb_store, clock):
    with counting(mongodb_store) as sent:
        mongodb_store.insert_many([new(), new(), new()], now=clock())

    assert sent.by_kind() == {"insert": 1}


@pytest.mark.mongodb
def test_the_mongodb_counter_sees_a_command_sent_beside_the_store(mongodb_store):
    with counting(mongodb_store) as sent:
        mongodb_store._client.admin.command("ping")

    assert sent.by_kind() == {"ping": 1}


def test_recording_one_result_is_one_write(store, clock):
    store.insert(new(), now=clock())
    held = store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE)

    with counting(store) as sent:
        assert store.record_results(completed(held, clock), now=clock()) == [True]

    assert sent.total() == 1


# --- the benchmark --------------------------------------------------------------------


def test_benchqueue_prints_the_driver_counts_per_phase_on_sql(tmp_path, settings):
    settings.JOBQUEUE_POLL_INTERVAL = 0.02
    out = io.StringIO()
    call_command(
        "benchqueue", "--store=sql", f"--database={tmp_path / 'b.sqlite3'}", "--jobs=20", "--probes=0", stdout=out
    )

    text = out.getvalue()
    # One by one in autocommit: exactly one INSERT per job, nothing else.
    assert "enqueue 1.00," in text and "enqueue, for 20 jobs: 20 INSERT\n" in text
    assert "SQLite statements, BEGIN and COMMIT included" in text


@pytest.mark.sqlite_only
def test_benchqueue_times_its_workload_unhooked_and_counts_on_a_second_pass(sql_store, settings, monkeypatch):
    # The hook is a Python call per statement: inside the timed pass it would be timed as ours.
    # On the test database itself, so that the benchmark runs in this process.
    database = connections["default"].settings_dict["NAME"]
    settings.JOBQUEUE_POLL_INTERVAL = 0.02
    counted = []
    record = RoundTripCounter.record
    monkeypatch.setattr(RoundTripCounter, "record", lambda self, kind: (counted.append(kind), record(self, kind))[1])
    counted_per_enqueue_pass = []
    enqueue = tablegrowth.enqueue_noops

    def watched_enqueue(count, batch):
        before = len(counted)
        enqueue(count, batch)
        counted_per_enqueue_pass.append(len(counted) - before)

    monkeypatch.setattr(tablegrowth, "enqueue_noops", watched_enqueue)
    monkeypatch.setattr(extrapasses, "enqueue_noops", watched_enqueue)
    out = io.StringIO()
    call_command("benchqueue", "--store=sql", f"--database={database}", "--jobs=20", "--probes=0", stdout=out)

    # The timed pass unseen; the counted pass one INSERT per job; the split pass (SQLite's
    # calls timed) unseen too.
    assert counted_per_enqueue_pass == [0, 20, 0]
    assert "enqueue, for 20 jobs: 20 INSERT\n" in out.getvalue()


def test_benchqueue_on_mongomock_says_round_trips_are_not_measured(settings):
    settings.JOBQUEUE_POLL_INTERVAL = 0.02
    out = io.StringIO()
    call_command("benchqueue", "--store=mongomock", "--jobs=10", "--probes=0", "--json", stdout=out)

    text = out.getvalue()
    assert "Round trips: not measured: mongomock is no driver" in text
    assert '"round_trips_per_job": null' in text


@pytest.mark.mongodb
def test_benchqueue_counts_the_commands_sent_to_a_real_mongodb(settings):
    if not REAL_MONGODB_URI:
        pytest.skip("real MongoDB not tested: MONGODB_URI is not set (mongomock variant ran instead)")
    settings.JOBQUEUE_POLL_INTERVAL = 0.02
    settings.JOBQUEUE_STORE = {"BACKEND": "jobs.stores.mongo.MongoJobStore", "OPTIONS": {"uri": REAL_MONGODB_URI}}
    out = io.StringIO()
    call_command("benchqueue", "--jobs=20", "--probes=0", stdout=out)

    text = out.getvalue()
    # One by one: exactly one insert command per job, seen by the client's listener.
    assert "enqueue 1.00," in text and "enqueue, for 20 jobs: 20 insert\n" in text
    assert "MongoDB commands the driver started" in text
