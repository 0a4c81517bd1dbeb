"""``POST /jobs/<id>/cancel``, ``POST /jobs/<id>/retry`` and ``POST /jobs/bulk`` on every
store; each refusal leaves the jobs as they were."""

import pytest
from django.db import connections
from django.test import override_settings
from rest_framework.test import APIClient

from jobs import enqueue_many, services
from jobs.domain import Attempt, Outcome, Status
from jobs.results import Completed, Failed
from jobs.timeutil import utc_now
from tests.roundtrip_support import counting

EMAIL = {"to": "user@example.com", "subject": "Hi", "body": "Hello"}


@pytest.fixture
def api(store):
    return APIClient()


def every_job(store):
    return store.list_jobs(limit=500)


def claimed(store, job):
    [held] = store.claim(owner="w", limit=1, now=utc_now(), lease_seconds=60)
    assert held.id == job.id
    return held


def finish(store, job, result_class):
    held = claimed(store, job)
    attempt = Attempt(started_at=utc_now(), finished_at=utc_now(), worker="w", outcome=Outcome.COMPLETED)
    assert store.record_results([result_class(held, attempt)], now=utc_now()) == [True]
    return store.get(job.id)


# --- cancel ----------------------------------------------------------------------------


def test_cancel_makes_a_pending_job_cancelled_at_once(api, store):
    job = services.enqueue("noop")

    response = api.post(f"/jobs/{job.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["finishedAt"]
    assert store.get(job.id).status == Status.CANCELLED


def test_cancel_asks_a_processing_job_to_stop(api, store):
    job = services.enqueue("noop")
    claimed(store, job)

    response = api.post(f"/jobs/{job.id}/cancel")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancelRequested"]) == ("processing", True)
    assert store.get(job.id).cancel_requested


@pytest.mark.parametrize("finished", [Completed, Failed])
def test_cancel_of_a_finished_job_is_409_naming_its_status_and_changes_nothing(api, store, finished):
    job = finish(store, services.enqueue("noop"), finished)

    response = api.post(f"/jobs/{job.id}/cancel")

    assert response.status_code == 409
    assert response.json()["status"] == job.status.value and job.status.value in response.json()["error"]
    assert store.get(job.id) == job


def test_cancel_and_retry_of_an_unknown_or_malformed_id_change_nothing(api, store):
    job = services.enqueue("noop")
    for action in ("cancel", "retry"):
        assert api.post(f"/jobs/{'0' * 24}/{action}").status_code == 404
        assert api.post(f"/jobs/not-an-id/{action}").status_code == 400
    assert store.get(job.id) == job


# --- retry -----------------------------------------------------------------------------


def test_retry_runs_a_failed_job_again(api, store):
    job = finish(store, services.enqueue("noop", max_retries=0), Failed)

    response = api.post(f"/jobs/{job.id}/retry")

    assert response.status_code == 200
    retried = store.get(job.id)
    assert retried.status == Status.PENDING and retried.finished_at is None
    assert retried.max_retries == 1 and response.json()["status"] == "pending"


def test_retry_puts_a_cancelled_job_back_in_line(api, store):
    job = services.enqueue("noop")
    services.cancel_job_request(job.id)

    response = api.post(f"/jobs/{job.id}/retry")

    assert response.status_code == 200
    retried = store.get(job.id)
    assert retried.status == Status.PENDING and retried.finished_at is None and not retried.cancel_requested


def test_retry_of_a_job_neither_failed_nor_cancelled_is_409_and_changes_nothing(api, store):
    pending = services.enqueue("noop", delay_seconds=3600)
    processing = services.enqueue("noop")
    processing = claimed(store, processing)
    completed = finish(store, services.enqueue("noop"), Completed)

    for job in (pending, store.get(processing.id), completed):
        response = api.post(f"/jobs/{job.id}/retry")
        assert response.status_code == 409
        assert response.json()["status"] == job.status.value
        assert store.get(job.id) == job


# --- bulk enqueue ----------------------------------------------------------------------


def test_bulk_stores_every_job_and_returns_them_in_order(api, store):
    items = [{"type": "email", "payload": {**EMAIL, "subject": str(n)}, "priority": n} for n in range(5)]

    response = api.post("/jobs/bulk", {"jobs": items}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert [job["payload"]["subject"] for job in body] == ["0", "1", "2", "3", "4"]
    assert all(job["status"] == "pending" for job in body)
    assert {job.id for job in every_job(store)} == {job["id"] for job in body}


def test_one_invalid_job_refuses_the_bulk_naming_it_by_index_and_stores_nothing(api, store):
    items = [{"type": "email", "payload": EMAIL}] * 3 + [{"type": "email", "payload": {"to": "nope"}}]
    items += [{"type": "no-such-type"}, "not an object"]

    response = api.post("/jobs/bulk", {"jobs": items}, format="json")

    assert response.status_code == 400
    errors = response.json()["details"]["jobs"]
    assert set(errors) == {"3", "4", "5"}
    assert "to" in errors["3"]["payload"] and "type" in errors["4"]
    assert every_job(store) == []


@override_settings(JOBQUEUE_MAX_PAYLOAD_BYTES=100)
def test_a_too_large_payload_in_a_bulk_is_an_error_of_its_item(api, store):
    items = [{"type": "noop", "payload": {}}, {"type": "noop", "payload": {"text": "x" * 200}}]

    response = api.post("/jobs/bulk", {"jobs": items}, format="json")

    assert response.status_code == 400 and "1" in response.json()["details"]["jobs"]
    assert every_job(store) == []


@pytest.mark.parametrize(
    "body",
    [
        {"jobs": [{"type": "noop"}] * (services.MAX_BULK_JOBS + 1)},
        {"jobs": []},
        {"jobs": {"type": "noop"}},
        {"jobs": "noop"},
        {},
        {"jobs": [{"type": "noop"}], "extra": 1},
        [{"type": "noop"}],
    ],
    ids=["over-1000", "empty", "object", "string", "missing", "unknown-field", "bare-list"],
)
def test_a_bulk_body_of_the_wrong_shape_is_400_and_stores_nothing(api, store, body):
    response = api.post("/jobs/bulk", body, format="json")

    assert response.status_code == 400, response.json()
    assert every_job(store) == []


def test_a_bulk_of_exactly_1000_jobs_is_taken(api, store):
    response = api.post("/jobs/bulk", {"jobs": [{"type": "noop"}] * services.MAX_BULK_JOBS}, format="json")

    assert response.status_code == 201 and len(response.json()) == services.MAX_BULK_JOBS


def test_enqueue_many_from_python_takes_the_same_bodies_in_one_write(store):
    with counting(store, skip_unmeasured=False) as sent:
        jobs = enqueue_many([{"type": "email", "payload": EMAIL}, {"type": "noop", "maxRetries": 0}])

    assert [job.type for job in jobs] == ["email", "noop"] and jobs[1].max_retries == 0
    assert [store.get(job.id) for job in jobs] == jobs
    if sent is not None and store.kind == "mongodb":
        assert sent.by_kind() == {"insert": 1}
    elif sent is not None and connections["default"].vendor == "sqlite":
        assert sent.by_kind() == {"BEGIN": 1, "INSERT": 2, "COMMIT": 1}
    with pytest.raises(services.JobValidationError) as refused:
        enqueue_many([{"type": "noop"}, {"type": "noop", "priority": "high"}])
    assert list(refused.value.errors["jobs"]) == ["1"]
    assert len(every_job(store)) == 2
