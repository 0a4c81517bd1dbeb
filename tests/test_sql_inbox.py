"""The SQLite inbox (``jobs.stores.sql.inbox``): a job enqueued one by one waits in
``jobs_inbox`` until a claim, a list, a count or an action moves it into ``jobs_job``.
While it waits, every read and action must see it exactly as if it were in the jobs
table; a move that fails loses nothing and duplicates nothing."""

import json
import os
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError, connection

from jobs.domain import Attempt, JobFilter, NewJob, Outcome, Status
from jobs.results import Completed
from jobs.stores import StoreUnavailable
from jobs.stores.sql import inbox
from jobs.stores.sql.statements import EMPTY_INBOX, MOVE_INBOX
from tests.worker_support import run_in_threads

pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parent.parent

LEASE = 30.0


def new(**options):
    return NewJob(type="noop", payload={"n": 1}, max_retries=3, **options)


def waiting_in_inbox() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM jobs_inbox ORDER BY id")
        return [job_id for (job_id,) in cursor.fetchall()]


def in_jobs_table() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM jobs_job")
        return [job_id for (job_id,) in cursor.fetchall()]


def test_a_job_enqueued_one_by_one_waits_in_the_inbox_and_reads_back_equal(sql_store, clock):
    job = sql_store.insert(new(), now=clock())

    assert waiting_in_inbox() == [job.id] and in_jobs_table() == []
    assert sql_store.get(job.id) == job
    assert waiting_in_inbox() == [job.id]  # reading one job writes nothing


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"queue": "mail", "priority": 7, "schedule": "nightly"},
        {"run_at": "in an hour", "priority": -3},
    ],
    ids=["defaults", "queue, priority, schedule", "delayed"],
)
def test_a_job_reads_the_same_from_the_inbox_and_from_the_jobs_table_after_the_move(sql_store, clock, options):
    # The inbox keeps only a new job's own columns (migration 0007); the rest are filled in
    # when it is read or moved, and must be what the insert returned.
    if options.get("run_at") == "in an hour":
        options = {**options, "run_at": clock() + timedelta(hours=1)}
    job = sql_store.insert(NewJob(type="noop", payload={"n": [1, "two"]}, max_retries=5, **options), now=clock())
    from_inbox = sql_store.get(job.id)
    sql_store.list_jobs()  # moves the inbox

    assert waiting_in_inbox() == [] and in_jobs_table() == [job.id]
    assert from_inbox == job and sql_store.get(job.id) == job


def test_jobs_with_a_unique_or_idempotency_key_and_batches_go_straight_to_the_jobs_table(sql_store, clock):
    keyed, _ = sql_store.insert_unique(new(unique_key="k"), now=clock())
    idempotent = sql_store.insert(new(idempotency_key="i", request_hash="h"), now=clock())
    batch = sql_store.insert_many([new(), new()], now=clock())

    assert waiting_in_inbox() == []
    assert sorted(in_jobs_table()) == sorted([keyed.id, idempotent.id, *(job.id for job in batch)])


def test_the_list_and_the_counts_see_jobs_waiting_in_the_inbox(sql_store, clock):
    due = sql_store.insert(new(), now=clock())
    delayed = sql_store.insert(new(run_at=clock() + timedelta(hours=1)), now=clock())
    assert len(waiting_in_inbox()) == 2

    assert [job.id for job in sql_store.list_jobs(JobFilter(status=Status.PENDING))] == [delayed.id, due.id]
    assert waiting_in_inbox() == []
    assert sql_store.count_by_type_and_status() == {("noop", "pending"): 2}


@pytest.mark.parametrize(
    "read",
    [
        lambda store, clock: store.count_by_type_and_status() == {("noop", "pending"): 1},
        lambda store, clock: store.count_by_queue_and_status() == {("default", "pending"): 1},
        lambda store, clock: store.oldest_due_pending(now=clock()) is not None,
        lambda store, clock: list(store.oldest_due_by_queue(now=clock())) == ["default"],
        lambda store, clock: store.count_delayed(now=clock() - timedelta(seconds=1)) == 1,
        lambda store, clock: len(store.list_jobs()) == 1,
    ],
    ids=["by type", "by queue", "oldest due", "oldest due by queue", "delayed", "list"],
)
def test_each_count_and_list_sees_a_job_that_was_waiting_in_the_inbox(sql_store, clock, read):
    sql_store.insert(new(), now=clock())
    assert len(waiting_in_inbox()) == 1

    assert read(sql_store, clock)


def test_a_job_waiting_in_the_inbox_can_be_cancelled_and_a_delayed_one_run_now(sql_store, clock):
    cancelled = sql_store.insert(new(), now=clock())
    delayed = sql_store.insert(new(run_at=clock() + timedelta(hours=1)), now=clock())

    assert sql_store.cancel(cancelled.id, now=clock()).status == Status.CANCELLED
    sql_store.insert(new(), now=clock())  # one more waiting
    retried = sql_store.retry_now(delayed.id, now=clock())

    assert retried.status == Status.PENDING and retried.run_at == clock()
    assert sql_store.get(cancelled.id).status == Status.CANCELLED


def test_a_claim_takes_inbox_jobs_in_priority_then_arrival_order(sql_store, clock):
    low = sql_store.insert(new(priority=0), now=clock())
    clock.advance(1)
    high = sql_store.insert(new(priority=5), now=clock())
    clock.advance(1)
    later_low = sql_store.insert(new(priority=0), now=clock())

    held = sql_store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)

    assert [job.id for job in held] == [high.id, low.id, later_low.id]
    assert waiting_in_inbox() == []
    assert all(sql_store.get(job.id).status == Status.PROCESSING for job in held)


def test_every_few_enqueues_one_moves_the_inbox_first(sql_store, clock, monkeypatch):
    monkeypatch.setattr(inbox, "MOVE_EVERY", 4)
    sql_store._enqueues_until_move = 4

    jobs = [sql_store.insert(new(), now=clock()) for _ in range(10)]

    # the 4th and 8th enqueues moved the 3 and 4 jobs waiting before them
    assert waiting_in_inbox() == [job.id for job in jobs[7:]]
    assert sorted(in_jobs_table()) == sorted(job.id for job in jobs[:7])


def fail_on(store, monkeypatch, failing_sql: str):
    """Make ``failing_sql`` fail as a locked database does (the transaction rolls back)."""
    real_execute = type(store)._execute

    def execute(self, sql, params=(), **options):
        if sql == failing_sql:
            raise OperationalError("database is locked")
        return real_execute(self, sql, params, **options)

    monkeypatch.setattr(type(store), "_execute", execute)


def test_a_move_that_fails_halfway_leaves_each_job_in_exactly_one_table(sql_store, clock, monkeypatch):
    jobs = [sql_store.insert(new(), now=clock()) for _ in range(3)]
    fail_on(sql_store, monkeypatch, EMPTY_INBOX)  # after the rows were copied into jobs_job

    with pytest.raises(StoreUnavailable):
        sql_store.list_jobs()

    assert waiting_in_inbox() == [job.id for job in jobs] and in_jobs_table() == []
    monkeypatch.undo()
    assert sorted(job.id for job in sql_store.list_jobs()) == sorted(job.id for job in jobs)
    assert waiting_in_inbox() == []


def test_an_enqueue_whose_move_fails_stores_nothing(sql_store, clock, monkeypatch):
    monkeypatch.setattr(inbox, "MOVE_EVERY", 3)
    sql_store._enqueues_until_move = 3
    waiting = [sql_store.insert(new(), now=clock()) for _ in range(2)]
    fail_on(sql_store, monkeypatch, MOVE_INBOX)

    with pytest.raises(StoreUnavailable):
        sql_store.insert(new(), now=clock())

    assert waiting_in_inbox() == [job.id for job in waiting] and in_jobs_table() == []


def test_enqueues_racing_claims_hand_out_every_job_exactly_once(sql_store, clock):
    enqueuers, per_enqueuer = 3, 40
    total = enqueuers * per_enqueuer
    enqueued: list[str] = []
    claimed: list[str] = []
    enqueuers_done = threading.Semaphore(0)

    def enqueue():
        for _ in range(per_enqueuer):
            enqueued.append(sql_store.insert(new(), now=clock()).id)
        enqueuers_done.release()

    def claim():
        attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
        finished = 0
        while finished < enqueuers or len(claimed) < total:
            if enqueuers_done.acquire(blocking=False):
                finished += 1
            held = sql_store.claim(owner="w", limit=8, now=clock(), lease_seconds=LEASE)
            claimed.extend(job.id for job in held)
            assert all(sql_store.record_results([Completed(job, attempt) for job in held], now=clock()))
            if finished == enqueuers and not held:
                break  # every enqueue is done and nothing is left: a lost job shows below

    errors = run_in_threads(lambda name: claim() if name == "w0" else enqueue(), enqueuers + 1)

    assert errors == []
    assert sorted(claimed) == sorted(enqueued) and len(set(claimed)) == total
    assert sql_store.count_by_type_and_status() == {("noop", "completed"): total}


def test_upgrading_the_inbox_and_back_moves_the_jobs_waiting_in_it_into_the_jobs_table(tmp_path):
    """Migration 0007 narrows ``jobs_inbox`` to a new job's own columns: a job waiting in
    the wide inbox at the upgrade, and one waiting in the narrow inbox at a downgrade, is
    moved into ``jobs_job`` with every field it had, not dropped with the table."""
    script = textwrap.dedent(
        """
        import json
        import django
        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from jobs import enqueue, services
        call_command("migrate", "jobs", "0006", verbosity=0)
        with connection.cursor() as cursor:  # a job left in the inbox of 0004 to 0006
            cursor.execute(
                "INSERT INTO jobs_inbox (id, type, payload, status, retry_count, max_retries, priority, run_at, "
                "attempts, attempt_count, has_error, created_at, updated_at, cancel_requested, queue, schedule) "
                "VALUES ('6b0da0656fcb000000000001', 'noop', '{\\"n\\": 1}', 'pending', 0, 2, 5, "
                "'2026-01-01 00:00:00', '[]', 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0, 'mail', 'nightly')"
            )
        call_command("migrate", verbosity=0)
        upgraded = services.get_job("6b0da0656fcb000000000001")
        waiting = enqueue("noop", {"n": 2})
        call_command("migrate", "jobs", "0004", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, status, payload FROM jobs_job ORDER BY created_at")
            downgraded = cursor.fetchall()
            cursor.execute("SELECT COUNT(*) FROM jobs_inbox")
            (left,) = cursor.fetchone()
        call_command("migrate", verbosity=0)
        print(json.dumps({
            "upgraded": [upgraded.status, upgraded.payload, upgraded.max_retries, upgraded.priority,
                         upgraded.queue, upgraded.schedule, upgraded.created_at.isoformat()],
            "waiting": waiting.id,
            "downgraded": downgraded,
            "left": left,
            "listed": [job.id for job in services.list_jobs()],
        }))
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "jobqueue.settings", "JOBQUEUE_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env.pop("MONGODB_URI", None)
    env["JOBQUEUE_DEMO_HANDLERS"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    old_id, new_id = "6b0da0656fcb000000000001", seen["waiting"]
    assert seen["upgraded"] == ["pending", {"n": 1}, 2, 5, "mail", "nightly", "2026-01-01T00:00:00+00:00"]
    assert seen["downgraded"] == [[old_id, "pending", '{"n": 1}'], [new_id, "pending", '{"n": 2}']]
    assert seen["left"] == 0
    assert seen["listed"] == [new_id, old_id]
