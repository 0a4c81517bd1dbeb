"""Retention: durations in settings, and finished jobs past it deleted in bounded batches
(on each store), by the worker pool's lease keeper."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobqueue.env import envduration, parse_duration
from jobs import retention, services
from jobs.domain import Attempt, Outcome, Status
from jobs.results import Completed, Failed
from jobs.retry import RetryStrategy
from jobs.worker import PoolOptions, WorkerPool
from tests.serve_support import manage_check

DAY = 86400


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("7d", 7 * DAY),
        ("12h", 12 * 3600),
        ("30m", 1800),
        ("45s", 45),
        ("3600", 3600),
        ("0", 0),
        (90, 90),
        ("1.5h", 5400),
    ],
)
def test_durations_read_with_or_without_a_unit(raw, seconds):
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "7 days", "-1", "1w", "d", "nan", "1e3", "101000d", True])
def test_bad_durations_are_refused(raw):
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_a_bad_retention_variable_names_itself(monkeypatch):
    monkeypatch.setenv("JOBQUEUE_RETENTION_FAILED", "a month")
    with pytest.raises(ImproperlyConfigured, match="JOBQUEUE_RETENTION_FAILED='a month'"):
        envduration("JOBQUEUE_RETENTION_FAILED", "30d")


def test_the_service_refuses_to_start_with_a_bad_retention(tmp_path):
    result = manage_check(tmp_path, JOBQUEUE_RETENTION_COMPLETED="forever")
    assert result.returncode != 0
    assert "JOBQUEUE_RETENTION_COMPLETED='forever'" in result.stderr


def test_the_defaults_keep_completed_and_cancelled_a_week_and_failed_a_month():
    assert retention.retention_in_force() == {"completed": "7 days", "failed": "30 days", "cancelled": "7 days"}


def test_a_bad_retention_set_in_python_stops_a_pool_at_start(store, settings):
    settings.JOBQUEUE_RETENTION_CANCELLED = "soon"
    with pytest.raises(ImproperlyConfigured, match="JOBQUEUE_RETENTION_CANCELLED"):
        WorkerPool(PoolOptions(concurrency=1), store=store)


def finished_jobs(store, clock, count, *, fail=False):
    """``count`` jobs finished now (completed, or failed)."""
    jobs = [services.enqueue("noop", max_retries=0, clock=clock) for _ in range(count)]
    held = store.claim(owner="w", limit=count, now=clock(), lease_seconds=30)
    done = Attempt(
        started_at=clock(),
        finished_at=clock(),
        worker="w",
        outcome=Outcome.FAILED if fail else Outcome.COMPLETED,
        error="boom" if fail else None,
    )
    results = [Failed(job, done) if fail else Completed(job, done) for job in held]
    assert all(store.record_results(results, now=clock()))
    return jobs


def test_finished_jobs_past_their_retention_are_deleted_and_the_rest_kept(store, clock, settings):
    settings.JOBQUEUE_RETENTION_COMPLETED = "7d"
    settings.JOBQUEUE_RETENTION_FAILED = "30d"
    settings.JOBQUEUE_RETENTION_CANCELLED = 0  # forever
    old_completed = finished_jobs(store, clock, 3)
    old_failed = finished_jobs(store, clock, 2, fail=True)
    old_cancelled = services.cancel_job(services.enqueue("noop", clock=clock).id, clock=clock)
    clock.advance(8 * DAY)
    recent = finished_jobs(store, clock, 1)
    pending = services.enqueue("noop", delay_seconds=DAY, clock=clock)

    assert retention.purge_expired(store=store, clock=clock) == 3

    remaining = {job.id for job in store.list_jobs(limit=100)}
    expected = {job.id for job in old_failed + recent} | {old_cancelled.id, pending.id}
    assert remaining == expected
    assert {old.id for old in old_completed}.isdisjoint(remaining)

    clock.advance(23 * DAY)
    assert retention.purge_expired(store=store, clock=clock) == 3  # the failed ones and the recent one
    assert {job.id for job in store.list_jobs(limit=100)} == {old_cancelled.id, pending.id}


def test_a_purge_run_is_bounded_in_batches(store, clock, settings):
    settings.JOBQUEUE_RETENTION_COMPLETED = "1h"
    finished_jobs(store, clock, 7)
    clock.advance(2 * 3600)

    assert retention.purge_expired(store=store, clock=clock, batch_size=2, max_batches=2) == 4
    assert retention.purge_expired(store=store, clock=clock, batch_size=2, max_batches=2) == 3
    assert store.list_jobs() == []


def test_the_pool_purges_through_its_lease_keeper(store, clock, settings):
    settings.JOBQUEUE_RETENTION_COMPLETED = "30m"
    finished_jobs(store, clock, 2)
    clock.advance(3600)
    kept = finished_jobs(store, clock, 1)
    pool = WorkerPool(PoolOptions(concurrency=1, retry_strategy=RetryStrategy()), store=store, clock=clock)

    assert pool.lease_keeper.purge() == 2
    assert [job.id for job in store.list_jobs()] == [kept[0].id]
    assert store.get(kept[0].id).status == Status.COMPLETED


def test_purging_again_finds_nothing_left_to_delete(store, clock, settings):
    settings.JOBQUEUE_RETENTION_COMPLETED = "1m"
    finished_jobs(store, clock, 30)
    clock.advance(120)
    counts = [retention.purge_expired(store=store, clock=clock, batch_size=7) for _ in range(3)]
    assert counts == [30, 0, 0]
