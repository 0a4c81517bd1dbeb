"""Shared fixtures: one job store per backend, made the process's store for the test.

``store`` runs a test on every backend: the embedded SQL store on a real SQLite file,
the MongoDB store on mongomock, and on a real MongoDB when ``MONGODB_URI`` is set (the
run reports that variant as skipped, with the reason, when it is not).
"""

import os
import uuid

import pytest

from jobs.stores import use_store

REAL_MONGODB_URI = os.environ.get("MONGODB_URI", "")


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


def make_store(kind: str, request):
    """A fresh, empty store of ``kind``; skips ``mongodb`` without a server.

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

        store = MongoJobStore.from_uri(REAL_MONGODB_URI, database_name=f"jobqueue_test_{uuid.uuid4().hex[:8]}")
        request.addfinalizer(store.drop_database)
        return store
    raise ValueError(kind)


@pytest.fixture(params=STORE_KINDS)
def store(request, transactional_db):
    """Each backend in turn, installed as the process's store."""
    job_store = make_store(request.param, request)
    job_store.ensure_ready()
    previous = use_store(job_store)
    yield job_store
    use_store(previous)
    job_store.close()


@pytest.fixture
def sql_store(request, transactional_db):
    """The embedded SQL store alone, installed as the process's store."""
    job_store = make_store("sql", request)
    job_store.ensure_ready()
    previous = use_store(job_store)
    yield job_store
    use_store(previous)


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
