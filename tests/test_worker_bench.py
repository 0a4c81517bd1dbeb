"""``benchqueue`` runs end to end and reports every figure (no timing is asserted)."""

import io
import re

import pytest
from django.core.management import call_command

FIGURES = [
    r"Enqueue: +\d+ jobs/s",
    r"Processing: +\d+ jobs/s +\(50 of 50 completed",
    r"Round trips: +\d+\.\d\d per job",
    r"Pickup, same process \(wake-up\): p50 [\d.]+ ms, p99 [\d.]+ ms",
    r"Pickup, other process \(polling every [\d.]+ s\): p50 [\d.]+ ms, p99 [\d.]+ ms",
]


@pytest.fixture(autouse=True)
def _fast_polling(settings):
    settings.JOBQUEUE_POLL_INTERVAL = 0.02


def test_benchqueue_on_mongomock_reports_rates_latencies_and_round_trips():
    out = io.StringIO()
    call_command("benchqueue", "--store=mongomock", "--jobs=50", "--concurrency=4", "--probes=3", stdout=out)

    text = out.getvalue()
    assert "MongoDB at mongomock" in text
    for figure in FIGURES:
        assert re.search(figure, text), f"{figure!r} missing from:\n{text}"


def test_benchqueue_on_sql_uses_a_temporary_database_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBQUEUE_POLL_INTERVAL", "0.02")
    database = tmp_path / "bench.sqlite3"
    out = io.StringIO()
    call_command(
        "benchqueue", "--store", "sql", "--database", str(database), "--jobs", "50", "--probes", "3", stdout=out
    )

    text = out.getvalue()
    assert f"SQLite at {database}" in text
    for figure in FIGURES:
        assert re.search(figure, text), f"{figure!r} missing from:\n{text}"
    assert database.exists()
