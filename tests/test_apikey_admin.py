"""API keys in the admin: created with the key shown once, listed by prefix, revoked."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apikeys.models import ApiKey

KEYS = "/admin/apikeys/apikey/"


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "a-long-test-password"))
    return client


def test_adding_a_key_shows_it_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post(
        f"{KEYS}add/",
        {"name": "billing", "scopes": ["enqueue", "read"], "job_types": "email, noop", "max_priority": "5"},
        follow=True,
    )

    shown = re.search(r"copy it now: (jq_\w+_[\w-]+)", response.content.decode())
    assert shown, response.content.decode()[:2000]
    api_key = ApiKey.objects.get()
    assert (api_key.scopes, api_key.job_types, api_key.max_priority) == (["enqueue", "read"], ["email", "noop"], 5)
    assert ApiKey.find_active(shown[1]) == api_key
    assert shown[1] not in str(ApiKey.objects.values().get())
    listing = admin_client.get(KEYS).content.decode()
    assert api_key.prefix in listing and shown[1] not in listing


def test_adding_a_key_without_scopes_is_refused_and_stores_nothing(admin_client):
    response = admin_client.post(f"{KEYS}add/", {"name": "nothing", "job_types": ""})

    assert response.status_code == 200
    assert not ApiKey.objects.exists()


def test_revoke_action_revokes_and_logs(admin_client):
    api_key, raw_key = ApiKey.create_key("old", scopes=["read"])

    admin_client.post(KEYS, {"action": "revoke_keys", "_selected_action": [api_key.pk]})

    api_key.refresh_from_db()
    assert api_key.is_revoked
    assert ApiKey.find_active(raw_key) is None
    assert "revoked" in admin_client.get(KEYS).content.decode()
