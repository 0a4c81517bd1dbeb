"""Named queues over the API and ``enqueue()``: the job's queue, ``GET /jobs?queue=``,
``GET /queues``, pause and resume. Every test runs on each store."""

from datetime import timedelta

import pytest

from jobs import enqueue, services
from jobs.errors import JobValidationError
from jobs.timeutil import utc_now
from tests.api_support import EMAIL, post_job


def test_a_job_names_its_queue_and_lists_by_it(api):
    emails = post_job(api, {"type": "email", "payload": EMAIL, "queue": "emails"})
    plain = post_job(api, {"type": "email", "payload": EMAIL})

    assert emails.status_code == 201 and emails.json()["queue"] == "emails"
    assert plain.json()["queue"] == "default"
    assert api.get(f"/jobs/{emails.json()['id']}").json()["queue"] == "emails"
    assert [job["id"] for job in api.get("/jobs?queue=emails").json()] == [emails.json()["id"]]
    assert [job["id"] for job in api.get("/jobs?queue=default").json()] == [plain.json()["id"]]


def test_enqueue_takes_the_queue_too(store):
    job = enqueue("email", EMAIL, queue="reports-2")
    assert services.get_job(job.id).queue == "reports-2"


@pytest.mark.parametrize("bad", ["Emails", "", "a" * 65, "with space", "émail", "x\n", 7, None])
def test_a_bad_queue_name_is_a_400_naming_the_field_and_nothing_is_stored(api, store, bad):
    response = post_job(api, {"type": "email", "payload": EMAIL, "queue": bad})

    assert response.status_code == 400, response.content
    assert "queue" in response.json()["details"]
    with pytest.raises(JobValidationError) as refused:
        enqueue("email", EMAIL, queue=bad if bad is not None else "")
    assert "queue" in refused.value.errors
    assert store.list_jobs() == []


def test_a_bad_queue_filter_is_a_400(api):
    response = api.get("/jobs?queue=NOPE")
    assert response.status_code == 400 and "queue" in response.json()["details"]


def test_get_queues_counts_per_status_with_oldest_age_and_paused_flag(api):
    enqueue("email", EMAIL, queue="emails", clock=lambda: utc_now() - timedelta(seconds=60))
    enqueue("email", EMAIL, queue="emails")
    enqueue("email", EMAIL, queue="emails", delay_seconds=3600)
    api.post("/queues/reports/pause")

    queues = {queue["name"]: queue for queue in api.get("/queues").json()}

    assert set(queues) == {"default", "emails", "reports"}
    assert queues["emails"]["counts"]["pending"] == 3 and queues["emails"]["counts"]["completed"] == 0
    assert queues["emails"]["oldestPendingAgeSeconds"] >= 59
    assert queues["emails"]["paused"] is False
    assert queues["reports"] == {
        "name": "reports",
        "counts": {status: 0 for status in ("pending", "processing", "completed", "failed", "cancelled")},
        "oldestPendingAgeSeconds": None,
        "paused": True,
    }


def test_pause_and_resume_change_the_flag_and_are_idempotent(api, store):
    for _ in range(2):
        paused = api.post("/queues/emails/pause")
        assert paused.status_code == 200 and paused.json()["paused"] is True
    assert store.paused_queues() == {"emails"}

    resumed = api.post("/queues/emails/resume/")
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    assert store.paused_queues() == set()


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_a_bad_queue_name_to_pause_is_a_400_and_nothing_changes(api, store, action):
    response = api.post(f"/queues/Bad%20Name/{action}")

    assert response.status_code == 400
    assert "name" in response.json()["details"]
    assert store.paused_queues() == set()


def test_pause_needs_post(api, store):
    assert api.get("/queues/emails/pause").status_code == 405
    assert store.paused_queues() == set()
