"""The ``JOBQUEUE_STORE`` setting chooses the store by dotted path, like Django's own
backends, and the SQL store runs without the MongoDB driver installed."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobs.stores import build_store, get_store, use_store
from jobs.stores.sql import SqlJobStore

ROOT = Path(__file__).resolve().parent.parent


class LabelledSqlStore(SqlJobStore):
    """A third store, defined outside ``jobs.stores``: the setting alone selects it."""

    def __init__(self, using: str = "default", label: str = ""):
        super().__init__(using)
        self.label = label


def test_the_backend_named_in_the_setting_is_built_with_its_options(settings, transactional_db):
    settings.JOBQUEUE_STORE = {
        "BACKEND": "tests.test_store_selection.LabelledSqlStore",
        "OPTIONS": {"label": "third"},
    }
    previous = use_store(None)
    try:
        store = get_store()
        assert isinstance(store, LabelledSqlStore) and store.label == "third"
    finally:
        use_store(previous)


@pytest.mark.parametrize(
    "backend, message",
    [("jobs.stores.nosuch.Store", "cannot be imported"), ("jobs.domain.Job", "is not a JobStore class")],
)
def test_a_bad_backend_path_is_improperly_configured_naming_it(backend, message):
    with pytest.raises(ImproperlyConfigured, match=message) as raised:
        build_store({"BACKEND": backend, "OPTIONS": {}})
    assert backend in str(raised.value)


def _settings_in_child(env: dict) -> str:
    code = "from django.conf import settings; print(settings.JOBQUEUE_STORE)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "jobqueue.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_the_environment_builds_the_setting(tmp_path):
    sql = _settings_in_child({"MONGODB_URI": "", "JOBQUEUE_VAR_DIR": str(tmp_path)})
    assert "jobs.stores.sql.SqlJobStore" in sql
    mongo = _settings_in_child(
        {"MONGODB_URI": "mongodb://db:27017/q", "MONGODB_TIMEOUT_SECONDS": "2", "JOBQUEUE_VAR_DIR": str(tmp_path)}
    )
    assert "jobs.stores.mongo.MongoJobStore" in mongo
    assert "'uri': 'mongodb://db:27017/q'" in mongo and "'timeout_seconds': 2.0" in mongo


def test_the_sql_store_works_with_pymongo_and_bson_unimportable(tmp_path):
    """Enqueue, list and the API's and admin's modules, in a process where importing
    pymongo or bson fails."""
    script = textwrap.dedent(
        """
        import sys
        for name in ("pymongo", "bson"):
            sys.modules[name] = None  # any import of it raises ImportError
        import django
        django.setup()
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        import jobs.admin, jobs.views, jobs.worker  # noqa: F401 (nothing on the way needs pymongo)
        from jobs import enqueue, services
        job = enqueue("email", {"to": "user@example.com"})
        assert [listed.id for listed in services.list_jobs()] == [job.id]
        print(type(services.get_job(job.id)).__name__, job.id, services.store_description()[:3])
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "jobqueue.settings",
        "JOBQUEUE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        "MONGODB_URI": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    kind, job_id, _ = result.stdout.split()
    assert kind == "Job" and len(job_id) == 24 and int(job_id, 16) >= 0
