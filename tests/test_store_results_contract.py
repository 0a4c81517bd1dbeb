"""Store contract for results and the metrics read: the same on every backend."""

import pytest

from jobs import services
from jobs.domain import Attempt, NewJob, Outcome
from jobs.results import Completed, Failed
from tests.roundtrip_support import counting


def finished_job(store, clock, *, failed=False):
    [job] = store.insert_many([NewJob(type="noop", payload={}, max_retries=0)], now=clock())
    [claimed] = store.claim(owner="w", limit=1, now=clock(), lease_seconds=60)
    clock.advance(1)
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
    store.record_results([(Failed if failed else Completed)(claimed, attempt)], now=clock())
    return job.id


def test_a_completion_writes_its_result_in_the_same_update(store, clock):
    [job] = store.insert_many([NewJob(type="noop", payload={}, max_retries=0)], now=clock())
    [claimed] = store.claim(owner="w", limit=1, now=clock(), lease_seconds=60)
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.COMPLETED)
    result = {"sum": 5, "items": [1, "two", None]}

    with counting(store, skip_unmeasured=False) as sent:
        assert store.record_results([Completed(claimed, attempt, result=result)], now=clock()) == [True]

    assert sent is None or sent.total() == 1
    done = store.get(job.id)
    assert done.status == "completed" and done.result == result


def test_a_completion_without_a_result_leaves_it_null(store, clock):
    job_id = finished_job(store, clock)

    assert store.get(job_id).result is None


def test_recently_finished_returns_completed_and_failed_latest_first_up_to_the_limit(store, clock):
    ids = [finished_job(store, clock, failed=index % 2 == 1) for index in range(5)]
    services.enqueue("noop")

    recent = services.recently_finished_jobs(limit=3)

    assert [job.id for job in recent] == ids[::-1][:3]
    with pytest.raises(services.JobValidationError):
        services.recently_finished_jobs(limit=0)
