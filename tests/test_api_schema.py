"""The OpenAPI description and its Swagger UI."""

import io

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)


def test_schema_describes_endpoints_errors_and_headers(settings, db):
    settings.JOBQUEUE_API_AUTH = "required"
    response = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/bulk",
        "/jobs/{job_id}/cancel",
        "/jobs/{job_id}/retry",
        "/queues",
        "/queues/{name}/pause",
        "/queues/{name}/resume",
        "/schedules",
        "/schedules/{name}",
        "/stats",
        "/metrics",
        "/healthz",
        "/readyz",
    }
    create = schema["paths"]["/jobs"]["post"]
    assert {"201", "400", "401", "403", "413", "415", "422", "429"} <= set(create["responses"])
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    assert "Location" in create["responses"]["200"]["headers"]  # a live job already holds the uniqueKey
    assert "Retry-After" in create["responses"]["429"]["headers"]
    assert any(parameter["name"] == "Idempotency-Key" for parameter in create["parameters"])
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `python manage.py createapikey` or the admin.",
    }


def test_swagger_ui_uses_local_static_files(db):
    page = APIClient().get("/api/docs").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "unpkg" not in page


def test_schema_builds_without_warnings_and_validates(db):
    # Every custom field has an extension (else spectacular guesses "string" and warns).
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())


def test_schema_types_the_job_fields_as_the_api_reads_and_writes_them(db):
    schema = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    request = schema["components"]["schemas"]["JobInputRequest"]["properties"]
    output = schema["components"]["schemas"]["JobOutput"]["properties"]

    assert request["payload"]["type"] == "object"
    assert request["runAt"] == {"type": "string", "format": "date-time"}
    assert output["payload"]["type"] == "object"
    assert output["createdAt"]["format"] == "date-time"


def test_schema_describes_the_operations_endpoints_and_who_may_call_them(db):
    paths = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    metrics = paths["/metrics"]["get"]
    assert set(metrics["responses"]["200"]["content"]) == {"text/plain", "application/openmetrics-text"}
    assert {"401", "403", "429"} <= set(metrics["responses"])
    assert {"ApiKey": []} in metrics["security"]
    assert paths["/healthz"]["get"]["security"] == [{}]
    assert set(paths["/healthz"]["get"]["responses"]) == {"200"}
    assert paths["/readyz"]["get"]["security"] == [{}]
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}


def test_schema_describes_the_job_actions_queues_and_schedules(db):
    schema = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    operations = [operation for path in paths.values() for operation in path.values()]
    operation_ids = [operation["operationId"] for operation in operations]
    assert len(operation_ids) == len(set(operation_ids))
    bulk = paths["/jobs/bulk"]["post"]
    assert {"201", "400", "413"} <= set(bulk["responses"])
    assert "jobs" in schema["components"]["schemas"]["BulkJobsRequest"]["properties"]
    for action in ("cancel", "retry"):
        responses = paths[f"/jobs/{{job_id}}/{action}"]["post"]["responses"]
        assert {"200", "400", "404", "409"} <= set(responses)
        assert responses["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Conflict"}
    assert {"200", "400"} <= set(paths["/queues/{name}/pause"]["post"]["responses"])
    assert paths["/queues"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    create_schedule = paths["/schedules"]["post"]
    assert {"201", "400", "409"} <= set(create_schedule["responses"])
    assert "Location" in create_schedule["responses"]["201"]["headers"]
    assert set(paths["/schedules/{name}"]) == {"get", "patch", "delete"}
    assert {"204", "404"} <= set(paths["/schedules/{name}"]["delete"]["responses"])
    assert "content" not in paths["/schedules/{name}"]["delete"]["responses"]["204"]
    assert "PatchedScheduleInputRequest" in schema["components"]["schemas"]


@pytest.mark.not_on_congodb("unique indexes")
def test_the_new_endpoints_answer_as_described(store, settings):
    """The answers fuzzing seldom reaches (it cannot guess a job id or a schedule name)
    match the description: validated by schemathesis against the live schema."""
    # The checks of `make fuzz` (.ci/fuzz); the API is open here, so not the auth checks.
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]

    settings.JOBQUEUE_API_AUTH = "open"
    schema = schemathesis.openapi.from_wsgi("/api/schema", get_wsgi_application())
    json_body = {"Content-Type": "application/json"}

    def call(path, method, expected_status, **kwargs):
        case = schema[path][method].Case(**kwargs)
        response = case.call()
        assert response.status_code == expected_status, response.text
        case.validate_response(response, checks=checks)
        return response.json() if response.content else None

    email = {"to": "user@example.com", "subject": "Hi", "body": "Hi"}
    job = call("/jobs", "POST", 201, body={"type": "email", "payload": email, "uniqueKey": "u1"}, headers=json_body)
    call("/jobs", "POST", 200, body={"type": "email", "payload": email, "uniqueKey": "u1"}, headers=json_body)
    bad_bulk = {"jobs": [{"type": "email", "payload": email}, {"type": "email", "payload": {"to": 1}}]}
    call("/jobs/bulk", "POST", 400, body=bad_bulk, headers=json_body)
    call("/jobs/bulk", "POST", 201, body={"jobs": [{"type": "email", "payload": email}]}, headers=json_body)
    call("/jobs/{job_id}/retry", "POST", 409, path_parameters={"job_id": job["id"]})
    call("/jobs/{job_id}/cancel", "POST", 200, path_parameters={"job_id": job["id"]})
    call("/jobs/{job_id}/cancel", "POST", 409, path_parameters={"job_id": job["id"]})
    call("/jobs/{job_id}/cancel", "POST", 404, path_parameters={"job_id": "0" * 24})
    call("/queues", "GET", 200)
    call("/queues/{name}/pause", "POST", 200, path_parameters={"name": "emails"})
    call("/queues/{name}/resume", "POST", 400, path_parameters={"name": "Not A Queue"})
    digest = {"name": "digest", "type": "email", "payload": email, "cron": "0 8 * * *"}
    call("/schedules", "POST", 201, body=digest, headers=json_body)
    call("/schedules", "POST", 409, body=digest, headers=json_body)
    call("/schedules", "POST", 400, body={**digest, "name": "other", "cron": "never"}, headers=json_body)
    call("/schedules", "GET", 200)
    call(
        "/schedules/{name}",
        "PATCH",
        200,
        path_parameters={"name": "digest"},
        body={"enabled": False},
        headers=json_body,
    )
    call("/schedules/{name}", "GET", 200, path_parameters={"name": "digest"})
    call("/schedules/{name}", "DELETE", 204, path_parameters={"name": "digest"})
    call("/schedules/{name}", "GET", 404, path_parameters={"name": "digest"})
