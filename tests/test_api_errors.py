"""Bad input: every row of the API's bad-input table, and the Python API's twin.

Each rejected request answers JSON ``{"error": "<one line>", "details": {...}}`` with
the status of the table, and stores nothing (the job count is unchanged).
"""

import json
from datetime import UTC, datetime

import pytest

from jobs import enqueue
from jobs.services import JobValidationError, PayloadTooLarge
from tests.api_support import EMAIL, job_count


def nested(depth: int) -> dict:
    """A payload whose objects nest ``depth`` levels deep (the payload itself is level 1)."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def assert_error(response, status: int, *, mentions=(), field=None) -> dict:
    """The response is a JSON error of ``status`` whose message names each of ``mentions``."""
    assert response.status_code == status, response.content
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["error"], str) and body["error"] and "\n" not in body["error"]
    assert set(body) <= {"error", "details"}
    for word in mentions:
        assert word in body["error"], (word, body["error"])
    if field is not None:
        assert field in body["details"], body
        assert all(isinstance(message, str) for message in body["details"][field])
    return body


def post_raw(api, body: str | bytes, content_type="application/json"):
    return api.generic("POST", "/jobs", body, content_type=content_type)


# --- the body is not a JSON object --------------------------------------------------------


@pytest.mark.parametrize(
    "body, mentions",
    [
        ('{"type": "email",', ["Malformed JSON"]),
        ("{'type': 'email'}", ["Malformed JSON"]),
        ('{"type": "noop", "payload": {"n": NaN}}', ["Malformed JSON"]),
        (b'{"type": "\xff"}', ["Malformed JSON"]),
        ('\ufeff{"type": "noop"}'.encode(), ["Malformed JSON", "BOM"]),
        ("[" * 100_000, ["Malformed JSON"]),
        ('[{"type": "email"}]', ["JSON object", "array"]),
        ('"email"', ["JSON object", "string"]),
        ("42", ["JSON object", "number"]),
        ("null", ["JSON object", "null"]),
    ],
    ids=[
        "truncated",
        "single-quotes",
        "nan",
        "not-utf8",
        "byte-order-mark",
        "deeply-nested",
        "array",
        "string",
        "number",
        "null",
    ],
)
def test_malformed_json_or_a_body_that_is_not_an_object_is_400(api, existing_job, body, mentions):
    assert_error(post_raw(api, body), 400, mentions=mentions)
    assert job_count() == 1


def test_an_empty_body_is_400_type_required(api, existing_job):
    assert_error(post_raw(api, ""), 400, field="type", mentions=["type"])
    assert job_count() == 1


# --- fields -------------------------------------------------------------------------------

BAD_JOBS = [
    # type missing, empty, not a string, too long
    ({"payload": EMAIL}, 400, "type", ["type", "required"]),
    ({"type": "", "payload": EMAIL}, 400, "type", ["type"]),
    ({"type": "   ", "payload": EMAIL}, 400, "type", ["type"]),
    ({"type": None, "payload": EMAIL}, 400, "type", ["type"]),
    ({"type": 7, "payload": EMAIL}, 400, "type", ["type"]),
    ({"type": ["email"], "payload": EMAIL}, 400, "type", ["type"]),
    ({"type": "e" * 101, "payload": EMAIL}, 400, "type", ["100 characters"]),
    # type with no handler: the message names the known types
    ({"type": "sms", "payload": EMAIL}, 400, "type", ["'sms'", "email", "noop"]),
    ({"type": " email", "payload": EMAIL}, 400, "type", ["Known types"]),
    # payload not an object
    ({"type": "noop", "payload": None}, 400, "payload", ["payload"]),
    ({"type": "noop", "payload": []}, 400, "payload", ["payload", "object"]),
    ({"type": "noop", "payload": "hello"}, 400, "payload", ["payload", "object"]),
    ({"type": "noop", "payload": 3}, 400, "payload", ["payload", "object"]),
    # nested deeper than 32
    ({"type": "noop", "payload": nested(33)}, 400, "payload", ["deeper than 32"]),
    ({"type": "noop", "payload": {"list": [[[[nested(29)]]]]}}, 400, "payload", ["deeper than 32"]),
    # keys starting with $, containing . or NUL, at any depth
    ({"type": "noop", "payload": {"$where": "1"}}, 400, "payload", ["$where"]),
    ({"type": "noop", "payload": {"a": {"b": {"$set": 1}}}}, 400, "payload", ["$set"]),
    ({"type": "noop", "payload": {"a.b": 1}}, 400, "payload", ["a.b"]),
    ({"type": "noop", "payload": {"list": [{"x.y": 1}]}}, 400, "payload", ["x.y"]),
    ({"type": "noop", "payload": {"a": {"nul\u0000key": 1}}}, 400, "payload", ["NUL"]),
    # client-supplied server fields
    ({"type": "noop", "id": "64f2c2a9c9d2f1a1b2c3d4e5"}, 400, "id", ["id", "set by the server"]),
    ({"type": "noop", "_id": "64f2c2a9c9d2f1a1b2c3d4e5"}, 400, "_id", ["_id"]),
    ({"type": "noop", "status": "completed"}, 400, "status", ["status", "set by the server"]),
    ({"type": "noop", "retryCount": 0}, 400, "retryCount", ["retryCount"]),
    ({"type": "noop", "createdAt": "2026-02-02T05:30:00Z"}, 400, "createdAt", ["createdAt"]),
    ({"type": "noop", "updatedAt": "2026-02-02T05:30:00Z"}, 400, "updatedAt", ["updatedAt"]),
    ({"type": "noop", "finishedAt": None}, 400, "finishedAt", ["finishedAt"]),
    ({"type": "noop", "lastError": None}, 400, "lastError", ["lastError"]),
    ({"type": "noop", "attempts": []}, 400, "attempts", ["attempts"]),
    ({"type": "noop", "lease": None}, 400, "lease", ["lease"]),
    # fields the API does not take, typos included
    ({"type": "email", "paylod": EMAIL}, 400, "paylod", ["paylod", "Unknown field"]),
    ({"type": "noop", "queue": "High"}, 400, "queue", ["queue"]),
    ({"type": "noop", "max_retries": 3}, 400, "max_retries", ["max_retries"]),
    # the handler's own validation, per field
    ({"type": "email", "payload": {"subject": "Hi"}}, 400, "payload", ["to", "required"]),
    ({"type": "email", "payload": {"to": "not-an-address"}}, 400, "payload", ["to", "email"]),
    ({"type": "sleep", "payload": {"seconds": -1}}, 400, "payload", ["seconds"]),
    # options of the right name but a bad value
    ({"type": "noop", "maxRetries": "3"}, 400, "maxRetries", ["maxRetries"]),
    ({"type": "noop", "maxRetries": True}, 400, "maxRetries", ["maxRetries"]),
    ({"type": "noop", "maxRetries": -1}, 400, "maxRetries", ["maxRetries"]),
    ({"type": "noop", "maxRetries": 101}, 400, "maxRetries", ["maxRetries"]),
    ({"type": "noop", "priority": 1.5}, 400, "priority", ["priority"]),
    ({"type": "noop", "priority": "high"}, 400, "priority", ["priority"]),
    ({"type": "noop", "priority": 10**12}, 400, "priority", ["priority"]),
    ({"type": "noop", "runAt": "2030-01-01T00:00:00"}, 400, "runAt", ["runAt", "timezone"]),
    ({"type": "noop", "runAt": "tomorrow"}, 400, "runAt", ["runAt"]),
    ({"type": "noop", "runAt": "2030-13-01T00:00:00Z"}, 400, "runAt", ["runAt"]),
    ({"type": "noop", "runAt": 1893456000}, 400, "runAt", ["runAt"]),
    ({"type": "noop", "runAt": "2030-01-01T00:00:00Z", "delaySeconds": 5}, 400, "runAt", ["not both"]),
    ({"type": "noop", "delaySeconds": -1}, 400, "delaySeconds", ["delaySeconds"]),
    ({"type": "noop", "delaySeconds": "10"}, 400, "delaySeconds", ["delaySeconds"]),
    ({"type": "noop", "delaySeconds": 1e300}, 400, "delaySeconds", ["delaySeconds"]),
]


@pytest.mark.parametrize("body, status, field, mentions", BAD_JOBS, ids=lambda value: None)
def test_bad_job_is_rejected_naming_the_field_and_nothing_is_stored(api, existing_job, body, status, field, mentions):
    response = api.post("/jobs", data=json.dumps(body), content_type="application/json")
    assert_error(response, status, field=field, mentions=mentions)
    assert job_count() == 1


def test_every_fault_of_a_request_is_reported_at_once(api, existing_job):
    response = api.post(
        "/jobs", data=json.dumps({"type": 5, "paylod": {}, "status": "x"}), content_type="application/json"
    )
    body = assert_error(response, 400)
    assert set(body["details"]) == {"type", "paylod", "status"}
    assert job_count() == 1


def test_payload_over_the_default_64_kib_is_413(api, existing_job):
    response = api.post(
        "/jobs", data=json.dumps({"type": "noop", "payload": {"blob": "x" * 65536}}), content_type="application/json"
    )
    assert_error(response, 413, mentions=["65547 bytes", "65536 bytes", "JOBQUEUE_MAX_PAYLOAD_BYTES"])
    assert job_count() == 1


def test_payload_limit_follows_the_setting(api, existing_job, settings):
    settings.JOBQUEUE_MAX_PAYLOAD_BYTES = 100
    fits = {"blob": "x" * 89}  # {"blob":"xxx…"} is 100 bytes compact
    too_big = {"blob": "x" * 90}
    assert api.post("/jobs", {"type": "noop", "payload": fits}, format="json").status_code == 201
    assert_error(api.post("/jobs", {"type": "noop", "payload": too_big}, format="json"), 413)
    assert job_count() == 2


def test_a_huge_body_is_413_before_it_is_parsed(api, existing_job, settings):
    settings.JOBQUEUE_MAX_PAYLOAD_BYTES = 100
    body = json.dumps({"type": "noop", "payload": {}}) + " " * (1024 * 1024)
    assert_error(post_raw(api, body), 413, mentions=["Request body"])
    assert job_count() == 1


# --- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id", ["123", "not-an-id", "64f2c2a9c9d2f1a1b2c3d4eZ", "64f2c2a9c9d2f1a1b2c3d4e5f", "64f2c2a9c9d2f1a1b2c3d4e.5"]
)
def test_a_job_id_that_is_not_24_hex_is_400(api, existing_job, bad_id):
    assert_error(api.get(f"/jobs/{bad_id}"), 400, mentions=["not a job id"])
    assert_error(api.get(f"/jobs/{bad_id}/"), 400, mentions=["not a job id"])
    assert_error(api.get("/jobs", {"id": bad_id}), 400, mentions=["not a job id"])


def test_an_empty_id_query_is_400(api, existing_job):
    assert_error(api.get("/jobs?id="), 400, mentions=["not a job id"])


def test_a_well_formed_id_that_does_not_exist_is_404(api, existing_job):
    missing = "0" * 24
    assert_error(api.get(f"/jobs/{missing}"), 404, mentions=[missing])
    assert_error(api.get(f"/jobs/{missing}/"), 404, mentions=[missing])
    assert_error(api.get("/jobs", {"id": missing}), 404, mentions=[missing])


def test_unknown_urls_under_the_api_are_json_404(api, existing_job):
    for path in (f"/jobs/{existing_job.id}/attempts", "/jobs/a/b/", "/stats/today"):
        assert_error(api.get(path), 404, mentions=["Not found"])


# --- content type and methods -------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_a_wrong_content_type_is_415(api, existing_job, content_type):
    body = json.dumps({"type": "email", "payload": EMAIL})
    assert_error(post_raw(api, body, content_type=content_type), 415, mentions=["media type"])
    assert job_count() == 1


def test_a_body_without_content_type_is_415(api, existing_job):
    body = json.dumps({"type": "email", "payload": EMAIL}).encode()
    response = api.generic("POST", "/jobs", body, content_type="")
    assert_error(response, 415, mentions=["Content-Type"])
    assert job_count() == 1


def test_json_with_a_charset_is_accepted(api):
    body = json.dumps({"type": "email", "payload": EMAIL})
    assert post_raw(api, body, content_type="application/json; charset=utf-8").status_code == 201


@pytest.mark.parametrize("path", ["/jobs/{id}", "/jobs/{id}/", "/stats", "/stats/"])
def test_post_where_the_resource_has_no_post_is_405(api, existing_job, path):
    response = api.post(path.format(id=existing_job.id), {"type": "noop"}, format="json")
    assert_error(response, 405, mentions=["POST"])
    assert job_count() == 1


# --- list filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-3", "limit"),
        ("limit=ten", "limit"),
        ("status=done", "status"),
        ("status=", "status"),
        ("hasError=maybe", "hasError"),
        ("cursor=garbage", "cursor"),
        ("cursor=MjAyNi0wMi0wMlQwNTozMDowMC4wMDBafG5vdC1hbi1pZA", "cursor"),  # valid base64, bad id
        ("cursor=bm8tc2VwYXJhdG9y", "cursor"),
        ("stauts=pending", "stauts"),
    ],
)
def test_a_bad_list_filter_is_400_naming_it(api, existing_job, query, field):
    assert_error(api.get(f"/jobs?{query}"), 400, field=field, mentions=[field])


def test_the_format_parameter_of_the_browsable_api_is_not_an_unknown_filter(api, existing_job):
    response = api.get("/jobs?format=json")
    assert response.status_code == 200
    assert [job["id"] for job in response.json()] == [existing_job.id]


# --- the Python API rejects the same payloads -------------------------------------------

PYTHON_BAD_JOBS = [
    (body["type"] if "type" in body else None, body.get("payload"), field)
    for body, status, field, _ in BAD_JOBS
    if status == 400 and set(body) <= {"type", "payload"} and "payload" in body and body.get("payload") is not None
]


@pytest.mark.parametrize("job_type, payload, field", PYTHON_BAD_JOBS, ids=lambda value: None)
def test_python_enqueue_rejects_the_same_bad_jobs(existing_job, job_type, payload, field):
    with pytest.raises(JobValidationError) as raised:
        enqueue(job_type, payload)
    assert field in raised.value.errors
    assert job_count() == 1


@pytest.mark.parametrize(
    "options, field",
    [
        ({"max_retries": -1}, "maxRetries"),
        ({"priority": "high"}, "priority"),
        ({"run_at": datetime(2030, 1, 1)}, "runAt"),
        ({"delay_seconds": -1}, "delaySeconds"),
        ({"delay_seconds": 1e300}, "delaySeconds"),
        ({"delay_seconds": 5, "run_at": datetime(2030, 1, 1, tzinfo=UTC)}, "runAt"),
    ],
)
def test_python_enqueue_rejects_bad_options(existing_job, options, field):
    with pytest.raises(JobValidationError) as raised:
        enqueue("noop", {}, **options)
    assert field in raised.value.errors
    assert job_count() == 1


def test_python_enqueue_rejects_an_oversized_payload(existing_job):
    with pytest.raises(PayloadTooLarge):
        enqueue("noop", {"blob": "x" * 65536})
    assert job_count() == 1


def test_a_payload_nested_exactly_32_deep_is_accepted(api):
    response = api.post("/jobs", {"type": "noop", "payload": nested(32)}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["payload"] == nested(32)
