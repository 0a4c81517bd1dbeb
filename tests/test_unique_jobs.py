"""Unique jobs: while a job of a type holding a ``uniqueKey`` is pending or processing,
posting it again returns that job (``200``) and stores nothing. On every store."""

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from jobs import enqueue, services
from jobs.domain import Attempt, Outcome
from jobs.results import Completed, Failed
from tests.api_support import EMAIL, post_job
from tests.results_support import record
from tests.worker_support import run_at_once


def all_jobs():
    return services.list_jobs(limit=500)


def finish(store, result_kind):
    [job] = store.claim(owner="w", limit=1, now=datetime.now(UTC), lease_seconds=30)
    now = datetime.now(UTC)
    attempt = Attempt(started_at=now, finished_at=now, worker="w", outcome=Outcome.COMPLETED.value)
    assert record(store, result_kind(job, attempt), now=now)


@pytest.mark.not_on_congodb("unique indexes")
def test_posting_a_held_unique_key_again_returns_that_job_with_200(api):
    first = post_job(api, {"type": "email", "payload": EMAIL, "uniqueKey": "welcome:42"})
    again = post_job(api, {"type": "email", "payload": {**EMAIL, "body": "other"}, "uniqueKey": "welcome:42"})

    assert first.status_code == 201
    assert first.json()["uniqueKey"] == "welcome:42"
    assert again.status_code == 200
    assert again.json() == first.json()
    assert [job.id for job in all_jobs()] == [first.json()["id"]]


def test_the_key_is_per_type(api):
    assert post_job(api, {"type": "email", "payload": EMAIL, "uniqueKey": "k"}).status_code == 201
    assert post_job(api, {"type": "noop", "uniqueKey": "k"}).status_code == 201
    assert post_job(api, {"type": "noop", "uniqueKey": "other"}).status_code == 201
    assert len(all_jobs()) == 3


@pytest.mark.not_on_congodb("unique indexes")
def test_enqueue_returns_the_live_job_holding_the_key(store):
    first = enqueue("noop", unique_key="nightly")
    second = enqueue("noop", unique_key="nightly")
    assert second == first
    assert len(all_jobs()) == 1


@pytest.mark.parametrize("ending", [Completed, Failed])
def test_the_key_is_free_again_once_the_job_finished(store, ending):
    first = enqueue("noop", unique_key="k")
    finish(store, ending)

    second = enqueue("noop", unique_key="k")

    assert second.id != first.id
    assert len(all_jobs()) == 2


@pytest.mark.not_on_congodb("unique indexes")
def test_the_key_is_held_while_processing_and_free_after_a_cancel(store):
    first = enqueue("noop", unique_key="k")
    store.claim(owner="w", limit=1, now=datetime.now(UTC), lease_seconds=30)
    assert enqueue("noop", unique_key="k").id == first.id

    pending = enqueue("noop", unique_key="other")
    services.cancel_job(pending.id)
    assert enqueue("noop", unique_key="other").id != pending.id


@pytest.mark.not_on_congodb("unique indexes")
def test_concurrent_posts_of_one_key_store_one_job(store):
    threads_count = 16

    def post_one():
        response = post_job(APIClient(), {"type": "noop", "uniqueKey": "race"})
        return response.status_code, response.json()["id"]

    results, errors = run_at_once(post_one, threads_count)

    assert not errors
    assert len(results) == threads_count
    assert len({job_id for _, job_id in results}) == 1
    assert sorted(code for code, _ in results) == [200] * (threads_count - 1) + [201]
    assert len(all_jobs()) == 1


@pytest.mark.parametrize(
    "key, message",
    [("", "blank"), ("x" * 256, "255"), (42, "valid string"), (None, "null")],
)
def test_a_bad_unique_key_is_refused_naming_the_field_and_nothing_is_stored(api, key, message):
    response = post_job(api, {"type": "noop", "uniqueKey": key})

    assert response.status_code == 400
    body = response.json()
    assert "uniqueKey" in body["details"]
    assert message in " ".join(body["details"]["uniqueKey"])
    assert all_jobs() == []


def test_schedule_is_set_by_the_server(api):
    response = post_job(api, {"type": "noop", "schedule": "nightly"})
    assert response.status_code == 400
    assert "schedule" in response.json()["details"]
    assert all_jobs() == []


@pytest.mark.not_on_congodb("unique indexes")
def test_a_failed_job_cannot_run_again_while_a_new_one_holds_its_key(store):
    failed = enqueue("noop", unique_key="k")
    finish(store, Failed)
    live = enqueue("noop", unique_key="k")

    with pytest.raises(services.InvalidTransition, match="unique key 'k'"):
        services.retry_job_now(failed.id)

    assert services.get_job(failed.id).status == "failed"
    assert services.get_job(live.id).status == "pending"
    services.cancel_job(live.id)
    assert services.retry_job_now(failed.id).status == "pending"
