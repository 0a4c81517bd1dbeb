"""An API key's ``last_used_at`` is a coarse "last seen": written at most once per
``JOBQUEUE_API_KEY_TOUCH_INTERVAL`` per key, not on every request."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apikeys.models import ApiKey

START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class Clock:
    """``timezone.now`` that moves only when the test says so."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(START)
    monkeypatch.setattr("django.utils.timezone.now", fake)
    return fake


@pytest.fixture
def required(settings):
    settings.JOBQUEUE_API_AUTH = "required"
    settings.JOBQUEUE_API_KEY_TOUCH_INTERVAL = 60
    return settings


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def key_updates(queries) -> int:
    return sum(1 for query in queries if query["sql"].startswith('UPDATE "apikeys_apikey"'))


def stored_last_use(api_key) -> datetime | None:
    return ApiKey.objects.values_list("last_used_at", flat=True).get(pk=api_key.pk)


def test_requests_within_the_interval_write_once_and_one_after_it_writes_again(required, sql_store, clock):
    api_key, raw_key = ApiKey.create_key("busy", scopes=["read"])
    client = key_client(raw_key)

    with CaptureQueriesContext(connection) as first_two:
        assert client.get("/stats").status_code == 200
        clock.now = START + timedelta(seconds=59)
        assert client.get("/stats").status_code == 200
    assert key_updates(first_two.captured_queries) == 1
    assert stored_last_use(api_key) == START

    clock.now = START + timedelta(seconds=60)
    with CaptureQueriesContext(connection) as after_interval:
        assert client.get("/stats").status_code == 200
    assert key_updates(after_interval.captured_queries) == 1
    assert stored_last_use(api_key) == START + timedelta(seconds=60)


def test_a_keyed_request_within_the_interval_reads_its_key_once_and_writes_nothing(required, sql_store, clock):
    _, raw_key = ApiKey.create_key("steady", scopes=["read"])
    client = key_client(raw_key)
    assert client.get("/stats").status_code == 200

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/stats").status_code == 200
    about_keys = [query["sql"] for query in queries.captured_queries if "apikeys_apikey" in query["sql"]]
    assert len(about_keys) == 1 and about_keys[0].startswith("SELECT")


def test_an_interval_of_zero_writes_on_every_request(required, sql_store, clock):
    required.JOBQUEUE_API_KEY_TOUCH_INTERVAL = 0
    api_key, raw_key = ApiKey.create_key("every", scopes=["read"])
    client = key_client(raw_key)

    with CaptureQueriesContext(connection) as queries:
        for second in range(3):
            clock.now = START + timedelta(seconds=second)
            assert client.get("/stats").status_code == 200
    assert key_updates(queries.captured_queries) == 3
    assert stored_last_use(api_key) == START + timedelta(seconds=2)


def test_a_refused_key_records_no_use(required, sql_store, clock):
    api_key, raw_key = ApiKey.create_key("revoked", scopes=["read"])
    api_key.revoke()

    assert key_client(raw_key).get("/stats").status_code == 401
    assert key_client(raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")).get("/stats").status_code == 401
    assert stored_last_use(api_key) is None


def test_record_use_compares_with_the_value_read_with_the_key(required, db):
    api_key, _ = ApiKey.create_key("unit", scopes=["read"])

    assert api_key.record_use(START) is True
    assert api_key.record_use(START + timedelta(seconds=30)) is False
    assert stored_last_use(api_key) == START
    assert api_key.record_use(START + timedelta(seconds=61)) is True
    assert stored_last_use(api_key) == START + timedelta(seconds=61)
    # Another web process reads the row with the key, so it skips the write as well.
    assert ApiKey.objects.get(pk=api_key.pk).record_use(START + timedelta(seconds=90)) is False


def test_a_stored_time_ahead_of_the_clock_is_rewritten(required, db):
    # The clock was stepped back: without this the key would look unused until it caught up.
    api_key, _ = ApiKey.create_key("skewed", scopes=["read"])
    api_key.record_use(START + timedelta(hours=1))

    assert api_key.record_use(START) is True
    assert stored_last_use(api_key) == START


def test_the_admin_states_how_precise_last_used_is(required, db):
    required.JOBQUEUE_API_KEY_TOUCH_INTERVAL = 300
    api_key, _ = ApiKey.create_key("listed", scopes=["read"])
    api_key.record_use(START)
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "a-long-test-password"))

    listing = client.get("/admin/apikeys/apikey/").content.decode()
    page = client.get(f"/admin/apikeys/apikey/{api_key.pk}/change/").content.decode()

    assert "last used (to within 300 s)" in listing.lower()
    assert "last used (to within 300 s)" in page.lower()
