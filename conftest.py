"""Shared fixtures: one job store per backend, made the process's store for the test.

``store`` runs a test on every backend: the embedded SQL store on Django's database
(a real SQLite file, or PostgreSQL when ``DATABASE_URL`` says so), the MongoDB store on
mongomock, and on a real MongoDB when ``MONGODB_URI`` is set (the run reports that
variant as skipped, with the reason, when it is not). Every test that talks to the
server at ``MONGODB_URI`` carries the ``mongodb`` marker: ``pytest -m mongodb`` runs
exactly those.

Markers that skip, with their reason, where a test cannot apply:

- ``sqlite_only``: the test is about SQLite itself; skipped on other databases.
- ``not_on_congodb("what it lacks")``: the test needs a MongoDB feature that CongoDB
  (the wire-protocol server ``make test-mongo`` runs) does not have; skipped only on
  the real-server variant and only when ``MONGODB_SERVER=congodb``.
"""

import os
import uuid

import pytest
from django.db import connections

from jobs.stores import use_store

REAL_MONGODB_URI = os.environ.get("MONGODB_URI", "")
# What MONGODB_URI points at: "congodb" skips the tests marked not_on_congodb there.
MONGODB_SERVER = os.environ.get("MONGODB_SERVER", "mongodb")


# Fixtures whose "mongodb" variant is the server at MONGODB_URI.
STORE_FIXTURES = ("store", "mongo_store")


def _talks_to_the_real_server(item) -> bool:
    params = getattr(item, "callspec", None) and item.callspec.params
    return any(params and params.get(name) == "mongodb" for name in STORE_FIXTURES) or bool(
        item.get_closest_marker("mongodb")
    )


def pytest_collection_modifyitems(config, items):
    from django.db import connections

    database = connections["default"]
    for item in items:
        if _talks_to_the_real_server(item):
            item.add_marker(pytest.mark.mongodb)
        if item.get_closest_marker("sqlite_only") and database.vendor != "sqlite":
            item.add_marker(
                pytest.mark.skip(reason=f"about SQLite only; this run's database is {database.display_name}")
            )
        lacking = item.get_closest_marker("not_on_congodb")
        if lacking and MONGODB_SERVER == "congodb" and _talks_to_the_real_server(item):
            reason = f"CongoDB lacks {lacking.args[0]} (runs on a real MongoDB)"
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    """One line per skip reason, with its count (``-ra`` would list every test)."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.section("skipped, by reason")
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
            terminalreporter.line(f"{count:5d} skipped: {reason}")


STORE_KINDS = ["sql", "mongomock", "mongodb"]


@pytest.fixture(autouse=True)
def _job_settings(settings):
    """Every test starts on the embedded store, demo handlers on, fast defaults."""
    settings.MONGODB_URI = ""
    settings.JOBQUEUE_STORE = {"BACKEND": "jobs.stores.sql.SqlJobStore", "OPTIONS": {}}
    settings.JOBQUEUE_DEMO_HANDLERS = True
    settings.JOBQUEUE_RETRY_BASE_DELAY = 2.0
    # The API's own tests are about the API, not about keys: they run it open and
    # unthrottled. tests/test_api_auth.py, test_throttling.py turn both back on.
    settings.JOBQUEUE_API_AUTH = "open"
    settings.JOBQUEUE_THROTTLE_RATES = {"enqueue": None, "read": None}
    # Pages find static files through the finders, without `collectstatic` first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    yield settings


def make_store(kind: str):
    """A fresh, empty store of ``kind``; skips ``mongodb`` without a server. Hand it to
    ``discard_store`` when done.

    The caller must hold ``transactional_db``: the SQL store is used from several
    threads, which only see committed data.
    """
    if kind == "sql":
        from jobs.stores.sql import SqlJobStore

        return SqlJobStore()
    if kind == "mongomock":
        from tests.mongomock_store import MongomockJobStore

        return MongomockJobStore("jobqueue_test")
    if kind == "mongodb":
        if not REAL_MONGODB_URI:
            pytest.skip("real MongoDB not tested: MONGODB_URI is not set (mongomock variant ran instead)")
        from jobs.stores.mongo import MongoJobStore
        from tests.roundtrip_support import LISTENER

        return MongoJobStore.from_uri(
            REAL_MONGODB_URI, database_name=f"jobqueue_test_{uuid.uuid4().hex[:8]}", event_listeners=[LISTENER]
        )
    raise ValueError(kind)


def discard_store(kind: str, job_store) -> None:
    """Drop a real server's test database, then close the client (in that order: a
    closed client cannot drop anything)."""
    if kind == "mongodb":
        job_store.drop_database()
    job_store.close()


@pytest.fixture(params=STORE_KINDS)
def store(request, transactional_db):
    """Each backend in turn, installed as the process's store."""
    job_store = make_store(request.param)
    try:
        job_store.ensure_ready()
        previous = use_store(job_store)
        yield job_store
        use_store(previous)
    finally:
        discard_store(request.param, job_store)


@pytest.fixture
def sql_store(request, transactional_db):
    """The embedded SQL store alone, installed as the process's store."""
    job_store = make_store("sql")
    job_store.ensure_ready()
    previous = use_store(job_store)
    yield job_store
    use_store(previous)


@pytest.fixture
def short_busy_timeout():
    """The default connection reopened with a 0.2 s busy timeout (the setting is read
    when a connection opens), put back afterwards."""
    connection = connections["default"]
    options = connection.settings_dict["OPTIONS"]
    previous = options["timeout"]
    connection.close()
    options["timeout"] = 0.2
    yield
    connection.close()
    options["timeout"] = previous


@pytest.fixture
def api(store):
    """A DRF test client for the API, against each backend in turn."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def existing_job(store):
    """One job already in the queue, so "nothing stored" is checked against a non-empty store."""
    from jobs import services
    from tests.api_support import EMAIL

    return services.enqueue("email", EMAIL)


class FakeClock:
    """An injectable clock: tests move time instead of sleeping."""

    def __init__(self, start=None):
        from jobs.timeutil import utc_now

        self.now = start or utc_now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        from datetime import timedelta

        from jobs.timeutil import truncate_ms

        self.now = truncate_ms(self.now + timedelta(seconds=seconds))
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def test_handlers():
    """Job types registered by one test only."""
    from tests.worker_support import TemporaryHandlers

    registry = TemporaryHandlers()
    yield registry
    registry.clear()


@pytest.fixture
def deployment(tmp_path):
    """A file database of its own, for tests that start `runworkers` as real processes."""
    from tests.worker_support import Deployment

    deployed = Deployment(tmp_path)
    yield deployed
    deployed.cleanup()
