"""Rate limits: per API key (per address when open), counted in the shared database cache."""

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from jobs.stores import get_store


@pytest.fixture
def throttled(settings, transactional_db):
    settings.JOBQUEUE_THROTTLE_RATES = {"enqueue": "2/min", "read": "3/min"}
    cache = caches[settings.JOBQUEUE_THROTTLE_CACHE]
    cache.clear()
    yield settings
    cache.clear()


def key_client(settings, name="k") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.create_key(name, scopes=['enqueue', 'read'])[1]}")
    return client


def test_throttle_counts_live_in_the_database_cache(settings):
    assert settings.CACHES[settings.JOBQUEUE_THROTTLE_CACHE]["BACKEND"].endswith("DatabaseCache")


def test_enqueue_over_the_rate_is_429_with_retry_after_and_stores_nothing(throttled, store):
    client = APIClient()
    for _ in range(2):
        assert client.post("/jobs", {"type": "noop"}, format="json").status_code == 201

    refused = client.post("/jobs", {"type": "noop"}, format="json")

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "throttled" in refused.json()["error"].lower()
    assert len(get_store().list()) == 2
    # reads have their own budget
    assert client.get("/jobs").status_code == 200


def test_each_api_key_has_its_own_budget(throttled, store):
    throttled.JOBQUEUE_API_AUTH = "required"
    first, second = key_client(throttled, "first"), key_client(throttled, "second")
    for _ in range(3):
        assert first.get("/stats").status_code == 200

    assert first.get("/stats").status_code == 429
    assert second.get("/stats").status_code == 200
