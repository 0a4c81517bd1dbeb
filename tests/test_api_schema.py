"""The OpenAPI description and its Swagger UI."""

import io

from django.core.management import call_command
from rest_framework.test import APIClient


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
