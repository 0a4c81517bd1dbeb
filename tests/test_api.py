"""The HTTP API as a client sees it: create, read back, list, page, filter, stats.

Every test runs on each store (the ``store`` fixture): the SQL store, mongomock and,
with ``MONGODB_URI`` set, a real MongoDB. Bad input is in ``test_api_errors.py``.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from jobs import enqueue, services
from jobs.domain import Attempt, Outcome
from jobs.results import Failed
from jobs.timeutil import isoformat_z
from tests.api_support import EMAIL, post_job
from tests.results_support import record

JOB_FIELDS = {
    "id",
    "type",
    "payload",
    "status",
    "retryCount",
    "maxRetries",
    "priority",
    "runAt",
    "createdAt",
    "updatedAt",
    "finishedAt",
    "lastError",
    "attemptCount",
    "attempts",
    "lease",
    "result",
    "progress",
    "cancelRequested",
    "queue",
    "uniqueKey",
    "schedule",
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NEXT_LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def create_job(api, body=None):
    response = post_job(api, body or {"type": "email", "payload": EMAIL})
    assert response.status_code == 201, response.content
    return response.json()


def next_url(response):
    link = response.headers.get("Link")
    if link is None:
        return None
    match = NEXT_LINK.match(link)
    assert match, link
    return match.group(1)


def parse_z(value):
    return datetime.fromisoformat(value)


# --- create and read back ---------------------------------------------------------------


def test_post_job_returns_201_with_the_pending_job_and_its_location(api):
    response = post_job(api, {"type": "email", "payload": EMAIL})

    assert response.status_code == 201
    job = response.json()
    assert set(job) == JOB_FIELDS
    assert re.fullmatch(r"[0-9a-f]{24}", job["id"])
    assert response.headers["Location"] == f"/jobs/{job['id']}"
    assert response.headers["Content-Type"] == "application/json"
    assert job["type"] == "email"
    assert job["payload"] == EMAIL
    assert job["status"] == "pending"
    assert job["retryCount"] == 0
    assert job["maxRetries"] == 3
    assert job["priority"] == 0
    assert ISO_Z.match(job["createdAt"]) and job["updatedAt"] == job["createdAt"]
    assert job["runAt"] == job["createdAt"]
    assert job["finishedAt"] is None and job["lastError"] is None
    assert job["attemptCount"] == 0 and job["attempts"] == [] and job["lease"] is None


def test_created_at_is_the_time_of_the_request(api):
    before = datetime.now(UTC) - timedelta(seconds=1)
    job = create_job(api)
    assert before <= parse_z(job["createdAt"]) <= datetime.now(UTC)


def test_job_read_back_equals_the_job_returned_at_creation(api):
    created = post_job(api, {"type": "email", "payload": EMAIL, "priority": 3, "delaySeconds": 60})
    job = created.json()

    assert api.get(created.headers["Location"]).json() == job
    assert api.get(f"/jobs/{job['id']}").json() == job
    assert api.get(f"/jobs/{job['id']}/").json() == job
    assert api.get("/jobs", {"id": job["id"]}).json() == job
    assert api.get("/jobs/", {"id": job["id"]}).json() == job
    assert api.get("/jobs").json() == [job]


def test_job_id_is_accepted_in_upper_case(api):
    job = create_job(api)
    response = api.get(f"/jobs/{job['id'].upper()}")
    assert response.status_code == 200
    assert response.json() == job


def test_missing_payload_means_an_empty_object(api):
    job = create_job(api, {"type": "noop"})
    assert job["payload"] == {}


def test_run_at_priority_and_max_retries_are_accepted_and_shown(api):
    job = create_job(
        api,
        {"type": "email", "payload": EMAIL, "runAt": "2030-01-02T03:04:05.678+02:00", "priority": 7, "maxRetries": 5},
    )
    assert job["runAt"] == "2030-01-02T01:04:05.678Z"
    assert job["priority"] == 7
    assert job["maxRetries"] == 5
    assert job["status"] == "pending"
    assert api.get(f"/jobs/{job['id']}").json() == job


def test_run_at_in_z_notation_is_accepted(api):
    job = create_job(api, {"type": "noop", "runAt": "2030-01-01T00:00:00Z"})
    assert job["runAt"] == "2030-01-01T00:00:00.000Z"


def test_delay_seconds_sets_run_at_that_far_after_creation(api):
    job = create_job(api, {"type": "noop", "delaySeconds": 90})
    assert parse_z(job["runAt"]) - parse_z(job["createdAt"]) == timedelta(seconds=90)


def test_negative_priority_and_zero_retries_are_accepted(api):
    job = create_job(api, {"type": "noop", "priority": -5, "maxRetries": 0})
    assert (job["priority"], job["maxRetries"]) == (-5, 0)


def test_processing_job_shows_its_lease_owner_and_expiry_but_never_the_token(api, store, clock):
    job = create_job(api)
    [held] = store.claim(owner="worker-1", limit=1, now=clock.advance(5), lease_seconds=30)

    shown = api.get(f"/jobs/{job['id']}").json()

    assert shown["status"] == "processing"
    assert shown["lease"] == {"owner": "worker-1", "expiresAt": isoformat_z(held.lease.expires_at)}
    assert held.lease.token not in json.dumps(shown)


def test_failed_job_shows_its_attempts_and_last_error(api, store, clock):
    job = create_job(api, {"type": "noop", "maxRetries": 0})
    [held] = store.claim(owner="worker-1", limit=1, now=clock.advance(5), lease_seconds=30)
    finished = clock.advance(2)
    attempt = Attempt(
        started_at=held.lease.started_at, finished_at=finished, worker="worker-1", outcome=Outcome.FAILED, error="boom"
    )
    assert record(store, Failed(held, attempt), now=finished)

    shown = api.get(f"/jobs/{job['id']}").json()

    assert shown["status"] == "failed"
    assert shown["lastError"] == "boom"
    assert shown["lease"] is None
    assert shown["attemptCount"] == 1
    assert shown["attempts"] == [
        {
            "startedAt": isoformat_z(held.lease.started_at),
            "finishedAt": isoformat_z(finished),
            "worker": "worker-1",
            "outcome": "failed",
            "error": "boom",
        }
    ]
    assert ISO_Z.match(shown["finishedAt"])


# --- trailing slashes and methods -------------------------------------------------------


@pytest.mark.parametrize("path", ["/jobs", "/jobs/"])
def test_post_works_with_and_without_trailing_slash(api, path):
    response = post_job(api, {"type": "email", "payload": EMAIL}, path=path)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/jobs/{response.json()['id']}"


@pytest.mark.parametrize("suffix", ["", "/"])
@pytest.mark.parametrize("method", ["get", "head", "options"])
def test_every_read_method_works_with_and_without_trailing_slash(api, method, suffix):
    job = create_job(api)
    for path in ("/jobs", f"/jobs/{job['id']}", "/stats"):
        response = getattr(api, method)(path + suffix)
        assert response.status_code == 200, (method, path + suffix, response.content)
        if method == "get":
            assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("suffix", ["", "/"])
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_methods_a_resource_lacks_are_405_with_and_without_trailing_slash(api, method, suffix):
    job = create_job(api)
    for path, allowed in (("/jobs", "POST"), (f"/jobs/{job['id']}", "GET"), ("/stats", "GET")):
        response = getattr(api, method)(path + suffix, data="{}", content_type="application/json")
        assert response.status_code == 405, (method, path + suffix)
        assert allowed in response.headers["Allow"]
        assert response.json()["error"] == f'Method "{method.upper()}" not allowed.'
    assert api.get("/jobs").json() == [job]


def test_browsable_api_renders_for_a_browser(api, settings):
    # Without collectstatic there is no manifest; serve static files unhashed here.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    create_job(api)
    response = api.get("/jobs", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


# --- list ---------------------------------------------------------------------------------


def enqueue_at(clock, count, *, type="noop", step=1.0, **options):
    """``count`` jobs, ``step`` seconds apart, oldest first."""
    jobs = []
    for _ in range(count):
        jobs.append(services.enqueue(type, {}, clock=clock, **options))
        clock.advance(step)
    return jobs


def test_list_is_a_json_array_of_the_newest_jobs_first(api, clock):
    jobs = enqueue_at(clock, 5)
    listed = api.get("/jobs").json()
    assert isinstance(listed, list)
    assert [job["id"] for job in listed] == [job.id for job in reversed(jobs)]
    created = [parse_z(job["createdAt"]) for job in listed]
    assert created == sorted(created, reverse=True)


def test_list_of_an_empty_queue_is_an_empty_array(api):
    response = api.get("/jobs")
    assert response.status_code == 200
    assert response.json() == []
    assert "Link" not in response.headers


def test_list_returns_the_latest_50_jobs_by_default(api, clock):
    jobs = enqueue_at(clock, 53)
    listed = api.get("/jobs").json()
    assert [job["id"] for job in listed] == [job.id for job in reversed(jobs[3:])]


def test_list_limit_takes_up_to_500(api, clock):
    enqueue_at(clock, 501, step=0.001)
    assert len(api.get("/jobs", {"limit": 7}).json()) == 7
    assert len(api.get("/jobs", {"limit": 500}).json()) == 500


def test_link_header_pages_through_every_job_once_newest_first(api, clock):
    # Three jobs per millisecond, so pages also break inside a run of equal createdAt.
    jobs = []
    for _ in range(8):
        jobs += enqueue_at(clock, 3, step=0)
        clock.advance(0.001)
    expected = [job["id"] for job in api.get("/jobs", {"limit": 500}).json()]
    assert sorted(expected) == sorted(job.id for job in jobs)

    seen, url, pages = [], "/jobs?limit=5", 0
    while url:
        response = api.get(url)
        assert response.status_code == 200
        seen += [job["id"] for job in response.json()]
        url = next_url(response)
        pages += 1

    assert seen == expected
    assert len(set(seen)) == 24
    assert pages == 5


def test_link_header_is_absolute_keeps_filters_and_is_absent_on_a_short_page(api, clock):
    for _ in range(3):
        services.enqueue("email", EMAIL, clock=clock)
        services.enqueue("noop", {}, clock=clock)
        clock.advance(1)

    first = api.get("/jobs", {"type": "email", "limit": 2})
    url = next_url(first)
    assert url.startswith("http://testserver/jobs?")
    query = parse_qs(urlparse(url).query)
    assert query["type"] == ["email"] and query["limit"] == ["2"] and len(query["cursor"]) == 1

    second = api.get(url)
    assert [job["type"] for job in second.json()] == ["email"]
    assert "Link" not in second.headers


def test_a_page_that_is_exactly_full_has_no_next_link_when_no_job_follows(api, clock):
    # Issue 8: a full last page used to link to an empty page.
    enqueue_at(clock, 4)
    first = api.get("/jobs?limit=2")
    assert len(first.json()) == 2 and next_url(first)
    second = api.get(next_url(first))
    assert len(second.json()) == 2
    assert "Link" not in second.headers
    assert "Link" not in api.get("/jobs?limit=4").headers
    assert next_url(api.get("/jobs?limit=3"))


def test_list_filters_by_status_type_and_has_error(api, store, clock):
    email = services.enqueue("email", EMAIL, clock=clock)
    clock.advance(1)
    cancelled = services.enqueue("noop", {}, clock=clock)
    services.cancel_job(cancelled.id, clock=clock)
    clock.advance(1)
    failing = services.enqueue("fail", {}, max_retries=0, clock=clock)
    clock.advance(1)
    [held] = store.claim(owner="w", limit=1, now=clock.advance(100), lease_seconds=30)
    assert held.id == email.id
    failing_held = store.claim(owner="w", limit=1, now=clock(), lease_seconds=30)
    assert [job.id for job in failing_held] == [failing.id]
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.FAILED, error="nope")
    assert record(store, Failed(failing_held[0], attempt), now=clock())

    def ids(**query):
        response = api.get("/jobs", query)
        assert response.status_code == 200, response.content
        return [job["id"] for job in response.json()]

    assert ids(status="cancelled") == [cancelled.id]
    assert ids(status="processing") == [email.id]
    assert ids(status="failed") == [failing.id]
    assert ids(status="pending") == []
    assert ids(type="email") == [email.id]
    # Issue 8: an unknown type is refused like an unknown status; a known one without jobs is [].
    assert api.get("/jobs", {"type": "sms"}).status_code == 400
    assert ids(type="sleep") == []
    assert ids(hasError="true") == [failing.id]
    assert ids(hasError="false") == [cancelled.id, email.id]
    assert ids(status="failed", type="fail", hasError="true") == [failing.id]


# --- stats --------------------------------------------------------------------------------


def test_stats_count_jobs_by_status_and_type(api, clock):
    create_job(api)
    create_job(api)
    create_job(api, {"type": "noop", "delaySeconds": 3600})
    cancelled = create_job(api, {"type": "noop"})
    services.cancel_job(cancelled["id"])

    response = api.get("/stats")

    assert response.status_code == 200
    stats = response.json()
    assert set(stats) == {"byStatus", "byType", "oldestPendingAgeSeconds", "delayed", "total"}
    assert stats["byStatus"] == {"pending": 3, "processing": 0, "completed": 0, "failed": 0, "cancelled": 1}
    assert stats["byType"]["email"]["pending"] == 2
    assert stats["byType"]["noop"] == {"pending": 1, "processing": 0, "completed": 0, "failed": 0, "cancelled": 1}
    assert set(stats["byType"]) == {"email", "noop"}
    assert stats["delayed"] == 1
    assert stats["total"] == 4
    assert isinstance(stats["oldestPendingAgeSeconds"], float) and stats["oldestPendingAgeSeconds"] >= 0


def test_stats_of_an_empty_queue(api):
    stats = api.get("/stats/").json()
    assert stats["total"] == 0 and stats["delayed"] == 0 and stats["byType"] == {}
    assert stats["oldestPendingAgeSeconds"] is None
    assert set(stats["byStatus"].values()) == {0}


# --- the Python API -----------------------------------------------------------------------


def test_python_enqueue_returns_the_stored_job_that_the_api_shows(api):
    job = enqueue("email", EMAIL, priority=2)
    assert job.status == "pending" and job.type == "email" and job.payload == EMAIL and job.priority == 2
    shown = api.get(f"/jobs/{job.id}").json()
    assert shown["id"] == job.id and shown["priority"] == 2 and shown["payload"] == EMAIL
