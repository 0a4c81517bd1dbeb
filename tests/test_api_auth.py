"""API keys: required by default, scopes, job-type and priority limits, revocation,
staff sessions. Every refusal stores and changes nothing."""

import io
import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from jobs import services
from jobs.stores import get_store

EMAIL = {"to": "user@example.com", "subject": "Hi", "body": "Hello"}


@pytest.fixture
def required(settings):
    settings.JOBQUEUE_API_AUTH = "required"
    return settings


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def new_key(scopes, **limits) -> str:
    return ApiKey.create_key("test", scopes=scopes, **limits)[1]


def post(client, body, **headers):
    return client.post("/jobs", body, format="json", headers=headers)


def test_auth_is_required_unless_configured_open():
    environment = {key: value for key, value in os.environ.items() if key != "JOBQUEUE_API_AUTH"}
    environment["DJANGO_SETTINGS_MODULE"] = "jobqueue.settings"
    code = "import django; django.setup(); from django.conf import settings; print(settings.JOBQUEUE_API_AUTH)"

    shown = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60)

    assert shown.stdout.strip() == "required", shown.stderr


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/jobs"), ("get", "/stats"), ("get", "/jobs/6750a1c2e4b0a1b2c3d4e5f6")]
)
def test_no_key_is_401_with_bearer_challenge(required, store, method, path):
    response = getattr(APIClient(), method)(path)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["error"]


def test_post_without_key_is_401_and_stores_nothing(required, store):
    response = post(APIClient(), {"type": "email", "payload": EMAIL})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert get_store().list_jobs(limit=500) == []


def test_unknown_key_is_401_and_stores_nothing(required, store):
    response = post(key_client("jq_00000000_nope"), {"type": "email", "payload": EMAIL})

    assert response.status_code == 401
    assert get_store().list_jobs(limit=500) == []


def test_enqueue_key_posts_and_read_key_reads(required, store):
    created = post(key_client(new_key(["enqueue"])), {"type": "email", "payload": EMAIL})
    assert created.status_code == 201

    reader = key_client(new_key(["read"]))
    assert reader.get(f"/jobs/{created.json()['id']}").json()["id"] == created.json()["id"]
    assert reader.get("/stats").status_code == 200


def test_read_key_cannot_enqueue_and_nothing_is_stored(required, store):
    response = post(key_client(new_key(["read"])), {"type": "email", "payload": EMAIL})

    assert response.status_code == 403
    assert "'enqueue' scope" in response.json()["error"]
    assert get_store().list_jobs(limit=500) == []


def test_enqueue_key_cannot_read(required, store):
    response = key_client(new_key(["enqueue"])).get("/jobs")

    assert response.status_code == 403
    assert "'read' scope" in response.json()["error"]


def test_key_limited_to_types_refuses_other_types_and_stores_nothing(required, store):
    client = key_client(new_key(["enqueue"], job_types=["noop"]))

    refused = post(client, {"type": "email", "payload": EMAIL})
    assert refused.status_code == 403
    assert "'email'" in refused.json()["error"] and "noop" in refused.json()["error"]
    assert get_store().list_jobs(limit=500) == []
    assert post(client, {"type": "noop"}).status_code == 201


def test_key_limited_in_priority_refuses_higher_and_stores_nothing(required, store):
    client = key_client(new_key(["enqueue"], max_priority=5))

    refused = post(client, {"type": "noop", "priority": 6})
    assert refused.status_code == 403
    assert "priority 6" in refused.json()["error"] and "maximum priority is 5" in refused.json()["error"]
    assert get_store().list_jobs(limit=500) == []
    assert post(client, {"type": "noop", "priority": 5}).status_code == 201


def test_revoked_key_stops_working_at_once(required, store):
    api_key, raw_key = ApiKey.create_key("soon revoked", scopes=["enqueue", "read"])
    client = key_client(raw_key)
    assert client.get("/jobs").status_code == 200

    api_key.revoke()

    assert client.get("/jobs").status_code == 401
    assert post(client, {"type": "noop"}).status_code == 401
    assert get_store().list_jobs(limit=500) == []


def test_only_a_hash_of_the_key_is_stored(required, db):
    api_key, raw_key = ApiKey.create_key("hashed", scopes=["read"])
    stored = ApiKey.objects.values().get(pk=api_key.pk)

    assert raw_key not in str(stored)
    assert raw_key.startswith(f"jq_{api_key.prefix}_")
    assert ApiKey.find_active(raw_key) == api_key
    assert ApiKey.find_active(raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")) is None


def test_createapikey_prints_a_working_key_once(required, store):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "createapikey",
        "ci",
        "--scopes",
        "enqueue,read",
        "--types",
        "noop",
        "--max-priority",
        "3",
        stdout=out,
        stderr=err,
    )

    raw_key = out.getvalue().strip()
    stored = ApiKey.objects.get()
    assert (stored.name, stored.scopes, stored.job_types, stored.max_priority) == (
        "ci",
        ["enqueue", "read"],
        ["noop"],
        3,
    )
    assert stored.prefix in err.getvalue()
    assert post(key_client(raw_key), {"type": "noop"}).status_code == 201


def test_createapikey_refuses_unknown_scope_and_stores_nothing(db):
    with pytest.raises(CommandError, match="unknown scope delete"):
        call_command("createapikey", "x", "--scopes", "read,delete", stdout=io.StringIO())
    assert not ApiKey.objects.exists()


def staff_client(*perms) -> APIClient:
    user = User.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    client = APIClient()
    client.force_login(user)
    return client


def test_staff_session_uses_its_django_permissions(required, store):
    services.enqueue("noop", {})
    viewer = staff_client("view_jobrecord")

    assert viewer.get("/jobs").status_code == 200
    refused = viewer.post("/jobs", {"type": "noop"}, format="json")
    assert refused.status_code == 403
    assert "jobs.add_jobrecord" in refused.json()["error"]
    assert len(get_store().list_jobs(limit=500)) == 1


def test_non_staff_session_is_refused(required, store):
    user = User.objects.create_user("plain", password="pw-plain-123")
    client = APIClient()
    client.force_login(user)

    assert client.get("/jobs").status_code == 403


def test_open_mode_needs_no_key(store):
    assert post(APIClient(), {"type": "noop"}).status_code == 201
