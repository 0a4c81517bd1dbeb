"""``/schedules`` as a client sees it, on every store: create, list, read, change,
delete, and every refusal with nothing stored or changed."""

import json

import pytest
from rest_framework.test import APIClient

from jobs import schedule_services

EMAIL = {"to": "user@example.com", "subject": "Digest", "body": "Hi"}
DIGEST = {"name": "digest", "type": "email", "payload": EMAIL, "cron": "0 8 * * 1-5", "timezone": "Europe/Paris"}


@pytest.fixture
def api(store):
    return APIClient()


def send(api, method, path, body):
    return getattr(api, method)(path, data=json.dumps(body), content_type="application/json")


def test_create_read_list_change_and_delete(api):
    created = send(api, "post", "/schedules", {**DIGEST, "queue": "emails", "priority": 2})
    assert created.status_code == 201, created.content
    body = created.json()
    assert created.headers["Location"] == "/schedules/digest"
    assert body["queue"] == "emails" and body["priority"] == 2 and body["enabled"] is True
    assert body["lastRunAt"] is None and body["nextRunAt"].endswith("Z")

    assert api.get("/schedules/digest").json() == body
    assert api.get("/schedules").json() == [body]

    changed = send(api, "patch", "/schedules/digest", {"enabled": False, "cron": "@hourly"})
    assert changed.status_code == 200
    assert changed.json()["enabled"] is False and changed.json()["cron"] == "@hourly"
    assert api.get("/schedules/digest").json() == changed.json()

    assert api.delete("/schedules/digest").status_code == 204
    assert api.get("/schedules/digest").status_code == 404
    assert api.get("/schedules").json() == []


@pytest.mark.parametrize(
    "change, field",
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "every day"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"type": "no-such-type"}, "type"),
        ({"payload": {"to": "not an address"}}, "payload.to"),
        ({"queue": "Has Spaces"}, "queue"),
        ({"enabled": "yes"}, "enabled"),
        ({"name": "has spaces"}, "name"),
        ({"nextRunAt": "2030-01-01T00:00:00Z"}, "nextRunAt"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field_and_nothing_is_stored(api, change, field):
    response = send(api, "post", "/schedules", {**DIGEST, **change})

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]
    assert schedule_services.list_schedules() == []


def test_a_bad_change_is_refused_and_nothing_changes(api):
    send(api, "post", "/schedules", DIGEST)
    before = api.get("/schedules/digest").json()

    for change in ({"cron": "* * *"}, {"timezone": ""}, {"name": "other"}, {"priority": "high"}):
        response = send(api, "patch", "/schedules/digest", change)
        assert response.status_code == 400, change
        assert next(iter(change)) in response.json()["error"]

    assert api.get("/schedules/digest").json() == before


@pytest.mark.not_on_congodb("unique indexes")
def test_a_taken_name_is_a_409_and_unknown_names_404(api):
    send(api, "post", "/schedules", DIGEST)
    taken = send(api, "post", "/schedules", {**DIGEST, "cron": "@daily"})
    assert taken.status_code == 409
    assert api.get("/schedules/digest").json()["cron"] == DIGEST["cron"]

    assert send(api, "patch", "/schedules/nope", {"enabled": False}).status_code == 404
    assert api.delete("/schedules/nope").status_code == 404
    assert api.get("/schedules/nope").status_code == 404


@pytest.mark.parametrize("body, kind", [([DIGEST], "an array"), ("digest", "a string"), (None, "null")])
def test_a_body_that_is_not_a_json_object_is_refused_as_by_post_jobs(api, body, kind):
    created = send(api, "post", "/schedules", body)
    send(api, "post", "/schedules", DIGEST)
    changed = send(api, "patch", "/schedules/digest", body)

    for response in (created, changed):
        assert response.status_code == 400
        assert response.json()["error"] == f"The request body must be a JSON object, not {kind}."
    assert [schedule.name for schedule in schedule_services.list_schedules()] == ["digest"]
    assert api.get("/schedules/digest").json()["cron"] == DIGEST["cron"]
