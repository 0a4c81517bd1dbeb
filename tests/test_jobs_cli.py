"""`manage.py jobs`: the operator CLI, validated like the API, with reliable exit codes."""

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from jobs import services


def run(*args) -> str:
    out = StringIO()
    call_command("jobs", *args, stdout=out)
    return out.getvalue()


def fails(*args) -> CommandError:
    with pytest.raises(CommandError) as raised:
        run(*args)
    return raised.value


def test_enqueue_then_list_and_show_as_table_and_json(store):
    assert "enqueued email job" in run("enqueue", "email", "--payload", '{"to": "a@example.com"}', "--priority", "3")
    [job] = services.list_jobs()
    assert job.priority == 3 and job.payload["to"] == "a@example.com"

    table = run("list", "--type", "email")
    assert table.splitlines()[0].split()[:3] == ["ID", "TYPE", "STATUS"]
    assert job.id in table
    listed = json.loads(run("list", "--status", "pending", "--json"))
    assert [item["id"] for item in listed] == [job.id]
    assert json.loads(run("show", job.id, "--json"))["type"] == "email"
    assert f"id:          {job.id}" in run("show", job.id)


def test_enqueue_is_validated_like_the_api_and_stores_nothing_when_refused(store):
    for args in (
        ("enqueue", "no-such-type"),
        ("enqueue", "email", "--payload", '{"to": "not an email"}'),
        ("enqueue", "email", "--payload", "[1, 2]"),
        ("enqueue", "email", "--payload", "{not json"),
        ("enqueue", "noop", "--max-retries", "101"),
        ("enqueue", "noop", "--run-at", "2026-01-01T00:00:00"),
    ):
        assert fails(*args).returncode == 2, args
    assert services.queue_stats().total == 0


def test_list_filters_are_validated_like_the_api(store):
    assert fails("list", "--status", "sleeping").returncode == 2
    assert fails("list", "--limit", "0").returncode == 2
    assert fails("list", "--cursor", "garbage").returncode == 2


def test_show_retry_cancel_exit_1_when_not_found_or_refused_and_2_for_a_bad_id(store):
    assert fails("show", "0" * 24).returncode == 1
    assert fails("show", "xyz").returncode == 2
    job = services.enqueue("noop")
    assert "cancelled noop job" in run("cancel", job.id)
    assert fails("cancel", job.id).returncode == 1
    assert services.get_job(job.id).status == "cancelled"
    assert fails("retry", job.id).returncode == 1
    assert fails("retry").returncode == 2


def test_retry_failed_type_stats_and_purge(store, clock):
    from jobs.domain import Attempt, NewJob, Outcome
    from jobs.results import Failed

    store.insert_many([NewJob(type="fail", payload={}, max_retries=0)], now=clock())
    [claimed] = store.claim(owner="w", limit=1, now=clock(), lease_seconds=60)
    attempt = Attempt(started_at=clock(), finished_at=clock(), worker="w", outcome=Outcome.FAILED, error="E")
    store.record_results([Failed(claimed, attempt)], now=clock())

    stats = json.loads(run("stats", "--json"))
    assert stats["byStatus"]["failed"] == 1
    assert "(all)" in run("stats")
    assert json.loads(run("retry", "--failed-type", "fail", "--json")) == {"retried": 1}
    assert services.queue_stats().by_status["pending"] == 1
    assert json.loads(run("purge", "--older-than-days", "0", "--json")) == {"deleted": 0}
    assert fails("purge", "--older-than-days", "-1").returncode == 2


def test_exit_codes_seen_by_a_script(tmp_path):
    """Through the real command line: usage errors exit 2, refusals 1, success 0."""
    env_var_dir = {"JOBQUEUE_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env_var_dir}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    assert subprocess.run([*manage, "jobs", "frobnicate"], env=env, capture_output=True).returncode == 2
    assert subprocess.run([*manage, "jobs", "show", "0" * 24], env=env, capture_output=True).returncode == 1
    done = subprocess.run([*manage, "jobs", "stats", "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["total"] == 0
