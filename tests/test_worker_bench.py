"""``benchqueue`` runs end to end and reports every figure (no timing is asserted)."""

import io
import json
import os
import re
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs.management.commands.benchqueue import TMPFS_DIR

FIGURES = [
    r"Enqueue: +\d+ jobs/s",
    r"Processing: +\d+ jobs/s +\(50 of 50 completed",
    r"Pickup, same process \(wake-up\): p50 [\d.]+ ms, p99 [\d.]+ ms",
    r"Pickup, other process \(polling every [\d.]+ s\): p50 [\d.]+ ms, p99 [\d.]+ ms",
]


@pytest.fixture(autouse=True)
def _fast_polling(settings):
    settings.JOBQUEUE_POLL_INTERVAL = 0.02


def test_benchqueue_on_mongomock_reports_rates_and_latencies_but_no_round_trips():
    out = io.StringIO()
    call_command("benchqueue", "--store=mongomock", "--jobs=50", "--concurrency=4", "--probes=3", stdout=out)

    text = out.getvalue()
    assert "MongoDB at mongomock" in text
    for figure in FIGURES:
        assert re.search(figure, text), f"{figure!r} missing from:\n{text}"
    # mongomock is no driver: no figure rather than a made-up one.
    assert "Round trips: not measured" in text


def test_benchqueue_on_sql_uses_a_temporary_database_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBQUEUE_POLL_INTERVAL", "0.02")
    database = tmp_path / "bench.sqlite3"
    out = io.StringIO()
    call_command(
        "benchqueue", "--store", "sql", "--database", str(database), "--jobs", "50", "--probes", "3", stdout=out
    )

    text = out.getvalue()
    assert f"SQLite at {database}" in text
    for figure in [*FIGURES, r"Round trips: +\d+\.\d\d per job +\(enqueue \d+\.\d\d, claim \d+\.\d\d, record "]:
        assert re.search(figure, text), f"{figure!r} missing from:\n{text}"
    assert database.exists()


def test_benchqueue_json_line_carries_the_figures_and_probes_0_skips_pickup(tmp_path):
    database = tmp_path / "bench.sqlite3"
    out = io.StringIO()
    call_command("benchqueue", "--store=sql", f"--database={database}", "--jobs=40", "--probes=0", "--json", stdout=out)

    lines = out.getvalue().splitlines()
    figures = json.loads(lines[-1])
    assert figures["jobs"] == 40
    assert figures["completed"] == 40
    assert figures["enqueue_per_second"] > 0
    assert figures["process_per_second"] > 0
    assert figures["enqueue_us_per_job"] == pytest.approx(1e6 / figures["enqueue_per_second"])
    assert re.search(r"\d+ µs per enqueue, of which CPU \d+ µs user", out.getvalue())
    assert figures["process_cpu_us_per_job"] > 0
    assert re.search(r"\d+ µs of CPU per job \(every thread of this process\)", out.getvalue())
    assert "Pickup" not in out.getvalue()
    # SQLite: the enqueue's time split between SQLite's calls and the Python around them.
    assert re.search(
        r"Split: +\d+ µs of CPU per enqueue on a pass of its own: \d+ µs inside SQLite's calls", out.getvalue()
    )
    assert 0 < figures["enqueue_sqlite_cpu_us_per_job"]
    assert 0 < figures["enqueue_python_cpu_us_per_job"]


@pytest.mark.skipif(not TMPFS_DIR.is_dir(), reason=f"no {TMPFS_DIR} on this machine")
def test_benchqueue_tmpfs_runs_on_a_scratch_file_in_ram_and_removes_it():
    out = io.StringIO()
    call_command("benchqueue", "--store=sql", "--tmpfs", "--jobs=20", "--probes=0", stdout=out)

    used = re.search(rf"SQLite at ({TMPFS_DIR}/jobqueue-bench-\w+)/bench.sqlite3", out.getvalue())
    assert used
    assert re.search(r"Processing: +\d+ jobs/s +\(20 of 20 completed", out.getvalue())
    # Only its own folder: other benchmarks may be running beside this test.
    assert not Path(used.group(1)).exists()


def test_benchqueue_refuses_tmpfs_with_a_database_file_of_its_own(tmp_path):
    database = tmp_path / "bench.sqlite3"
    with pytest.raises(CommandError, match="--tmpfs"):
        call_command("benchqueue", "--store=sql", "--tmpfs", f"--database={database}", stdout=io.StringIO())
    assert not database.exists()


@pytest.mark.parametrize("store", ["sql", "mongomock"])
def test_benchqueue_finished_compares_enqueues_and_claims_on_an_empty_table_and_beside_finished_jobs(tmp_path, store):
    database = ["--database", str(tmp_path / "bench.sqlite3")] if store == "sql" else []
    out = io.StringIO()
    call_command(
        "benchqueue", f"--store={store}", *database, "--jobs=30", "--finished=500", "--probes=0", "--json", stdout=out
    )

    text = out.getvalue()
    assert re.search(r"Enqueue, empty table: +\d+ jobs/s, CPU \d+ µs per job", text)
    assert re.search(r"Claim, empty table: +\d+ jobs/s processed, \d+ µs in store.claim per job", text)
    assert "Pre-filled 500 finished jobs" in text
    assert re.search(r"Enqueue, 500 finished jobs: +\d+ jobs/s", text)
    assert re.search(r"Claim, 500 finished jobs: +\d+ jobs/s processed", text)
    assert re.search(r"beside 500 finished jobs: enqueue rate x[\d.]+, claim time per job x", text)
    assert re.search(r"Processing: +\d+ jobs/s +\(30 of 30 completed", text)
    assert json.loads(text.splitlines()[-1])["completed"] == 30


def test_benchqueue_refuses_a_database_url_that_is_not_postgresql(tmp_path):
    database = tmp_path / "bench.sqlite3"
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("benchqueue", f"--database-url=sqlite:///{database}", "--probes=0", stdout=io.StringIO())
    assert not database.exists()


def test_benchqueue_refuses_a_database_url_with_tmpfs():
    with pytest.raises(CommandError, match="--database-url"):
        call_command("benchqueue", "--database-url=postgres://u:p@127.0.0.1:1/db", "--tmpfs", stdout=io.StringIO())


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="needs a PostgreSQL server: DATABASE_URL=postgres://… (make test-postgres)",
)
def test_benchqueue_on_postgresql_runs_in_a_throwaway_database_and_drops_it():
    url = os.environ["DATABASE_URL"]
    out = io.StringIO()
    call_command("benchqueue", f"--database-url={url}", "--jobs=30", "--probes=0", stdout=out)

    name = re.search(r"Store: PostgreSQL at \S+, database (jobqueue_bench_\w+)", out.getvalue()).group(1)
    assert re.search(r"Processing: +\d+ jobs/s +\(30 of 30 completed", out.getvalue())
    with psycopg.connect(url, autocommit=True) as server:
        assert server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall() == []


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="needs a PostgreSQL server: DATABASE_URL=postgres://… (make test-postgres)",
)
def test_benchqueue_takes_django_options_in_the_database_url_query():
    # server_side_binding is Django's own option; psycopg would refuse it in a conninfo.
    url = os.environ["DATABASE_URL"].split("?")[0] + "?server_side_binding=true&prepare_threshold=5"
    out = io.StringIO()
    call_command("benchqueue", f"--database-url={url}", "--jobs=30", "--probes=0", stdout=out)

    assert re.search(r"Processing: +\d+ jobs/s +\(30 of 30 completed", out.getvalue())
