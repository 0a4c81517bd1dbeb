"""The contract every job store keeps, run on each backend (see conftest's ``store``)."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from jobs.domain import ATTEMPT_HISTORY_LIMIT, Attempt, JobFilter, NewJob, Outcome, PoolInfo, Status
from jobs.results import Completed, Failed, Released, Retried
from jobs.retry import RetryStrategy
from jobs.timeutil import truncate_ms
from tests.results_support import record
from tests.roundtrip_support import counting
from tests.worker_support import run_in_threads

NO_BACKOFF = RetryStrategy(base_delay=0, max_delay=0)
LEASE = 30.0


def new(type="email", payload=None, *, max_retries=3, priority=0, run_at=None):
    return NewJob(
        type=type, payload=payload or {"to": "a@example.com"}, max_retries=max_retries, priority=priority, run_at=run_at
    )


def attempt(clock, outcome=Outcome.COMPLETED, error=None, worker="w1"):
    return Attempt(started_at=clock(), finished_at=clock(), worker=worker, outcome=outcome, error=error)


def claim_one(store, clock, owner="w1"):
    jobs = store.claim(owner=owner, limit=1, now=clock(), lease_seconds=LEASE)
    assert len(jobs) == 1
    return jobs[0]


# --- insert and read ------------------------------------------------------------------------


def test_inserted_job_reads_back_equal_field_for_field(store, clock):
    clock.now = datetime(2026, 2, 2, 5, 30, 0, 123456, tzinfo=UTC)
    created = store.insert(new(payload={"to": "a@example.com", "nested": {"list": [1, 2.5, None, "é"]}}), now=clock())

    assert len(created.id) == 24 and int(created.id, 16) >= 0
    assert created.status == Status.PENDING
    assert created.retry_count == 0 and created.attempt_count == 0 and created.attempts == ()
    assert created.created_at == datetime(2026, 2, 2, 5, 30, 0, 123000, tzinfo=UTC)
    assert created.run_at == created.created_at == created.updated_at
    assert store.get(created.id) == created


def test_get_unknown_id_is_none(store):
    assert store.get("0123456789abcdef01234567") is None


def test_insert_many_stores_every_job_in_order(store, clock):
    jobs = store.insert_many([new(payload={"to": f"{n}@example.com"}) for n in range(5)], now=clock())

    assert [job.payload["to"] for job in jobs] == [f"{n}@example.com" for n in range(5)]
    assert [store.get(job.id) for job in jobs] == jobs


def test_list_is_newest_first_with_filters_and_cursor(store, clock):
    made = []
    for n in range(7):
        made.append(store.insert(new(type="email" if n % 2 else "noop"), now=clock.advance(1)))
    newest_first = list(reversed(made))

    assert store.list_jobs(limit=50) == newest_first
    assert store.list_jobs(limit=3) == newest_first[:3]
    assert [job.id for job in store.list_jobs(JobFilter(type="noop"))] == [
        job.id for job in newest_first if job.type == "noop"
    ]
    assert store.list_jobs(JobFilter(status="completed")) == []

    pages, after = [], None
    while True:
        page = store.list_jobs(limit=3, after=after)
        if not page:
            break
        pages.extend(page)
        after = (page[-1].created_at, page[-1].id)
    assert pages == newest_first


def test_list_before_a_cursor_pages_back_towards_the_newest(store, clock):
    made = [store.insert(new(), now=clock.advance(1)) for _ in range(4)]
    made += [store.insert(new(), now=clock()) for _ in range(3)]  # ties on createdAt
    newest_first = sorted(made, key=lambda job: (job.created_at, job.id), reverse=True)

    pages, before = [], (newest_first[-1].created_at, newest_first[-1].id)
    while page := store.list_jobs(limit=2, before=before):
        pages[:0] = page
        before = (page[0].created_at, page[0].id)

    assert pages == newest_first[:-1]
    last_three = store.list_jobs(limit=3, before=(newest_first[-1].created_at, newest_first[-1].id))
    assert last_three == newest_first[-4:-1]


def test_list_cursor_breaks_created_at_ties_by_id(store, clock):
    same_moment = [store.insert(new(), now=clock()) for _ in range(5)]
    expected = sorted(same_moment, key=lambda job: job.id, reverse=True)

    first = store.list_jobs(limit=2)
    rest = store.list_jobs(limit=10, after=(first[-1].created_at, first[-1].id))

    assert first + rest == expected


def test_list_filters_jobs_with_errors(store, clock):
    ok = store.insert(new(), now=clock())
    broken = store.insert(new(), now=clock())
    for _ in range(2):
        claimed = store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE)[0]
        if claimed.id == broken.id:
            record(store, Retried(claimed, attempt(clock, Outcome.FAILED, "boom"), run_at=clock()), now=clock())
        else:
            record(store, Completed(claimed, attempt(clock)), now=clock())

    assert [job.id for job in store.list_jobs(JobFilter(has_error=True))] == [broken.id]
    assert [job.id for job in store.list_jobs(JobFilter(has_error=False))] == [ok.id]


# --- claim ----------------------------------------------------------------------------------


def test_claim_takes_highest_priority_then_oldest_run_at_then_oldest_id(store, clock):
    low = store.insert(new(priority=0), now=clock())
    high_late = store.insert(new(priority=5, run_at=clock() - timedelta(seconds=1)), now=clock())
    high_early = store.insert(new(priority=5, run_at=clock() - timedelta(seconds=9)), now=clock())
    low_second = store.insert(new(priority=0), now=clock())

    claimed = store.claim(owner="w1", limit=10, now=clock(), lease_seconds=LEASE)

    assert [job.id for job in claimed] == [high_early.id, high_late.id, low.id, low_second.id]


def test_claim_sets_a_lease_and_never_hands_a_job_out_twice(store, clock):
    job = store.insert(new(), now=clock())

    claimed = claim_one(store, clock, owner="host:1")

    assert claimed.id == job.id and claimed.status == Status.PROCESSING
    assert claimed.lease.owner == "host:1" and claimed.lease.token
    assert claimed.lease.expires_at == clock() + timedelta(seconds=LEASE)
    assert claimed.lease.started_at == clock()
    assert store.get(job.id) == claimed
    assert store.claim(owner="w2", limit=5, now=clock(), lease_seconds=LEASE) == []


def test_claim_never_starts_a_job_before_its_run_at(store, clock):
    later = store.insert(new(run_at=clock() + timedelta(seconds=60)), now=clock())

    assert store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE) == []
    clock.advance(59.999)
    assert store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE) == []
    clock.advance(0.001)
    assert [job.id for job in store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE)] == [later.id]


def test_claim_respects_the_limit(store, clock):
    store.insert_many([new() for _ in range(5)], now=clock())

    assert len(store.claim(owner="w", limit=2, now=clock(), lease_seconds=LEASE)) == 2
    assert len(store.claim(owner="w", limit=0, now=clock(), lease_seconds=LEASE)) == 0
    assert len(store.claim(owner="w", limit=9, now=clock(), lease_seconds=LEASE)) == 3


def test_cancelled_jobs_are_never_claimed(store, clock):
    job = store.insert(new(), now=clock())

    assert store.cancel(job.id, now=clock()).status == Status.CANCELLED
    assert store.claim(owner="w", limit=5, now=clock(), lease_seconds=LEASE) == []


# --- finishing, fenced on the lease -------------------------------------------------------------


def test_complete_records_the_attempt_and_clears_the_lease(store, clock):
    store.insert(new(), now=clock())
    held = claim_one(store, clock)
    clock.advance(2)

    done = attempt(clock, worker="w1")
    assert record(store, Completed(held, done), now=clock()) is True

    job = store.get(held.id)
    assert job.status == Status.COMPLETED and job.lease is None
    assert job.finished_at == clock() and job.updated_at == clock()
    assert job.attempts == (done,) and job.attempt_count == 1
    assert job.retry_count == 0 and job.last_error is None


def test_retry_returns_the_job_to_pending_later_with_one_more_retry(store, clock):
    store.insert(new(max_retries=3), now=clock())
    held = claim_one(store, clock)
    later = clock() + timedelta(seconds=8)

    failed = attempt(clock, Outcome.FAILED, "RuntimeError: boom")
    assert record(store, Retried(held, failed, run_at=later), now=clock()) is True

    job = store.get(held.id)
    assert job.status == Status.PENDING and job.retry_count == 1 and job.run_at == later
    assert job.last_error == "RuntimeError: boom" and job.lease is None and job.attempts == (failed,)
    assert store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE) == []


def test_fail_keeps_retry_count_and_last_error(store, clock):
    store.insert(new(max_retries=0), now=clock())
    held = claim_one(store, clock)

    assert record(store, Failed(held, attempt(clock, Outcome.FAILED, "nope")), now=clock()) is True

    job = store.get(held.id)
    assert job.status == Status.FAILED and job.retry_count == 0
    assert job.last_error == "nope" and job.finished_at == clock()


def test_release_returns_the_job_without_counting_a_retry(store, clock):
    store.insert(new(), now=clock())
    held = claim_one(store, clock)

    assert record(store, Released(held, attempt(clock, Outcome.RELEASED)), now=clock()) is True

    job = store.get(held.id)
    assert job.status == Status.PENDING and job.retry_count == 0 and job.run_at == clock()
    assert job.attempts[-1].outcome == Outcome.RELEASED


@pytest.mark.parametrize("kind", [Completed, Retried, Failed, Released])
def test_a_worker_that_lost_its_lease_changes_nothing(store, clock, kind):
    store.insert(new(max_retries=3), now=clock())
    first = claim_one(store, clock, owner="w1")
    clock.advance(LEASE + 1)
    assert store.reap(now=clock(), retry_strategy=NO_BACKOFF) == 1
    second = claim_one(store, clock, owner="w2")
    before = store.get(first.id)

    late = attempt(clock, worker="w1")
    late_result = kind(first, late, run_at=clock()) if kind is Retried else kind(first, late)
    assert record(store, late_result, now=clock()) is False

    assert store.get(first.id) == before
    assert record(store, Completed(second, attempt(clock, worker="w2")), now=clock()) is True


def test_record_results_applies_each_held_result_and_refuses_lost_ones(store, clock):
    store.insert_many([new() for _ in range(3)], now=clock())
    a, b, c = store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)
    stale_c = c
    record(store, Released(c, attempt(clock, Outcome.RELEASED)), now=clock())

    applied = store.record_results(
        [
            Completed(a, attempt(clock)),
            Retried(b, attempt(clock, Outcome.FAILED, "x"), run_at=clock()),
            Completed(stale_c, attempt(clock)),
        ],
        now=clock(),
    )

    assert applied == [True, True, False]
    assert store.get(a.id).status == Status.COMPLETED
    assert store.get(b.id).status == Status.PENDING and store.get(b.id).retry_count == 1
    assert store.get(c.id).status == Status.PENDING and store.get(c.id).retry_count == 0


def test_record_results_writes_every_kind_in_one_call(store, clock):
    store.insert_many([new(max_retries=3) for _ in range(4)], now=clock())
    done, retried, failed, released = store.claim(owner="w", limit=4, now=clock(), lease_seconds=LEASE)
    later = clock() + timedelta(seconds=5)
    clock.advance(1)

    applied = store.record_results(
        [
            Completed(done, attempt(clock)),
            Retried(retried, attempt(clock, Outcome.FAILED, "boom"), run_at=later),
            Failed(failed, attempt(clock, Outcome.FAILED, "nope")),
            Released(released, attempt(clock, Outcome.RELEASED)),
        ],
        now=clock(),
    )

    assert applied == [True, True, True, True]
    statuses = {
        job.id: (job.status, job.retry_count, job.last_error)
        for job in map(store.get, [done.id, retried.id, failed.id, released.id])
    }
    assert statuses == {
        done.id: (Status.COMPLETED, 0, None),
        retried.id: (Status.PENDING, 1, "boom"),
        failed.id: (Status.FAILED, 0, "nope"),
        released.id: (Status.PENDING, 0, None),
    }
    assert store.get(retried.id).run_at == later and store.get(released.id).run_at == clock()
    assert all(store.get(job.id).lease is None for job in (done, retried, failed, released))


def test_record_results_of_nothing_writes_nothing(store, clock):
    assert store.record_results([], now=clock()) == []


def test_completing_a_job_that_failed_before_clears_its_last_error(store, clock):
    job = store.insert(new(max_retries=1), now=clock())
    failing = claim_one(store, clock)
    assert record(store, Retried(failing, attempt(clock, Outcome.FAILED, "boom"), run_at=clock()), now=clock())
    assert store.get(job.id).last_error == "boom"

    succeeding = claim_one(store, clock)
    assert record(store, Completed(succeeding, attempt(clock)), now=clock())

    completed = store.get(job.id)
    assert completed.status == Status.COMPLETED and completed.last_error is None
    assert [a.outcome for a in completed.attempts] == [Outcome.FAILED, Outcome.COMPLETED]
    assert completed.attempts[0].error == "boom"  # the history keeps it
    assert [found.id for found in store.list_jobs(JobFilter(has_error=True))] == []
    assert [found.id for found in store.list_jobs(JobFilter(has_error=False))] == [job.id]


def test_a_released_job_keeps_the_error_of_its_last_failed_attempt(store, clock):
    job = store.insert(new(max_retries=2), now=clock())
    failing = claim_one(store, clock)
    record(store, Retried(failing, attempt(clock, Outcome.FAILED, "boom"), run_at=clock()), now=clock())

    running = claim_one(store, clock)
    assert record(store, Released(running, attempt(clock, Outcome.RELEASED)), now=clock())

    assert store.get(job.id).last_error == "boom"
    assert [found.id for found in store.list_jobs(JobFilter(has_error=True))] == [job.id]


def test_the_reapers_write_refuses_a_lease_renewed_since_its_read(store, clock):
    store.insert(new(), now=clock())
    held = claim_one(store, clock)
    clock.advance(LEASE + 1)
    assert store.renew([held], now=clock(), lease_seconds=LEASE).kept == {held.id}  # the worker came back
    before = store.get(held.id)

    lost = attempt(clock, Outcome.LEASE_EXPIRED, "lease expired")
    assert store.record_results([Retried(held, lost, run_at=clock())], now=clock(), expired_before=clock()) == [False]

    assert store.get(held.id) == before
    assert record(store, Completed(held, attempt(clock)), now=clock())  # its holder still can


def test_attempt_history_is_bounded_but_counted(store, clock):
    store.insert(new(max_retries=ATTEMPT_HISTORY_LIMIT + 5), now=clock())
    total = ATTEMPT_HISTORY_LIMIT + 3
    for n in range(total):
        held = claim_one(store, clock)
        record(store, Retried(held, attempt(clock, Outcome.FAILED, f"error {n}"), run_at=clock()), now=clock())

    job = store.get(held.id)
    assert job.attempt_count == total and len(job.attempts) == ATTEMPT_HISTORY_LIMIT
    assert job.attempts[-1].error == f"error {total - 1}" and job.attempts[0].error == "error 3"


# --- leases and the reaper -------------------------------------------------------------------


def test_renew_extends_held_leases_and_reports_lost_ones(store, clock):
    store.insert_many([new(), new()], now=clock())
    kept, lost = store.claim(owner="w", limit=2, now=clock(), lease_seconds=LEASE)
    record(store, Released(lost, attempt(clock, Outcome.RELEASED)), now=clock())
    clock.advance(20)

    assert store.renew([kept, lost], now=clock(), lease_seconds=LEASE).kept == {kept.id}
    assert store.get(kept.id).lease.expires_at == clock() + timedelta(seconds=LEASE)
    assert store.renew([], now=clock(), lease_seconds=LEASE).kept == set()


def test_reaper_returns_expired_jobs_to_pending_with_a_lost_attempt(store, clock):
    job = store.insert(new(max_retries=2), now=clock())
    held = claim_one(store, clock, owner="dead-worker")
    clock.advance(LEASE - 1)
    assert store.reap(now=clock(), retry_strategy=NO_BACKOFF) == 0
    clock.advance(2)

    assert store.reap(now=clock(), retry_strategy=RetryStrategy(base_delay=10, random=lambda: 1.0)) == 1

    reaped = store.get(job.id)
    assert reaped.status == Status.PENDING and reaped.retry_count == 1 and reaped.lease is None
    assert reaped.run_at == clock() + timedelta(seconds=10)
    lost = reaped.attempts[-1]
    assert lost.outcome == "lease expired (worker lost)" and lost.worker == "dead-worker"
    assert lost.started_at == held.lease.started_at and lost.finished_at == clock()
    assert reaped.last_error == "lease expired (worker lost)"


def test_reaper_fails_an_expired_job_whose_retries_are_spent(store, clock):
    job = store.insert(new(max_retries=0), now=clock())
    claim_one(store, clock)
    clock.advance(LEASE + 1)

    assert store.reap(now=clock(), retry_strategy=NO_BACKOFF) == 1

    reaped = store.get(job.id)
    assert reaped.status == Status.FAILED and reaped.retry_count == 0 and reaped.finished_at == clock()


def test_two_reapers_at_once_reap_each_job_once(store, clock):
    store.insert_many([new() for _ in range(20)], now=clock())
    store.claim(owner="w", limit=20, now=clock(), lease_seconds=LEASE)
    clock.advance(LEASE + 1)
    totals = []
    start = threading.Barrier(2)

    def reaper():
        start.wait()
        try:
            totals.append(store.reap(now=clock(), retry_strategy=NO_BACKOFF))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reaper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(totals) == 20
    assert all(job.retry_count == 1 and job.attempt_count == 1 for job in store.list_jobs(limit=50))


# --- operator actions -------------------------------------------------------------------------


def test_cancel_only_applies_to_pending_jobs(store, clock):
    pending = store.insert(new(), now=clock())
    cancelled = store.cancel(pending.id, now=clock())
    assert cancelled.status == Status.CANCELLED and cancelled.finished_at == clock()
    assert store.cancel(pending.id, now=clock()) is None

    store.insert(new(), now=clock())
    held = claim_one(store, clock)
    assert store.cancel(held.id, now=clock()) is None
    assert store.get(held.id).status == Status.PROCESSING


def test_retry_now_gives_a_failed_job_one_more_attempt_and_keeps_history(store, clock):
    store.insert(new(max_retries=0), now=clock())
    held = claim_one(store, clock)
    record(store, Failed(held, attempt(clock, Outcome.FAILED, "boom")), now=clock())
    clock.advance(5)

    retried = store.retry_now(held.id, now=clock())

    assert retried.status == Status.PENDING and retried.run_at == clock() and retried.finished_at is None
    assert retried.retry_count == 1 and retried.max_retries == 1
    assert retried.attempt_count == 1 and retried.last_error == "boom"
    assert [job.id for job in store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE)] == [held.id]


def test_retry_now_makes_a_delayed_job_due_and_refuses_other_states(store, clock):
    delayed = store.insert(new(run_at=clock() + timedelta(hours=1)), now=clock())
    assert store.retry_now(delayed.id, now=clock()).run_at == clock()

    completed_job = claim_one(store, clock)
    record(store, Completed(completed_job, attempt(clock)), now=clock())
    assert store.retry_now(completed_job.id, now=clock()) is None
    assert store.get(completed_job.id).status == Status.COMPLETED


def test_retry_now_leaves_a_due_pending_job_in_its_place(store, clock):
    due = store.insert(new(), now=clock())
    clock.advance(10)

    assert store.retry_now(due.id, now=clock()).run_at == due.run_at


def test_retry_failed_retries_every_failed_job_of_one_type(store, clock):
    store.insert_many([new("email", max_retries=0)] * 3 + [new("noop", max_retries=0)], now=clock())
    for held in store.claim(owner="w", limit=4, now=clock(), lease_seconds=LEASE):
        record(store, Failed(held, attempt(clock, Outcome.FAILED, "x")), now=clock())

    assert store.retry_failed(type="email", now=clock()) == 3

    counts = store.count_by_type_and_status()
    assert counts[("email", "pending")] == 3 and counts[("noop", "failed")] == 1


def test_delete_finished_removes_only_old_finished_jobs(store, clock):
    old_done, old_pending = store.insert_many([new(), new(priority=-1)], now=clock())
    record(store, Completed(claim_one(store, clock), attempt(clock)), now=clock())
    clock.advance(3 * 86400)
    recent = store.insert(new(), now=clock())
    store.cancel(recent.id, now=clock())

    assert store.delete_finished(finished_before=clock() - timedelta(days=1)) == 1

    assert store.get(old_done.id) is None
    assert store.get(old_pending.id) is not None and store.get(recent.id) is not None


# --- statistics --------------------------------------------------------------------------------


def test_counts_per_type_and_status(store, clock):
    store.insert_many([new("email")] * 3 + [new("noop")] * 2, now=clock())
    claim_one(store, clock)  # an email job: the oldest, highest id among equals comes later

    counts = store.count_by_type_and_status()

    assert sum(counts.values()) == 5
    assert counts.get(("email", "processing"), 0) + counts.get(("noop", "processing"), 0) == 1
    assert counts.get(("email", "pending"), 0) + counts.get(("email", "processing"), 0) == 3


def test_oldest_due_pending_and_delayed_count(store, clock):
    assert store.oldest_due_pending(now=clock()) is None
    first_due = clock() - timedelta(seconds=30)
    store.insert(new(run_at=first_due), now=clock())
    store.insert(new(), now=clock())
    store.insert_many([new(run_at=clock() + timedelta(minutes=5))] * 2, now=clock())

    assert store.oldest_due_pending(now=clock()) == first_due
    assert store.count_delayed(now=clock()) == 2


def march_1(hour: int, minute: int, second: int = 0) -> datetime:
    """A time on the day the throughput tests run (UTC)."""
    return datetime(2026, 3, 1, hour, minute, second, tzinfo=UTC)


def throughput_rows(store, *, since: datetime, bucket_seconds: int) -> list[tuple]:
    """(start, completed, failed) of each bucket ``store.throughput`` returns."""
    return [(b.start, b.completed, b.failed) for b in store.throughput(since=since, bucket_seconds=bucket_seconds)]


def test_throughput_counts_finished_jobs_per_bucket(store, clock):
    clock.now = march_1(12, 0, 10)
    store.insert_many([new(max_retries=0) for _ in range(4)], now=clock())
    a, b, c, _still_running = store.claim(owner="w", limit=4, now=clock(), lease_seconds=LEASE)
    record(store, Completed(a, attempt(clock)), now=clock())
    record(store, Failed(b, attempt(clock, Outcome.FAILED, "x")), now=clock())
    clock.advance(60)
    record(store, Completed(c, attempt(clock)), now=clock())

    assert throughput_rows(store, since=march_1(11, 0), bucket_seconds=60) == [
        (march_1(12, 0), 1, 1),
        (march_1(12, 1), 1, 0),
    ]
    assert throughput_rows(store, since=march_1(11, 0), bucket_seconds=3600) == [(march_1(12, 0), 2, 1)]


def test_throughput_counts_each_attempt_at_its_own_finish_even_after_a_retry(store, clock):
    clock.now = march_1(12, 0, 10)
    store.insert_many([new(max_retries=3), new(max_retries=3)], now=clock())
    flaky, released = store.claim(owner="w", limit=2, now=clock(), lease_seconds=LEASE)
    record(store, Retried(flaky, attempt(clock, Outcome.FAILED, "boom"), run_at=clock()), now=clock())
    record(store, Released(released, attempt(clock, Outcome.RELEASED)), now=clock())  # shutdown: no result
    clock.advance(60)
    [flaky_again, released_again] = store.claim(owner="w", limit=2, now=clock(), lease_seconds=LEASE)
    record(store, Completed(flaky_again, attempt(clock)), now=clock())
    record(store, Retried(released_again, attempt(clock, Outcome.TIMED_OUT, "slow"), run_at=clock()), now=clock())

    # The first minute keeps its failure although that job completed in the second one.
    assert throughput_rows(store, since=march_1(11, 0), bucket_seconds=60) == [
        (march_1(12, 0), 0, 1),
        (march_1(12, 1), 1, 1),
    ]
    assert throughput_rows(store, since=march_1(12, 1), bucket_seconds=60) == [(march_1(12, 1), 1, 1)]


def test_throughput_puts_a_finish_late_in_a_minute_in_that_minute_not_the_next(store, clock):
    # PostgreSQL's epoch seconds are fractional: rounded to a whole second, a job finished
    # at 12:00:59.700 fell in the 12:01 bucket, which the dashboard did not draw yet.
    late_in_the_minute = timedelta(seconds=59, milliseconds=700)
    clock.now = march_1(12, 0) + late_in_the_minute
    store.insert_many([new(max_retries=3), new(max_retries=0)], now=clock())
    flaky, done = store.claim(owner="w", limit=2, now=clock(), lease_seconds=LEASE)
    record(store, Retried(flaky, attempt(clock, Outcome.FAILED, "boom"), run_at=clock()), now=clock())
    record(store, Completed(done, attempt(clock)), now=clock())
    clock.now = march_1(12, 1) + late_in_the_minute
    [flaky_again] = store.claim(owner="w", limit=1, now=clock(), lease_seconds=LEASE)
    record(store, Completed(flaky_again, attempt(clock)), now=clock())

    assert throughput_rows(store, since=march_1(11, 0), bucket_seconds=60) == [
        (march_1(12, 0), 1, 1),
        (march_1(12, 1), 1, 0),
    ]


# --- worker-pool registry -----------------------------------------------------------------------


def test_worker_pools_register_heartbeat_and_drop_off(store, clock):
    started = truncate_ms(clock())
    pool = PoolInfo(
        id="host:1:a", host="host", pid=1, concurrency=4, running=0, started_at=started, heartbeat_at=started
    )
    store.register_pool(pool)
    clock.advance(10)
    store.heartbeat_pool(pool.id, running=3, now=clock())

    [live] = store.live_pools(heartbeat_since=clock() - timedelta(seconds=LEASE))
    assert live.running == 3 and live.heartbeat_at == clock() and live.concurrency == 4 and live.pid == 1
    assert store.live_pools(heartbeat_since=clock() + timedelta(seconds=1)) == []

    store.unregister_pool(pool.id)
    assert store.live_pools(heartbeat_since=started - timedelta(days=1)) == []


# --- concurrency ----------------------------------------------------------------------------------


def test_eight_threads_claim_a_thousand_jobs_without_sharing_or_losing_any(store, clock):
    total = 1000
    store.insert_many([new("noop", {"n": n}) for n in range(total)], now=clock())
    claims: Counter[str] = Counter()
    claims_lock = threading.Lock()

    def worker(name):
        while True:
            batch = store.claim(owner=name, limit=7, now=clock(), lease_seconds=LEASE)
            if not batch:
                return
            with claims_lock:
                claims.update(job.id for job in batch)
            results = [Completed(job, attempt(clock, worker=name)) for job in batch]
            assert all(store.record_results(results, now=clock()))

    errors = run_in_threads(worker, 8, timeout=None)

    assert errors == []
    assert len(claims) == total and set(claims.values()) == {1}
    counts = store.count_by_type_and_status()
    assert counts == {("noop", "completed"): total}
    assert all(job.attempt_count == 1 for job in store.list_jobs(limit=500))


# What the first claim after a one-by-one insert adds on SQLite (the SQL store on
# PostgreSQL has no inbox), where that insert went into the inbox: the check, then BEGIN,
# the move, the inbox emptied, COMMIT (statements in-process, not round trips over a
# network; the move serves every job in the inbox).
INBOX_STATEMENTS = 5


def test_a_job_costs_three_round_trips_from_insert_to_completed(store, clock):
    with counting(store) as sent:
        store.insert(new(), now=clock())
        held = claim_one(store, clock)
        record(store, Completed(held, attempt(clock)), now=clock())

    inbox = INBOX_STATEMENTS if store.kind == "sql" and connections[store.using].vendor == "sqlite" else 0
    assert sent.total() == 3 + inbox  # one insert, one claim, one fenced update
