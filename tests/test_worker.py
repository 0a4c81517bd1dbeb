"""The worker pool, in-process, on every store: results, retries, ordering, leases,
timeouts, shutdown and pickup. Time is a fake clock; waits are on events."""

import logging
import threading
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import pytest

from jobs import services
from jobs.domain import ATTEMPT_HISTORY_LIMIT, Attempt, NewJob, Outcome, Status
from jobs.handlers import DoNotRetry
from jobs.results import Completed
from jobs.retry import RetryStrategy
from jobs.timeutil import utc_now
from jobs.worker import ERROR_MAX_CHARS, ERROR_TRACEBACK_LINES, describe_error
from tests.worker_support import (
    LEASE,
    FailingCommits,
    FailingWrites,
    PoolThread,
    claim_limits,
    make_pool,
    run_pool,
    wait_until,
)


@pytest.fixture
def worker_log(caplog):
    """Records of the ``jobs`` loggers, from INFO up."""
    caplog.set_level(logging.INFO, logger="jobs")
    return caplog


def all_jobs(store):
    after = None
    while page := store.list_jobs(limit=500, after=after):
        yield from page
        after = (page[-1].created_at, page[-1].id)


class Gate:
    """A handler that blocks until opened: stands for a job that takes a while."""

    def __init__(self, then=None):
        self.started = threading.Event()
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.calls = 0
        self.then = then

    def __call__(self, payload, context):
        self.calls += 1
        self.started.set()
        try:
            self.opened.wait(30)
        finally:
            self.ended.set()
        if self.then:
            self.then(payload, context)


# --- outcomes --------------------------------------------------------------------------------


def test_jobs_complete_with_one_recorded_attempt(store, clock):
    jobs = [services.enqueue("noop", {"n": n}, clock=clock) for n in range(5)]

    pool = run_pool(make_pool(store, clock))

    for job in jobs:
        done = store.get(job.id)
        assert done.status == Status.COMPLETED
        assert done.retry_count == 0 and done.lease is None and done.finished_at == clock()
        assert len(done.attempts) == 1
        attempt = done.attempts[0]
        assert (attempt.outcome, attempt.worker, attempt.error) == (Outcome.COMPLETED, pool.id, None)
        assert attempt.started_at == attempt.finished_at == clock()
    assert pool.recorded[Completed] == 5


def test_failed_job_is_retried_until_max_retries(store, clock):
    job = services.enqueue("fail", {"message": "the mail server said no"}, max_retries=2, clock=clock)

    run_pool(make_pool(store, clock))

    failed = store.get(job.id)
    assert failed.status == Status.FAILED
    assert failed.retry_count == failed.max_retries == 2
    assert [attempt.outcome for attempt in failed.attempts] == [Outcome.FAILED] * 3
    for attempt in failed.attempts:
        assert attempt.error.startswith("RuntimeError: the mail server said no")
        assert "Traceback" in attempt.error and "jobs/handlers.py" in attempt.error
    assert failed.last_error.startswith("RuntimeError: the mail server said no")


def test_flaky_job_completes_after_its_failures(store, clock):
    job = services.enqueue("flaky", {"failures": 2}, clock=clock)

    run_pool(make_pool(store, clock))

    done = store.get(job.id)
    assert done.status == Status.COMPLETED
    assert done.retry_count == 2
    assert [attempt.outcome for attempt in done.attempts] == [Outcome.FAILED, Outcome.FAILED, Outcome.COMPLETED]
    assert "flaky failure 1 of 2" in done.attempts[0].error


def test_do_not_retry_fails_the_job_at_once(store, clock, test_handlers):
    def refuse(payload, context):
        raise DoNotRetry("the address does not exist")

    test_handlers.add("test-refuse", refuse)
    job = services.enqueue("test-refuse", max_retries=5, clock=clock)

    run_pool(make_pool(store, clock))

    failed = store.get(job.id)
    assert failed.status == Status.FAILED and failed.retry_count == 0
    assert len(failed.attempts) == 1
    assert failed.attempts[0].error.startswith("DoNotRetry: the address does not exist")


def test_a_job_of_an_unknown_type_fails_with_a_clear_error(store, clock):
    job = store.insert(NewJob(type="no-such-type", payload={}, max_retries=0), now=clock())

    run_pool(make_pool(store, clock))

    failed = store.get(job.id)
    assert failed.status == Status.FAILED
    assert "no handler for job type 'no-such-type'" in failed.attempts[0].error


def test_a_handler_may_use_the_job_and_worker_from_its_context(store, clock, test_handlers):
    seen = {}

    def look(payload, context):
        seen.update(job_id=context.job.id, worker=context.worker, stopping=context.stopping.is_set())

    test_handlers.add("test-context", look)
    job = services.enqueue("test-context", clock=clock)
    pool = run_pool(make_pool(store, clock))

    assert seen == {"job_id": job.id, "worker": pool.id, "stopping": False}


# --- backoff, delayed jobs, priorities -------------------------------------------------------


def test_a_failed_attempt_waits_its_backoff_before_the_next_one(store, clock):
    job = services.enqueue("flaky", {"failures": 1}, clock=clock)
    strategy = RetryStrategy(base_delay=10, max_delay=600, random=lambda: 0.5)

    run_pool(make_pool(store, clock, retry_strategy=strategy))
    waiting = store.get(job.id)
    assert waiting.status == Status.PENDING and waiting.retry_count == 1
    assert (waiting.run_at - waiting.attempts[0].finished_at).total_seconds() == 5.0  # 10 * 2^0 * 0.5

    clock.advance(4.999)
    run_pool(make_pool(store, clock, retry_strategy=strategy))
    assert store.get(job.id).status == Status.PENDING

    clock.advance(0.001)
    run_pool(make_pool(store, clock, retry_strategy=strategy))
    assert store.get(job.id).status == Status.COMPLETED


def test_a_delayed_job_never_starts_before_its_run_at(store, clock):
    job = services.enqueue("noop", delay_seconds=60, clock=clock)

    clock.advance(59.999)
    run_pool(make_pool(store, clock))
    assert store.get(job.id).status == Status.PENDING

    clock.advance(0.001)
    run_pool(make_pool(store, clock))
    assert store.get(job.id).status == Status.COMPLETED


def test_higher_priority_jobs_run_first_then_oldest_first(store, clock, test_handlers):
    order = []
    test_handlers.add("test-record", lambda payload, context: order.append(payload["name"]))
    for name, priority in [("a", 0), ("b", 5), ("c", -1), ("d", 5), ("e", 10), ("f", 0)]:
        services.enqueue("test-record", {"name": name}, priority=priority, clock=clock)
        clock.advance(0.001)

    run_pool(make_pool(store, clock, concurrency=1))

    assert order == ["e", "b", "d", "a", "f", "c"]


# --- claiming --------------------------------------------------------------------------------


def test_claims_never_ask_for_more_jobs_than_idle_workers(store, clock):
    jobs = [services.enqueue("noop", clock=clock) for _ in range(25)]
    with claim_limits(store) as limits:
        pool = run_pool(make_pool(store, clock, concurrency=3))

    assert all(1 <= limit <= 3 for limit in limits)
    assert pool.recorded[Completed] == 25
    assert {store.get(job.id).status for job in jobs} == {Status.COMPLETED}


def test_max_jobs_stops_after_that_many(store, clock):
    jobs = [services.enqueue("noop", clock=clock) for _ in range(5)]

    pool = run_pool(make_pool(store, clock, run_until_idle=False, max_jobs=3, concurrency=2))

    statuses = Counter(store.get(job.id).status for job in jobs)
    assert statuses == {Status.COMPLETED: 3, Status.PENDING: 2}
    assert pool.recorded[Completed] == 3


#: mongomock scans its whole collection on every claim, so its variant takes a smaller
#: batch (the contention of sixteen threads is the same); real servers take the full one.
JOBS_FOR_TWO_POOLS = {"mongomock": 400}


def test_sixteen_threads_in_two_pools_run_every_job_exactly_once(request, store, clock, test_handlers):
    job_count = JOBS_FOR_TWO_POOLS.get(request.node.callspec.params["store"], 2000)
    calls = Counter()
    lock = threading.Lock()

    def count(payload, context):
        with lock:
            calls[context.job.id] += 1

    test_handlers.add("test-count", count)
    jobs = store.insert_many([NewJob(type="test-count", payload={}, max_retries=3)] * job_count, now=clock())

    pools = [PoolThread(make_pool(store, clock, concurrency=8)).start() for _ in range(2)]
    for pool in pools:
        pool.join(300)  # a guard against a hang, not a speed check

    assert len(calls) == job_count and set(calls.values()) == {1}
    assert sum(pool.pool.recorded[Completed] for pool in pools) == job_count
    for job in all_jobs(store):
        assert job.status == Status.COMPLETED
        assert [attempt.outcome for attempt in job.attempts] == [Outcome.COMPLETED]
    counts = store.count_by_type_and_status()
    assert counts == {("test-count", "completed"): job_count}
    assert {job.id for job in jobs} == set(calls)


# --- results are never dropped --------------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 5])
def test_a_result_whose_writes_fail_is_kept_and_written_once_the_store_takes_it(store, clock, failures):
    job = services.enqueue("noop", max_retries=0, clock=clock)
    flaky = FailingWrites(store, failures=failures)

    pool = run_pool(make_pool(flaky, clock))

    done = store.get(job.id)
    assert done.status == Status.COMPLETED and done.lease is None
    assert [attempt.outcome for attempt in done.attempts] == [Outcome.COMPLETED]
    assert flaky.calls == failures + 1 and pool.recorded[Completed] == 1


def test_a_turn_whose_transaction_fails_runs_none_of_its_claims_and_writes_its_results_once_later(
    store, clock, test_handlers
):
    if store.one_transaction() is None:
        pytest.skip("this store records results and claims in separate calls")
    runs = Counter()
    test_handlers.add("test-count", lambda payload, context: runs.update([payload["n"]]))
    jobs = [services.enqueue("test-count", {"n": n}, max_retries=0, clock=clock) for n in range(3)]
    flaky = FailingCommits(store, failures=1)

    pool = run_pool(make_pool(flaky, clock, concurrency=1))

    assert flaky.failures_left == 0  # a turn that wrote a result and claimed was rolled back
    assert runs == Counter({0: 1, 1: 1, 2: 1})  # the rolled-back claim was not run
    for job in jobs:
        stored = store.get(job.id)
        assert stored.status == Status.COMPLETED and stored.attempt_count == 1
    assert pool.recorded[Completed] == 3 and pool.lost == 0


def test_results_kept_during_a_drain_are_written_before_the_pool_stops(store, clock, test_handlers):
    gate = test_handlers.add("test-gate", Gate())
    job = services.enqueue("test-gate", max_retries=0, clock=clock)
    flaky = FailingWrites(store, failures=3)
    pool = make_pool(flaky, clock, run_until_idle=False)
    running = PoolThread(pool).start()
    assert gate.started.wait(10)

    pool.stop()
    gate.opened.set()
    running.join()

    assert store.get(job.id).status == Status.COMPLETED and flaky.calls == 4


def test_a_failed_write_is_retried_while_the_lease_holds_and_given_up_once_it_lapsed(store, clock):
    job = services.enqueue("noop", max_retries=0, clock=clock)
    flaky = FailingWrites(store, failures=10**6)
    pool = make_pool(flaky, clock)
    assert pool.dispatcher.claim_jobs(1) == 1
    [held] = pool.holdings.held_jobs()
    done = Attempt(started_at=clock(), finished_at=clock(), worker=pool.id, outcome=Outcome.COMPLETED)
    assert pool.holdings.hand_back(held, Completed(held, done))

    with pytest.raises(OSError):
        pool.recorder.write()
    assert pool.holdings.awaiting_write == 1  # kept: the lease still holds

    clock.advance(LEASE + 1)  # no renewal got through either
    with pytest.raises(OSError):
        pool.recorder.write()
    assert pool.holdings.awaiting_write == 0 and pool.recorder.given_up == 1
    assert store.get(job.id).status == Status.PROCESSING  # the reaper's now


def test_the_pools_own_reaper_never_takes_a_job_the_pool_still_holds(store, clock, test_handlers):
    gate = test_handlers.add("test-gate", Gate())
    job = services.enqueue("test-gate", max_retries=0, clock=clock)
    pool = make_pool(store, clock, run_until_idle=False, renew_interval=3600, reap_interval=3600)
    running = PoolThread(pool).start()
    try:
        assert gate.started.wait(10)
        clock.advance(LEASE + 1)  # the renewals were late (a store outage): the lease lapsed

        assert pool.reap_expired() == 0

        held = store.get(job.id)
        assert held.status == Status.PROCESSING and held.lease.owner == pool.id
        gate.opened.set()
        wait_until(lambda: store.get(job.id).status == Status.COMPLETED, what="the job to complete")
    finally:
        gate.opened.set()
        running.stop()
    assert [attempt.outcome for attempt in store.get(job.id).attempts] == [Outcome.COMPLETED]


# --- leases and fencing ----------------------------------------------------------------------


@contextmanager
def job_held_running(store, clock, test_handlers, **pool_options):
    """A ``test-gate`` job that a running pool has started and holds at its gate: yields
    (job, pool, gate); afterwards the gate opens and the pool stops."""
    gate = test_handlers.add("test-gate", Gate())
    job = services.enqueue("test-gate", clock=clock)
    pool = make_pool(store, clock, run_until_idle=False, **pool_options)
    running = PoolThread(pool).start()
    try:
        assert gate.started.wait(10)
        yield job, pool, gate
    finally:
        gate.opened.set()
        running.stop()


def test_the_pool_renews_the_leases_of_running_jobs(store, clock, test_handlers):
    with job_held_running(store, clock, test_handlers, renew_interval=3600) as (job, pool, _gate):
        renewed_at = clock.advance(LEASE * 2 / 3)
        assert pool.renew_leases() == 1
        clock.advance(LEASE * 2 / 3)  # past the first lease, within the renewed one

        assert store.reap(now=clock(), retry_strategy=pool.options.retry_strategy) == 0
        assert store.get(job.id).lease.expires_at == renewed_at + timedelta(seconds=LEASE)
    assert store.get(job.id).status == Status.COMPLETED


def test_a_worker_that_lost_its_lease_changes_nothing_and_says_so(store, clock, test_handlers, worker_log):
    with job_held_running(store, clock, test_handlers, renew_interval=3600) as (job, pool, gate):
        clock.advance(LEASE + 1)
        assert store.reap(now=clock(), retry_strategy=RetryStrategy(base_delay=60, random=lambda: 1.0)) == 1
        reaped = store.get(job.id)

        assert pool.renew_leases() == 0
        assert f"lost the lease on job {job.id}" in worker_log.text

        gate.opened.set()
        wait_until(lambda: pool.lost == 1, what="the late result to be refused")

    assert store.get(job.id) == reaped  # the late finish changed nothing
    assert reaped.status == Status.PENDING and reaped.retry_count == 1
    assert [attempt.outcome for attempt in reaped.attempts] == [Outcome.LEASE_EXPIRED]
    refusals = [r for r in worker_log.records if "before recording its result" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING


# --- timeouts --------------------------------------------------------------------------------


def test_a_job_that_outlives_its_timeout_is_recorded_timed_out_and_retried(store, clock, test_handlers):
    stuck = threading.Event()
    abandoned_ended = threading.Event()

    def slow_once(payload, context):
        if context.job.retry_count == 0:
            try:
                stuck.wait(30)  # a handler that hangs; nothing can interrupt it
            finally:
                abandoned_ended.set()

    test_handlers.add("test-slow", slow_once, timeout=0.05)
    job = services.enqueue("test-slow", max_retries=1, clock=clock)

    run_pool(make_pool(store, clock))

    done = store.get(job.id)
    assert done.status == Status.COMPLETED and done.retry_count == 1
    assert [attempt.outcome for attempt in done.attempts] == [Outcome.TIMED_OUT, Outcome.COMPLETED]
    assert done.attempts[0].error.startswith("JobTimedOut: ran longer than the handler's 0.05 s timeout")

    stuck.set()  # the abandoned thread ends late; its result is ignored
    assert abandoned_ended.wait(10)
    assert store.get(job.id) == done


def test_a_job_that_times_out_on_its_last_attempt_fails(store, clock, test_handlers):
    stuck = threading.Event()
    test_handlers.add("test-hang", lambda payload, context: stuck.wait(30), timeout=0.02)
    job = services.enqueue("test-hang", max_retries=0, clock=clock)
    try:
        run_pool(make_pool(store, clock))
    finally:
        stuck.set()

    failed = store.get(job.id)
    assert failed.status == Status.FAILED
    assert [attempt.outcome for attempt in failed.attempts] == [Outcome.TIMED_OUT]


def test_an_exception_within_the_timeout_is_an_ordinary_failure(store, clock, test_handlers):
    def boom(payload, context):
        raise ValueError("bad input")

    test_handlers.add("test-boom", boom, timeout=5)
    job = services.enqueue("test-boom", max_retries=0, clock=clock)

    run_pool(make_pool(store, clock))

    attempt = store.get(job.id).attempts[0]
    assert attempt.outcome == Outcome.FAILED and attempt.error.startswith("ValueError: bad input")


# --- shutdown --------------------------------------------------------------------------------


def test_stopping_lets_running_jobs_finish_within_the_grace_period(store, clock, test_handlers):
    gate = test_handlers.add("test-gate", Gate())
    jobs = [services.enqueue("test-gate", clock=clock)] + [services.enqueue("noop", clock=clock) for _ in range(3)]
    pool = make_pool(store, clock, concurrency=1, run_until_idle=False, grace_period=30)
    running = PoolThread(pool).start()
    assert gate.started.wait(10)

    pool.stop()
    threading.Timer(0.02, gate.opened.set).start()
    running.join()

    assert store.get(jobs[0].id).status == Status.COMPLETED
    # Stopped claiming: the jobs behind it wait for the next pool.
    assert {store.get(job.id).status for job in jobs[1:]} == {Status.PENDING}


def test_jobs_still_running_after_the_grace_period_are_released(store, clock, test_handlers, worker_log):
    gate = test_handlers.add("test-gate", Gate())
    job = services.enqueue("test-gate", max_retries=3, clock=clock)
    pool = make_pool(store, clock, run_until_idle=False, grace_period=0.05)
    running = PoolThread(pool).start()
    assert gate.started.wait(10)

    pool.stop()
    running.join()
    released = store.get(job.id)
    assert released.status == Status.PENDING and released.retry_count == 0 and released.lease is None
    assert released.run_at <= clock()
    assert [attempt.outcome for attempt in released.attempts] == [Outcome.RELEASED]
    assert "released 1 jobs still running" in worker_log.text

    gate.opened.set()  # the handler ends after all: nothing more is written
    assert gate.ended.wait(10)
    assert store.get(job.id) == released


def test_a_stopped_pool_leaves_the_registry(store, clock):
    pool = make_pool(store, run_until_idle=False)
    running = PoolThread(pool).start()
    wait_until(lambda: [p for p in services.live_worker_pools() if p.id == pool.id], what="registration")
    live = next(p for p in services.live_worker_pools() if p.id == pool.id)
    assert live.concurrency == 2

    running.stop()
    assert pool.id not in {p.id for p in services.live_worker_pools()}


def test_heartbeat_reports_running_jobs(store, clock, test_handlers):
    gate = test_handlers.add("test-gate", Gate())
    services.enqueue("test-gate", clock=clock)
    pool = make_pool(store, run_until_idle=False)
    running = PoolThread(pool).start()
    try:
        assert gate.started.wait(10)
        pool.heartbeat()
        live = next(p for p in services.live_worker_pools() if p.id == pool.id)
        assert live.running == 1
    finally:
        gate.opened.set()
        running.stop()


# --- pickup ----------------------------------------------------------------------------------


def signal_when_run(test_handlers) -> threading.Event:
    """Register the ``test-signal`` handler; the returned event is set when a job of it runs."""
    ran = threading.Event()
    test_handlers.add("test-signal", lambda payload, context: ran.set())
    return ran


def insert_as_another_process(store) -> None:
    """A ``test-signal`` job inserted straight into the store: no in-process wake-up."""
    store.insert(NewJob(type="test-signal", payload={}, max_retries=0), now=utc_now())


def test_a_job_enqueued_in_the_same_process_wakes_an_idle_pool(store, test_handlers):
    ran = signal_when_run(test_handlers)
    # A poll interval of a minute: only the in-process wake-up can explain a quick start.
    pool = make_pool(store, run_until_idle=False, poll_interval=60)
    with PoolThread(pool):
        wait_until(lambda: pool.idle, what="the pool to find the queue empty")
        services.enqueue("test-signal")
        assert ran.wait(10)


def test_an_idle_pool_polls_for_jobs_inserted_elsewhere(store, test_handlers):
    ran = signal_when_run(test_handlers)
    pool = make_pool(store, run_until_idle=False, poll_interval=0.02)
    with PoolThread(pool):
        wait_until(lambda: pool.idle, what="the pool to find the queue empty")
        insert_as_another_process(store)
        assert ran.wait(10)


def test_the_reaper_runs_when_a_pool_starts(store, clock, test_handlers):
    job = services.enqueue("noop", clock=clock)
    store.claim(owner="a-worker-that-died", limit=1, now=clock(), lease_seconds=LEASE)
    pool = make_pool(store, clock)
    clock.advance(LEASE + pool.options.max_clock_skew + 1)

    run_pool(pool)

    done = store.get(job.id)
    assert done.status == Status.COMPLETED and done.retry_count == 1
    assert [attempt.outcome for attempt in done.attempts] == [Outcome.LEASE_EXPIRED, Outcome.COMPLETED]
    assert done.attempts[0].worker == "a-worker-that-died"


# --- error text ------------------------------------------------------------------------------


def test_error_text_keeps_the_message_and_the_end_of_a_long_traceback():
    def recurse(depth):
        if depth == 0:
            raise ValueError("x" * 5000)
        recurse(depth - 1)

    try:
        recurse(100)
    except ValueError as error:
        text = describe_error(error)

    assert text.startswith("ValueError: xxx")
    assert len(text) <= ERROR_MAX_CHARS
    _headline, trace = text.split("\n\n", 1)
    assert len(trace.splitlines()) <= ERROR_TRACEBACK_LINES


def test_error_text_of_a_short_traceback_is_complete():
    try:
        raise KeyError("missing")
    except KeyError as error:
        text = describe_error(error)

    assert text.startswith("KeyError: 'missing'\n\nTraceback (most recent call last):")
    assert text.endswith("KeyError: 'missing'")


def test_attempt_history_stays_bounded_for_a_job_retried_many_times(store, clock):
    job = services.enqueue("fail", max_retries=ATTEMPT_HISTORY_LIMIT + 2, clock=clock)

    run_pool(make_pool(store, clock))

    failed = store.get(job.id)
    assert failed.status == Status.FAILED
    assert len(failed.attempts) == ATTEMPT_HISTORY_LIMIT
    assert failed.attempt_count == ATTEMPT_HISTORY_LIMIT + 3


def test_a_pool_with_too_many_abandoned_handlers_stops_to_be_replaced(store, clock, test_handlers):
    stuck = threading.Event()
    test_handlers.add("test-hang", lambda payload, context: stuck.wait(30), timeout=0.01)
    job = services.enqueue("test-hang", max_retries=3, clock=clock)
    strategy = RetryStrategy(base_delay=60, random=lambda: 0.5)  # keep the retry out of this pool's way
    pool = make_pool(
        store, clock, run_until_idle=False, max_abandoned_threads=1, renew_interval=0.01, retry_strategy=strategy
    )
    try:
        PoolThread(pool).start().join(30)  # it stops by itself
    finally:
        stuck.set()

    assert pool.recycle_requested
    retried = store.get(job.id)
    assert retried.status == Status.PENDING and [a.outcome for a in retried.attempts] == [Outcome.TIMED_OUT]


def test_a_store_that_pushes_inserts_wakes_the_pool(store, test_handlers):
    ran = signal_when_run(test_handlers)
    callbacks = []

    def watch_inserts(callback, stop_event):  # stands for a MongoDB change stream
        callbacks.append(callback)
        stop_event.wait()
        return True

    store.watch_inserts = watch_inserts
    pool = make_pool(store, run_until_idle=False, poll_interval=60)
    running = PoolThread(pool).start()
    try:
        wait_until(lambda: callbacks and pool.idle, what="the pool to watch and go idle")
        insert_as_another_process(store)
        callbacks[0]()
        assert ran.wait(10)
    finally:
        running.stop()
        del store.watch_inserts
