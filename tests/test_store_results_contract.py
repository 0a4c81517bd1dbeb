"""Store contract for results and the metrics read: the same on every backend."""

import pytest

from jobs import services
from jobs.models import Attempt, NewJob, Outcome
from jobs.stores import JobResult


def finished_job(store, clock, *, failed=False):
    [job] = store.insert_many([NewJob(type="noop", payload={}, max_retries=0)], now=clock())
    [claimed] = store.claim(owner="w", limit=1, now=clock(), lease_seconds=60)
    clock.advance(1)
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
    store.finish_many([JobResult("fail" if failed else "complete", claimed, attempt)], now=clock())
    return job.id


def test_record_result_keeps_a_json_value_that_get_returns(store):
    job = services.enqueue("noop")
    assert store.get(job.id).result is None

    services.record_result(job.id, {"sum": 5, "items": [1, "two", None]})

    assert store.get(job.id).result == {"sum": 5, "items": [1, "two", None]}


def test_record_result_refuses_non_json_and_unknown_jobs_changing_nothing(store):
    job = services.enqueue("noop")

    with pytest.raises(services.JobValidationError):
        services.record_result(job.id, {"when": object()})
    with pytest.raises(services.JobNotFound):
        services.record_result("0" * 24, 1)

    assert store.get(job.id).result is None


def test_recently_finished_returns_completed_and_failed_latest_first_up_to_the_limit(store, clock):
    ids = [finished_job(store, clock, failed=index % 2 == 1) for index in range(5)]
    services.enqueue("noop")

    recent = services.recently_finished_jobs(limit=3)

    assert [job.id for job in recent] == ids[::-1][:3]
    with pytest.raises(services.JobValidationError):
        services.recently_finished_jobs(limit=0)
