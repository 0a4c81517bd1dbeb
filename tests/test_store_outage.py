"""A store that is locked, slow or down answers ``503`` JSON with ``Retry-After``, within
``JOBQUEUE_STORE_TIMEOUT``, with nothing written; a value the database cannot hold is a
400. Errors outside the API (unknown path, bad Host, a crash) are JSON too."""

import sqlite3

import pytest
from django.db import connections
from pymongo.errors import WTimeoutError
from rest_framework.test import APIClient

from jobs import services
from jobs.stores import StoreRejectedValue, StoreUnavailable

EMAIL = {"to": "user@example.com", "subject": "Hi", "body": "Hello"}


def job_count() -> int:
    return len(services.list_jobs(limit=services.MAX_LIST_LIMIT))


@pytest.fixture
def sqlite_write_lock():
    """Another connection holding SQLite's write lock, as a second writer process would."""
    holder = sqlite3.connect(connections["default"].settings_dict["NAME"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield
    holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.sqlite_only
def test_a_locked_sqlite_store_answers_503_json_with_retry_after_and_stores_nothing(sql_store, short_busy_timeout):
    services.enqueue("email", EMAIL)
    holder = sqlite3.connect(connections["default"].settings_dict["NAME"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = APIClient().post("/jobs", {"type": "email", "payload": EMAIL}, format="json")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert response.status_code == 503, response.content
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"].isdigit()
    assert "locked" in response.json()["error"]
    assert job_count() == 1


@pytest.mark.sqlite_only
def test_the_sql_store_reports_a_locked_database_as_store_unavailable(sql_store, short_busy_timeout, sqlite_write_lock):
    with pytest.raises(StoreUnavailable, match="locked"):
        services.enqueue("email", EMAIL)


def test_a_mongodb_write_concern_timeout_is_store_unavailable(store, monkeypatch):
    if store.kind != "mongodb":
        pytest.skip("MongoDB store only")

    def time_out(*args, **kwargs):
        raise WTimeoutError("waiting for replication timed out", code=64)

    monkeypatch.setattr(store._jobs, "insert_one", time_out)
    response = APIClient().post("/jobs", {"type": "email", "payload": EMAIL}, format="json")
    assert response.status_code == 503, response.content
    assert "Retry-After" in response.headers


def test_an_integer_mongodb_cannot_hold_is_a_400_and_stores_nothing(store):
    if store.kind != "mongodb":
        pytest.skip("MongoDB store only")
    with pytest.raises(StoreRejectedValue):
        services.enqueue("noop", {"big": 2**70})
    response = APIClient().post("/jobs", {"type": "noop", "payload": {"big": 2**70}}, format="json")
    assert response.status_code == 400, response.content
    assert job_count() == 0


# --- errors outside the API ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_path_is_json_404():
    response = APIClient().get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found: /no/such/page"}


@pytest.mark.django_db
def test_a_host_not_allowed_is_json_400():
    response = APIClient().get("/jobs", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "Bad request."}


def test_a_crash_outside_the_api_is_json_500(sql_store, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "queue_stats", crash)
    client = APIClient(raise_request_exception=False)
    response = client.get("/stats")
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert "error" in response.json()
