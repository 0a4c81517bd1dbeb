"""Settings come from the environment, and bad values fail loudly at start."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobqueue.env import envbool, envfloat, envint, envlist
from tests.serve_support import manage_check


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False)])
def test_envbool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert envbool("FLAG", not expected) is expected


def test_unset_variables_take_their_defaults(monkeypatch):
    monkeypatch.delenv("UNSET_VAR", raising=False)
    assert envbool("UNSET_VAR", True) is True
    assert envint("UNSET_VAR", 7) == 7
    assert envfloat("UNSET_VAR", 0.25) == 0.25
    assert envlist("UNSET_VAR", ["a"]) == ["a"]


def test_envlist_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert envlist("HOSTS", []) == ["a.example", "b.example"]


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (lambda: envbool("VALUE", False), "maybe", "VALUE='maybe' is not a boolean"),
        (lambda: envint("VALUE", 1), "three", "VALUE='three' is not an integer"),
        (lambda: envint("VALUE", 1, minimum=1), "0", "VALUE=0 is below the minimum 1"),
        (lambda: envint("VALUE", 1, maximum=5), "6", "VALUE=6 is above the maximum 5"),
        (lambda: envfloat("VALUE", 1.0), "fast", "VALUE='fast' is not a number"),
        (lambda: envfloat("VALUE", 1.0), "nan", "is not a finite number"),
    ],
)
def test_bad_values_raise_improperly_configured_naming_the_variable(monkeypatch, reader, raw, message):
    monkeypatch.setenv("VALUE", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


def test_the_service_refuses_to_start_with_a_bad_setting(tmp_path):
    result = manage_check(tmp_path, JOBQUEUE_MAX_RETRIES="lots")
    assert result.returncode != 0
    assert "JOBQUEUE_MAX_RETRIES='lots' is not an integer" in result.stderr


# Serves two requests through Django's WSGI handler, as gunicorn does, and prints whether
# both used the same open SQLite connection (request_finished closes connections whose
# CONN_MAX_AGE has run out; 0 means at the end of every request).
_TWO_REQUESTS = """
import django
from wsgiref.util import setup_testing_defaults
from django.core.management import call_command
from django.db import connection

django.setup()
call_command("migrate", verbosity=0, interactive=False)
from jobqueue.wsgi import application

opened = []
for _ in range(2):
    environ = {"PATH_INFO": "/stats", "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    statuses = []
    response = application(environ, lambda status, headers: statuses.append(status))
    b"".join(response)
    response.close()
    assert statuses == ["200 OK"], statuses
    opened.append(connection.connection)
print(connection.vendor, opened[0] is not None and opened[0] is opened[1])
"""


def test_the_default_sqlite_database_keeps_its_connection_between_requests(tmp_path):
    env = {
        **os.environ,
        "JOBQUEUE_VAR_DIR": str(tmp_path),
        "JOBQUEUE_API_AUTH": "open",
        "DJANGO_SETTINGS_MODULE": "jobqueue.settings",
    }
    for name in ("DATABASE_URL", "MONGODB_URI"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", _TWO_REQUESTS], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sqlite", "True"]
