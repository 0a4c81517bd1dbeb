"""The OpenAPI description and its Swagger UI."""

from rest_framework.test import APIClient


def test_schema_describes_endpoints_errors_and_headers(settings, db):
    settings.JOBQUEUE_API_AUTH = "required"
    response = APIClient().get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {"/jobs", "/jobs/{job_id}", "/stats"}
    create = schema["paths"]["/jobs"]["post"]
    assert {"201", "400", "401", "403", "413", "415", "422", "429"} <= set(create["responses"])
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
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
