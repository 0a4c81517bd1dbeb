"""Rate limits: per API key (per address when open), counted in a side SQLite file
(embedded database) or in the main database (server database)."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apikeys import throttle_counters
from apikeys.models import ApiKey, ThrottleWindow
from apikeys.throttling import ScopedApiThrottle
from jobs.stores import get_store


@pytest.fixture(params=["side-file", "database"])
def throttled(request, settings, transactional_db, monkeypatch, tmp_path):
    settings.JOBQUEUE_THROTTLE_SQLITE = str(tmp_path / "throttle.sqlite3") if request.param == "side-file" else None
    settings.JOBQUEUE_THROTTLE_RATES = {"enqueue": "2/min", "read": "3/min"}
    # Mid-window, so that the test's requests never straddle two windows.
    monkeypatch.setattr(ScopedApiThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))
    return settings


def key_client(settings, name="k") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.create_key(name, scopes=['enqueue', 'read'])[1]}")
    return client


def test_enqueue_over_the_rate_is_429_with_retry_after_and_stores_nothing(throttled, store):
    client = APIClient()
    for _ in range(2):
        assert client.post("/jobs", {"type": "noop"}, format="json").status_code == 201

    refused = client.post("/jobs", {"type": "noop"}, format="json")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert "throttled" in refused.json()["error"].lower()
    assert len(get_store().list_jobs(limit=500)) == 2
    # reads have their own budget
    assert client.get("/jobs").status_code == 200


def test_each_api_key_has_its_own_budget(throttled, store):
    throttled.JOBQUEUE_API_AUTH = "required"
    first, second = key_client(throttled, "first"), key_client(throttled, "second")
    for _ in range(3):
        assert first.get("/stats").status_code == 200

    assert first.get("/stats").status_code == 429
    assert second.get("/stats").status_code == 200


def test_the_next_window_allows_again(throttled, store, monkeypatch):
    client = APIClient()
    for _ in range(2):
        client.post("/jobs", {"type": "noop"}, format="json")
    assert client.post("/jobs", {"type": "noop"}, format="json").status_code == 429

    monkeypatch.setattr(ScopedApiThrottle, "timer", staticmethod(lambda: 1_800_000_090.0))

    assert client.post("/jobs", {"type": "noop"}, format="json").status_code == 201
    assert stored_windows(throttled) == 1  # the past window is dropped


def test_concurrent_requests_are_all_counted(throttled, store):
    throttled.JOBQUEUE_THROTTLE_RATES = {"enqueue": "5/min", "read": None}
    count = 12
    start = threading.Barrier(count, timeout=10)
    codes = []

    def send():
        start.wait()
        try:
            codes.append(APIClient().post("/jobs", {"type": "noop"}, format="json").status_code)
        finally:
            connections.close_all()  # this thread's, kept open by CONN_MAX_AGE otherwise

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(codes) == [201] * 5 + [429] * 7
    assert len(get_store().list_jobs(limit=500)) == 5


def test_an_embedded_database_keeps_no_throttle_rows(throttled, store):
    # The side file takes every count, so that a GET writes nothing to the job database.
    if not throttled.JOBQUEUE_THROTTLE_SQLITE:
        pytest.skip("counts in the main database by design")
    assert APIClient().get("/jobs").status_code == 200

    assert ThrottleWindow.objects.count() == 0
    assert stored_windows(throttled) == 1


def stored_windows(settings) -> int:
    if settings.JOBQUEUE_THROTTLE_SQLITE:
        connection = throttle_counters._side_file(settings.JOBQUEUE_THROTTLE_SQLITE)
        return connection.execute("SELECT count(*) FROM throttle_window").fetchone()[0]
    return ThrottleWindow.objects.count()


def count_from_threads_at_once(threads: int) -> tuple[list[int], list[Exception]]:
    """Each of ``threads`` threads counts one request of the same key at the same moment."""
    start = threading.Barrier(threads, timeout=10)
    counts, errors = [], []

    def count():
        start.wait()
        try:
            counts.append(throttle_counters.count_request("k", 1_800_000_000))
        except Exception as error:  # the failure the test below is about
            errors.append(error)

    workers = [threading.Thread(target=count) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return counts, errors


def test_a_fresh_counters_file_opened_by_many_threads_at_once_counts_every_request(settings, tmp_path):
    # Two connections switching a new file to WAL at once could deadlock, and SQLite then
    # failed one at once with "database is locked": a 500 on a fresh server's first requests.
    for round_number in range(40):
        settings.JOBQUEUE_THROTTLE_SQLITE = str(tmp_path / f"throttle-{round_number}.sqlite3")

        counts, errors = count_from_threads_at_once(12)

        assert errors == []
        assert sorted(counts) == list(range(1, 13))
