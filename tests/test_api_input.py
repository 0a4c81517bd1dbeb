"""Bad input found when the service was tried as a new user would (issue 8), and the one
validation shared by ``POST /jobs`` and ``enqueue()`` (issue 7).

Every refused request is a 400 naming the field, and nothing is stored.
"""

import io
import json
from datetime import UTC, datetime
from wsgiref.util import setup_testing_defaults

import pytest
from rest_framework import serializers

from jobs import enqueue, services
from jobs.handlers import HeaderField
from jobs.services import JobValidationError
from jobs.timeutil import isoformat_z
from jobs.validation import parse_rfc3339
from tests.api_support import EMAIL, job_count


def post_text(api, text: str):
    """POST a JSON text as written (``\\ud800`` escapes stay escapes on the wire)."""
    return api.generic("POST", "/jobs", text.encode("ascii"), content_type="application/json")


def assert_400(response, *, field: str, mentions: tuple[str, ...] = ()) -> dict:
    assert response.status_code == 400, response.content
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert field in body["details"], body
    for word in mentions:
        assert word in body["error"], (word, body["error"])
    return body


# --- one validation, nested payload errors --------------------------------------------------


def test_payload_errors_are_nested_per_field_of_the_payload(api, existing_job):
    response = api.post("/jobs", {"type": "email", "payload": {"to": "not-an-address"}}, format="json")
    body = assert_400(response, field="payload", mentions=("payload.to:",))
    assert list(body["details"]["payload"]) == ["to"]
    assert body["details"]["payload"]["to"] == ["Enter a valid email address."]
    assert job_count() == 1


def test_enqueue_reports_payload_errors_nested_exactly_as_the_api_does(api, existing_job):
    bad = {"type": "email", "payload": {"subject": "Hi"}}
    api_details = api.post("/jobs", bad, format="json").json()["details"]
    with pytest.raises(JobValidationError) as raised:
        enqueue("email", {"subject": "Hi"})
    assert raised.value.errors == api_details == {"payload": {"to": ["This field is required."]}}
    assert "payload.to: This field is required." in str(raised.value)
    assert job_count() == 1


# --- lone surrogates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, path",
    [
        ('{"type": "email", "payload": {"to": "user@example.com", "subject": "\\ud800"}}', "payload.subject"),
        ('{"type": "noop", "payload": {"a": {"b": ["ok", "x\\udfff"]}}}', "payload.a.b[1]"),
        ('{"type": "noop", "payload": {"\\ud800": 1}}', "\\ud800"),
        ('{"type": "noop", "payload": {"a": {"k\\udc00": 1}}}', "payload.a"),
    ],
    ids=["value", "nested-value", "key", "nested-key"],
)
def test_a_lone_surrogate_in_the_payload_is_400_naming_where(api, existing_job, text, path):
    assert_400(post_text(api, text), field="payload", mentions=(path, "surrogate"))
    assert job_count() == 1


def test_a_lone_surrogate_in_a_field_name_or_the_type_is_400(api, existing_job):
    assert_400(post_text(api, '{"type": "noop", "\\ud800": 1}'), field="\\ud800", mentions=("Unknown field",))
    assert_400(post_text(api, '{"type": "\\ud800"}'), field="type", mentions=("Surrogate",))
    assert job_count() == 1


def test_enqueue_refuses_a_lone_surrogate_too(existing_job):
    with pytest.raises(JobValidationError) as raised:
        enqueue("noop", {"note": "\ud800"})
    assert "payload.note" in str(raised.value)
    assert job_count() == 1


# --- runAt: RFC 3339 only, four-digit years -------------------------------------------------


@pytest.mark.parametrize(
    "run_at",
    [
        "2030-W01-1T00:00:00Z",  # ISO week date
        "2030-001T00:00:00Z",  # ISO ordinal date
        "2030-01-01 00:00:00Z",  # space instead of T
        "2030-01-01T00:00:00",  # no offset
        "20300101T000000Z",  # ISO basic format
        "2030-01-01T00:00Z",  # no seconds
        "2030-01-01T00:00:00+0100",  # offset without colon
        "2030-01-01T00:00:00.Z",  # empty fraction
        " 2030-01-01T00:00:00Z",  # surrounding space
        "2030-01-01T00:00:60Z",  # leap second: no datetime holds it
        "0000-01-01T00:00:00Z",  # year zero
        "٢٠٣٠-01-01T00:00:00Z",  # non-ASCII digits
    ],
)
def test_run_at_must_be_rfc_3339(api, existing_job, run_at):
    response = api.post("/jobs", {"type": "noop", "runAt": run_at}, format="json")
    assert_400(response, field="runAt", mentions=("RFC 3339",))
    with pytest.raises(JobValidationError) as raised:
        enqueue("noop", {}, run_at=run_at)
    assert "runAt" in raised.value.errors
    assert job_count() == 1


@pytest.mark.parametrize(
    "run_at, expected",
    [
        ("2030-01-01T00:00:00Z", "2030-01-01T00:00:00.000Z"),
        ("2030-01-01t05:30:00.123456789+05:30", "2030-01-01T00:00:00.123Z"),
        ("2029-12-31T23:00:00-01:00", "2030-01-01T00:00:00.000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
    ],
)
def test_run_at_in_rfc_3339_round_trips_with_a_four_digit_year(api, run_at, expected):
    created = api.post("/jobs", {"type": "noop", "runAt": run_at}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["runAt"] == expected
    assert api.get(f"/jobs/{created.json()['id']}").json()["runAt"] == expected
    again = api.post("/jobs", {"type": "noop", "runAt": expected}, format="json")
    assert again.json()["runAt"] == expected


def test_datetimes_are_written_with_four_digit_years():
    assert isoformat_z(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"
    assert isoformat_z(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == "0999-12-31T23:59:59.999Z"
    assert parse_rfc3339("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC)


def test_a_run_at_that_leaves_the_datetime_range_in_utc_is_400(api, existing_job):
    response = api.post("/jobs", {"type": "noop", "runAt": "9999-12-31T23:59:59-01:00"}, format="json")
    assert_400(response, field="runAt")
    assert job_count() == 1


# --- header injection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, field",
    [
        ({**EMAIL, "subject": "Hi\r\nBcc: victim@example.com"}, "subject"),
        ({**EMAIL, "subject": "Hi\nthere"}, "subject"),
        ({**EMAIL, "subject": "trailing\r\n"}, "subject"),
        ({**EMAIL, "to": "user@example.com\r\nBcc: victim@example.com"}, "to"),
        ({**EMAIL, "to": "user@example.com\n"}, "to"),
    ],
)
def test_the_email_type_refuses_cr_or_lf_in_headers(api, existing_job, payload, field):
    response = api.post("/jobs", {"type": "email", "payload": payload}, format="json")
    body = assert_400(response, field="payload", mentions=(f"payload.{field}",))
    assert field in body["details"]["payload"]
    assert job_count() == 1


def test_a_body_may_hold_line_breaks(api):
    response = api.post("/jobs", {"type": "email", "payload": {**EMAIL, "body": "line 1\r\nline 2"}}, format="json")
    assert response.status_code == 201, response.content


def test_any_type_can_refuse_header_injection_with_header_field(api, existing_job, test_handlers):
    class WebhookPayload(serializers.Serializer):
        url = serializers.URLField()
        header = HeaderField()

    test_handlers.add("webhook", lambda payload, context: None, serializer=WebhookPayload)
    refused = api.post(
        "/jobs", {"type": "webhook", "payload": {"url": "https://example.com", "header": "a\r\nb: c"}}, format="json"
    )
    assert_400(refused, field="payload", mentions=("payload.header",))
    assert job_count() == 1
    accepted = api.post(
        "/jobs", {"type": "webhook", "payload": {"url": "https://example.com", "header": "a: b"}}, format="json"
    )
    assert accepted.status_code == 201, accepted.content


# --- list filters: unknown values are treated alike -----------------------------------------


@pytest.mark.parametrize("query, field", [("type=bogus", "type"), ("status=bogus", "status")])
def test_an_unknown_filter_value_is_400_naming_the_filter(api, existing_job, query, field):
    body = assert_400(api.get(f"/jobs?{query}"), field=field, mentions=(field, "bogus"))
    assert set(body["details"]) == {field}


def test_jobs_of_a_type_whose_handler_was_removed_still_list_by_type(api, existing_job, test_handlers):
    test_handlers.add("legacy", lambda payload, context: None)
    legacy = services.enqueue("legacy", {})
    test_handlers.clear()
    response = api.get("/jobs?type=legacy")
    assert response.status_code == 200 and [job["id"] for job in response.json()] == [legacy.id]


def test_a_known_filter_value_without_jobs_is_an_empty_list(api, existing_job):
    assert api.get("/jobs?type=noop").json() == []
    assert api.get("/jobs?status=failed").json() == []


# --- chunked request bodies ------------------------------------------------------------------


def wsgi_post(body: bytes, *, terminated: bool = True) -> tuple[str, dict]:
    """POST /jobs through the WSGI application as a server that decoded a chunked body
    hands it over: no Content-Length, ``wsgi.input_terminated`` set."""
    from jobqueue.wsgi import application

    environ: dict = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/jobs",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": terminated,
    }
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    content = b"".join(application(environ, start_response))
    return answer["status"], json.loads(content)


def test_a_chunked_body_is_read(store):
    status, job = wsgi_post(json.dumps({"type": "email", "payload": EMAIL}).encode())
    assert status.startswith("201"), job
    assert services.get_job(job["id"]).payload == EMAIL


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(store, existing_job, settings):
    settings.JOBQUEUE_MAX_PAYLOAD_BYTES = 100
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    status, body = wsgi_post(json.dumps({"type": "noop", "payload": {"blob": "x" * 5000}}).encode())
    assert status.startswith("413") and "too large" in body["error"]
    assert job_count() == 1


def test_a_chunked_body_a_server_did_not_decode_is_411(store, existing_job):
    status, body = wsgi_post(b'{"type": "noop"}', terminated=False)
    assert status.startswith("411") and "Content-Length" in body["error"]
    assert job_count() == 1
