"""Handlers' results, progress reports and cancelling a running job, through a real pool
on every store. Time is a fake clock; waits are on events."""

import threading
from datetime import timedelta

import pytest

from jobs import services
from jobs.domain import Outcome, Status
from jobs.handlers import Cancelled
from jobs.results import Cancelled as CancelledResult
from jobs.retry import RetryStrategy
from jobs.worker.execution import MAX_RESULT_BYTES
from tests.roundtrip_support import counting
from tests.worker_support import LEASE, PoolThread, make_pool, run_pool, wait_until


class Running:
    """A handler that reports progress if told, then waits until cancelled or released."""

    def __init__(self, *, progress=(), on_cancel="raise"):
        self.progress = progress
        self.on_cancel = on_cancel
        self.started = threading.Event()
        self.reported = threading.Event()
        self.release = threading.Event()
        self.saw_cancel = threading.Event()

    def __call__(self, payload, context):
        for fraction, message in self.progress:
            context.progress(fraction, message)
        self.reported.set()
        self.started.set()
        while not self.release.is_set():
            if context.cancelled.wait(0.01):
                self.saw_cancel.set()
                if self.on_cancel == "raise":
                    raise Cancelled("stopping as asked")
                return {"partial": True}
        return None


@pytest.fixture
def running_pool(store, clock):
    pools = []

    def start(**options):
        pool = make_pool(store, clock, run_until_idle=False, renew_interval=3600, reap_interval=3600, **options)
        pools.append(PoolThread(pool).start())
        return pool

    yield start
    for thread in pools:
        thread.stop()


# --- results ---------------------------------------------------------------------------


def test_the_echo_handler_keeps_its_payload_as_the_result(store, clock):
    job = services.enqueue("echo", {"greeting": "hi", "n": [1, 2]}, clock=clock)

    run_pool(make_pool(store, clock))

    done = store.get(job.id)
    assert done.status == Status.COMPLETED and done.result == {"greeting": "hi", "n": [1, 2]}


@pytest.mark.parametrize(
    ("value", "message"),
    [({"when": object()}, "not JSON"), ("x" * (MAX_RESULT_BYTES + 1), f"the limit is {MAX_RESULT_BYTES}")],
    ids=["not-json", "too-large"],
)
def test_a_result_that_cannot_be_kept_is_a_failed_attempt_retried_like_any(store, clock, test_handlers, value, message):
    test_handlers.add("test-returns", lambda payload, context: value)
    job = services.enqueue("test-returns", max_retries=1, clock=clock)

    run_pool(make_pool(store, clock))

    failed = store.get(job.id)
    assert failed.status == Status.FAILED and failed.result is None
    assert [attempt.outcome for attempt in failed.attempts] == [Outcome.FAILED, Outcome.FAILED]
    assert "InvalidResult" in failed.last_error and message in failed.last_error


# --- progress --------------------------------------------------------------------------


def test_progress_is_written_with_the_next_renewal_and_costs_no_round_trip_of_its_own(
    store, clock, test_handlers, running_pool
):
    handler = test_handlers.add("test-progress", Running(progress=[(0.1, "first"), (0.4, "resized 40 of 100")]))
    job = services.enqueue("test-progress", clock=clock)
    pool = running_pool()
    assert handler.reported.wait(10)
    assert store.get(job.id).progress is None  # nothing written by the reports themselves

    pool.renew_leases()

    progress = store.get(job.id).progress
    assert progress["fraction"] == 0.4 and progress["message"] == "resized 40 of 100"
    assert progress["updatedAt"].endswith("Z")
    handler.release.set()
    wait_until(lambda: store.get(job.id).status == Status.COMPLETED, what="the job to complete")


def test_a_renewal_with_progress_costs_what_one_without_does(store, clock):
    for _ in range(3):
        services.enqueue("noop", clock=clock)
    held = store.claim(owner="w", limit=3, now=clock(), lease_seconds=LEASE)
    with counting(store, skip_unmeasured=False) as plain:
        store.renew(held, now=clock(), lease_seconds=LEASE)

    reports = {job.id: {"fraction": 0.5, "message": job.id, "updatedAt": "2026-01-01T00:00:00.000Z"} for job in held}
    with counting(store, skip_unmeasured=False) as with_progress:
        renewal = store.renew(held, now=clock(), lease_seconds=LEASE, progress=reports)

    assert plain is None or with_progress.by_kind() == plain.by_kind()
    assert renewal.kept == {job.id for job in held}
    assert all(store.get(job.id).progress == reports[job.id] for job in held)


def test_a_progress_fraction_outside_zero_to_one_is_refused(store, clock, test_handlers):
    seen = []

    def reports_badly(payload, context):
        for bad in (-0.1, 1.5, "half", True):
            with pytest.raises(ValueError):
                context.progress(bad)
            seen.append(bad)

    test_handlers.add("test-bad-progress", reports_badly)
    job = services.enqueue("test-bad-progress", clock=clock)

    run_pool(make_pool(store, clock))

    assert len(seen) == 4 and store.get(job.id).progress is None


# --- cancelling a running job ----------------------------------------------------------


@pytest.mark.parametrize("on_cancel", ["raise", "return"])
def test_a_running_job_cancelled_stops_within_one_renewal_and_ends_cancelled(
    store, clock, test_handlers, running_pool, on_cancel
):
    handler = test_handlers.add("test-cancellable", Running(on_cancel=on_cancel))
    job = services.enqueue("test-cancellable", max_retries=3, clock=clock)
    pool = running_pool()
    assert handler.started.wait(10)

    asked = services.cancel_job_request(job.id, clock=clock)

    assert asked.status == Status.PROCESSING and asked.cancel_requested
    assert not handler.saw_cancel.is_set()  # told at the next renewal, not before
    pool.renew_leases()
    assert handler.saw_cancel.wait(10)
    wait_until(lambda: store.get(job.id).status == Status.CANCELLED, what="the job to end cancelled")
    done = store.get(job.id)
    assert done.retry_count == 0 and not done.cancel_requested and done.result is None
    assert [attempt.outcome for attempt in done.attempts] == [Outcome.CANCELLED]
    wait_until(lambda: pool.recorded[CancelledResult] == 1, what="the result to be counted")


def test_the_sleep_demo_reports_progress_and_stops_when_cancelled(store, clock, running_pool):
    job = services.enqueue("sleep", {"seconds": 600}, clock=clock)
    pool = running_pool()
    wait_until(lambda: store.get(job.id).status == Status.PROCESSING, what="the job to start")

    def progress_written():
        pool.renew_leases()
        return store.get(job.id).progress

    progress = wait_until(progress_written, what="a progress report (one a second)")
    assert 0 < progress["fraction"] < 1 and progress["message"].startswith("slept ")
    services.cancel_job_request(job.id, clock=clock)
    pool.renew_leases()

    wait_until(lambda: store.get(job.id).status == Status.CANCELLED, what="the sleep to stop")
    assert "Cancelled" in store.get(job.id).attempts[-1].error


def test_the_reaper_ends_a_cancel_requested_job_of_a_lost_worker_cancelled(store, clock):
    job = services.enqueue("noop", max_retries=3, clock=clock)
    store.claim(owner="lost", limit=1, now=clock(), lease_seconds=LEASE)
    services.cancel_job_request(job.id, clock=clock)
    clock.advance(LEASE + 1)

    assert store.reap(now=clock(), retry_strategy=RetryStrategy(base_delay=0, max_delay=0)) == 1

    reaped = store.get(job.id)
    assert reaped.status == Status.CANCELLED and reaped.retry_count == 0 and not reaped.cancel_requested
    assert [attempt.outcome for attempt in reaped.attempts] == [Outcome.LEASE_EXPIRED]


def test_a_cancelled_attempt_counts_as_neither_completed_nor_failed(store, clock, test_handlers, running_pool):
    handler = test_handlers.add("test-cancellable", Running())
    job = services.enqueue("test-cancellable", clock=clock)
    pool = running_pool()
    assert handler.started.wait(10)
    services.cancel_job_request(job.id, clock=clock)
    pool.renew_leases()
    wait_until(lambda: store.get(job.id).status == Status.CANCELLED, what="the job to end cancelled")

    buckets = store.throughput(since=clock() - timedelta(hours=1), bucket_seconds=60)

    assert sum(bucket.completed + bucket.failed for bucket in buckets) == 0
