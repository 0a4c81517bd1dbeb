"""``benchqueue`` runs end to end and reports every figure (no timing is asserted)."""

import contextlib
import io
import json
import os
import re
import sqlite3
from pathlib import Path

import psycopg
import pymongo
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from conftest import REAL_MONGODB_URI
from jobs.management.commands.benchqueue import TMPFS_DIR

FIGURES = [
    r"Enqueue: +\d+ jobs/s",
    r"Processing: +\d+ jobs/s +\(50 of 50 completed",
    r"Pickup, same process \(wake-up\): p50 [\d.]+ ms, p99 [\d.]+ ms",
    r"Pickup, other process \(polling every [\d.]+ s\): p50 [\d.]+ ms, p99 [\d.]+ ms",
]


needs_postgresql = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="needs a PostgreSQL server: DATABASE_URL=postgres://… (make test-postgres)",
)


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


FINISHED_ROUND = r"enqueue +\d+ jobs/s, CPU +\d+ µs per job; processing +\d+ jobs/s, +\d+ µs in store.claim per job"


def assert_interleaved_finished_comparison(text: str, *, finished: int, jobs: int, rounds: int) -> None:
    """The ``--finished`` report: each round measured both tables, the order alternating,
    then the medians, their ratios and each round's ratios, then what each database holds."""
    full = f"{finished} finished jobs"
    assert f"Pre-filled {finished} finished jobs in " in text
    measured = re.findall(rf"^Round (\d+), (empty table|{full}): +{FINISHED_ROUND}$", text, re.MULTILINE)
    expected = [
        (str(number), table)
        for number in range(1, rounds + 1)
        for table in (("empty table", full) if number % 2 else (full, "empty table"))
    ]
    assert measured == expected, text
    for table in ("empty table", full):
        assert re.search(rf"^Median, +{table}: +{FINISHED_ROUND}$", text, re.MULTILINE), text
    ratio = r"x\d+\.\d\d"
    assert re.search(
        rf"Beside {full} \(median full ÷ median empty\): enqueue rate {ratio}, enqueue CPU per job {ratio}, "
        rf"claim time per job {ratio}, processing rate {ratio}",
        text,
    ), text
    each = " ".join([ratio] * rounds)
    assert re.search(
        rf"Each round \(full ÷ empty\): enqueue rate {each}; enqueue CPU per job {each}; "
        rf"claim time per job {each}; processing rate {each}$",
        text,
        re.MULTILINE,
    ), text
    # Each measurement enqueues ``jobs`` and inserts as many more, on its own table only.
    own = 2 * jobs * rounds
    assert f"Jobs stored after the rounds: {own} in the empty table's database (the rounds' own), " in text
    assert f"{finished + own} in the full one ({finished} pre-filled and the rounds' own)" in text


#: The databases' names in "Finished jobs: the empty table in …, the full one in …".
TWO_DATABASES = r"at \S+, database (\w+), the full one in .*, database (\w+)$"


def jobs_in(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute("SELECT count(*) FROM jobs_job").fetchone()[0]


def test_benchqueue_finished_interleaves_rounds_on_two_sqlite_files_side_by_side(tmp_path):
    database = tmp_path / "bench.sqlite3"
    out = io.StringIO()
    call_command(
        "benchqueue",
        "--store=sql",
        f"--database={database}",
        "--jobs=50",
        "--finished=200",
        "--rounds=2",
        "--probes=0",
        "--json",
        stdout=out,
    )

    text = out.getvalue()
    full = tmp_path / "bench-finished.sqlite3"
    assert f"the empty table in SQLite at {database}, the full one in SQLite at {full}" in text
    assert_interleaved_finished_comparison(text, finished=200, jobs=50, rounds=2)
    # The main measurement follows on the first database: 50 jobs timed, 50 counted, 50 split.
    assert re.search(r"Processing: +\d+ jobs/s +\(50 of 50 completed", text)
    assert json.loads(text.splitlines()[-1])["completed"] == 50
    assert jobs_in(database) == 2 * 50 * 2 + 3 * 50
    assert jobs_in(full) == 200 + 2 * 50 * 2


def test_benchqueue_finished_starts_the_second_sqlite_file_afresh_on_every_run(tmp_path):
    database = tmp_path / "bench.sqlite3"
    arguments = ["benchqueue", "--store=sql", f"--database={database}", "--jobs=10", "--finished=30", "--probes=0"]
    call_command(*arguments, "--rounds=1", stdout=io.StringIO())
    call_command(*arguments, "--rounds=1", stdout=io.StringIO())

    # The pre-filled ids would clash with the last run's: the file is replaced instead.
    assert jobs_in(tmp_path / "bench-finished.sqlite3") == 30 + 2 * 10
    assert jobs_in(database) == 2 * (2 * 10 + 3 * 10)


def test_benchqueue_finished_interleaves_rounds_on_two_mongomock_databases():
    out = io.StringIO()
    call_command(
        "benchqueue", "--store=mongomock", "--jobs=30", "--finished=100", "--rounds=3", "--probes=0", stdout=out
    )

    text = out.getvalue()
    assert_interleaved_finished_comparison(text, finished=100, jobs=30, rounds=3)
    assert re.search(r"Processing: +\d+ jobs/s +\(30 of 30 completed", text)


@pytest.mark.parametrize("rounds", ["--rounds=0", "--rounds=-1"])
def test_benchqueue_refuses_rounds_below_one(tmp_path, rounds):
    database = tmp_path / "bench.sqlite3"
    with pytest.raises(CommandError, match="--rounds"):
        call_command("benchqueue", f"--database={database}", "--finished=10", rounds, stdout=io.StringIO())
    assert not database.exists()


def test_benchqueue_refuses_rounds_without_finished(tmp_path):
    database = tmp_path / "bench.sqlite3"
    with pytest.raises(CommandError, match=r"--rounds .*--finished"):
        call_command("benchqueue", f"--database={database}", "--rounds=2", stdout=io.StringIO())
    assert not database.exists()


def test_benchqueue_refuses_a_database_url_that_is_not_postgresql(tmp_path):
    database = tmp_path / "bench.sqlite3"
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("benchqueue", f"--database-url=sqlite:///{database}", "--probes=0", stdout=io.StringIO())
    assert not database.exists()


def test_benchqueue_refuses_a_database_url_with_tmpfs():
    with pytest.raises(CommandError, match="--database-url"):
        call_command("benchqueue", "--database-url=postgres://u:p@127.0.0.1:1/db", "--tmpfs", stdout=io.StringIO())


@needs_postgresql
def test_benchqueue_on_postgresql_runs_in_a_throwaway_database_and_drops_it():
    url = os.environ["DATABASE_URL"]
    out = io.StringIO()
    call_command("benchqueue", f"--database-url={url}", "--jobs=30", "--probes=0", stdout=out)

    name = re.search(r"Store: PostgreSQL at \S+, database (jobqueue_bench_\w+)", out.getvalue()).group(1)
    assert re.search(r"Processing: +\d+ jobs/s +\(30 of 30 completed", out.getvalue())
    with psycopg.connect(url, autocommit=True) as server:
        assert server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall() == []


@needs_postgresql
def test_benchqueue_takes_django_options_in_the_database_url_query():
    # server_side_binding is Django's own option; psycopg would refuse it in a conninfo.
    url = os.environ["DATABASE_URL"].split("?")[0] + "?server_side_binding=true&prepare_threshold=5"
    out = io.StringIO()
    call_command("benchqueue", f"--database-url={url}", "--jobs=30", "--probes=0", stdout=out)

    assert re.search(r"Processing: +\d+ jobs/s +\(30 of 30 completed", out.getvalue())


@needs_postgresql
def test_benchqueue_finished_on_postgresql_uses_a_second_throwaway_database_and_drops_both():
    url = os.environ["DATABASE_URL"]
    out = io.StringIO()
    call_command(
        "benchqueue", f"--database-url={url}", "--jobs=20", "--finished=100", "--rounds=2", "--probes=0", stdout=out
    )

    text = out.getvalue()
    names = re.search(rf"the empty table in PostgreSQL {TWO_DATABASES}", text, re.MULTILINE)
    assert names and names.group(2) == f"{names.group(1)}_finished", text
    assert_interleaved_finished_comparison(text, finished=100, jobs=20, rounds=2)
    with psycopg.connect(url, autocommit=True) as server:
        found = server.execute("SELECT datname FROM pg_database WHERE datname IN (%s, %s)", names.groups()).fetchall()
    assert found == []


@pytest.mark.mongodb
def test_benchqueue_finished_on_mongodb_uses_a_second_database_and_drops_both(settings):
    if not REAL_MONGODB_URI:
        pytest.skip("real MongoDB not tested: MONGODB_URI is not set (the mongomock variant ran instead)")
    settings.JOBQUEUE_STORE = {"BACKEND": "jobs.stores.mongo.MongoJobStore", "OPTIONS": {"uri": REAL_MONGODB_URI}}
    out = io.StringIO()
    call_command("benchqueue", "--jobs=20", "--finished=100", "--rounds=2", "--probes=0", stdout=out)

    text = out.getvalue()
    names = re.search(rf"the empty table in MongoDB {TWO_DATABASES}", text, re.MULTILINE)
    assert names and names.group(2) == f"{names.group(1)}_finished", text
    assert_interleaved_finished_comparison(text, finished=100, jobs=20, rounds=2)
    with pymongo.MongoClient(REAL_MONGODB_URI) as client:
        assert not set(names.groups()) & set(client.list_database_names())
