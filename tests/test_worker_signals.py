"""``runworkers`` as a real process: graceful shutdown on SIGTERM, the grace period, a
second signal, several processes with restarts, and the command's options."""

import io
import os
import signal

import pytest
from django.core.management import CommandError, call_command

from jobs.domain import Outcome, Status
from jobs.stores import StoreUnavailable
from tests.worker_support import wait_until


def start_on_a_gated_job(deployment, gate: str, *options: str):
    """``runworkers`` with ``options``, once it runs a job held at ``gate``: (job id, process)."""
    [job_id] = deployment.enqueue_gated(gate)
    workers = deployment.start_workers(*options)
    wait_until(lambda: deployment.started([job_id]), what="the job to start")
    return job_id, workers


def test_sigterm_lets_the_running_job_finish_and_exits_zero(deployment):
    job_id, workers = start_on_a_gated_job(deployment, "drain", "--concurrency", "2")

    workers.send_signal(signal.SIGTERM)
    wait_until(lambda: "SIGTERM received" in deployment.log(workers), what="the signal to be handled")
    # Draining: the process waits for the job, which cannot end until the gate opens.
    assert workers.poll() is None and deployment.with_status("processing") == [job_id]
    deployment.open_gate("drain")

    assert workers.wait(30) == 0, deployment.log(workers)
    job = deployment.jobs()[job_id]
    assert job["status"] == Status.COMPLETED
    assert [attempt["outcome"] for attempt in job["attempts"]] == [Outcome.COMPLETED]
    assert "Workers stopped: 1 completed" in deployment.log(workers)


def test_a_job_still_running_after_the_grace_period_is_released(deployment):
    job_id, workers = start_on_a_gated_job(deployment, "never", "--grace-period", "0.2")

    workers.send_signal(signal.SIGTERM)

    assert workers.wait(30) == 0, deployment.log(workers)
    job = deployment.jobs()[job_id]
    assert job["status"] == Status.PENDING and job["retry_count"] == 0 and job["lease_token"] is None
    assert [attempt["outcome"] for attempt in job["attempts"]] == [Outcome.RELEASED]
    assert "released 1 jobs still running" in deployment.log(workers)


def test_a_second_signal_exits_at_once(deployment):
    job_id, workers = start_on_a_gated_job(deployment, "never", "--grace-period", "60")

    workers.send_signal(signal.SIGTERM)
    wait_until(lambda: "SIGTERM received" in deployment.log(workers), what="the first signal to be handled")
    workers.send_signal(signal.SIGTERM)

    assert workers.wait(10) == 128 + signal.SIGTERM
    # Nobody released it: it comes back when its lease expires, like after a crash.
    assert deployment.with_status("processing") == [job_id]


def test_burst_mode_runs_the_queue_dry_and_exits(deployment):
    ids = deployment.enqueue("noop", {}, count=5) + deployment.enqueue("flaky", {"failures": 1})
    workers = deployment.start_workers("--burst", "--concurrency", "3")

    assert workers.wait(60) == 0, deployment.log(workers)
    assert set(deployment.with_status("completed")) == set(ids)


def test_several_processes_share_the_queue_and_a_dead_one_is_replaced(deployment):
    workers = deployment.start_workers("--processes", "2", "--concurrency", "2", "--grace-period", "5")
    pools = wait_until(lambda: (lambda p: p if len(p) == 2 else None)(deployment.pools()), what="two live pools")
    assert len({pool["pid"] for pool in pools}) == 2 and {pool["pid"] for pool in pools}.isdisjoint({workers.pid})

    victim = pools[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: "died (killed by SIGKILL); starting a new one" in deployment.log(workers), what="a restart")
    wait_until(
        lambda: len({p["pid"] for p in deployment.pools()} - {victim}) == 2,
        timeout=30,
        what="a replacement process to register",
    )

    ids = deployment.enqueue("sleep", {"seconds": 0.2}, count=8)
    wait_until(lambda: set(deployment.with_status("completed")) == set(ids), what="every job to complete")

    workers.send_signal(signal.SIGTERM)
    assert workers.wait(30) == 0, deployment.log(workers)
    live_pids = {pool["pid"] for pool in pools} - {victim}
    for pid in live_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --- the command in-process --------------------------------------------------------------------


def test_runworkers_burst_runs_due_jobs_and_names_the_store(sql_store):
    from jobs import services

    job = services.enqueue("noop")
    out = io.StringIO()

    call_command("runworkers", "--burst", "--concurrency", "2", stdout=out)

    assert sql_store.get(job.id).status == Status.COMPLETED
    text = out.getvalue()
    assert f"on {sql_store.describe()}" in text and "Workers stopped: 1 completed" in text


def test_runworkers_reports_an_unreachable_store_as_a_command_error(monkeypatch):
    def unreachable():
        raise StoreUnavailable("MongoDB at db.example:27017 did not answer within 5 s")

    monkeypatch.setattr("jobs.management.commands.runworkers.get_store", unreachable)

    with pytest.raises(CommandError, match=r"cannot start workers: MongoDB at db\.example:27017 did not answer"):
        call_command("runworkers", "--burst")


@pytest.mark.parametrize("option", [["--concurrency", "0"], ["--processes", "-1"], ["--grace-period", "soon"]])
def test_runworkers_refuses_bad_options(option):
    with pytest.raises(CommandError):
        call_command("runworkers", *option)


def test_runworkers_help_states_the_defaults():
    from jobs.management.commands.runworkers import Command

    parser = Command().create_parser("manage.py", "runworkers")
    text = parser.format_help()
    for option in ("--concurrency", "--processes", "--grace-period", "--max-jobs", "--burst", "--until-idle"):
        assert option in text
    assert "default: 30" in text and "JOBQUEUE_WORKERS" in text
