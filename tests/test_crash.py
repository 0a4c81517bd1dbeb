"""No job is lost when a worker dies: its lease expires, the reaper returns the job, and
another worker runs it. First in-process on every store (a worker that stops
heartbeating), then for real: ``runworkers`` SIGKILLed on a SQLite file."""

import signal
import threading
from dataclasses import replace

from jobs import services
from jobs.domain import Outcome, Status
from jobs.retry import RetryStrategy
from jobs.worker import PoolOptions, WorkerPool
from tests.worker_support import PoolThread, run_pool, wait_until

LEASE = 30.0


def test_the_job_of_a_worker_killed_mid_job_runs_again_on_another_worker(store, clock, test_handlers):
    first_run_started, never_mind = threading.Event(), threading.Event()
    runs = []

    def hangs_the_first_time(payload, context):
        runs.append(context.worker)
        if len(runs) == 1:
            first_run_started.set()
            never_mind.wait(30)  # the "killed" worker: it never finishes in time

    test_handlers.add("test-hang-once", hangs_the_first_time)
    job = services.enqueue("test-hang-once", clock=clock)
    no_backoff = RetryStrategy(base_delay=0, max_delay=0)
    options = PoolOptions(concurrency=1, lease_seconds=LEASE, poll_interval=0.01, retry_strategy=no_backoff)
    # The first worker's lease keeper never runs: it stands for a process that died.
    killed = WorkerPool(replace(options, renew_interval=3600, reap_interval=3600), store=store, clock=clock)
    killed_thread = PoolThread(killed).start()
    try:
        assert first_run_started.wait(10)
        clock.advance(LEASE - 1)
        assert store.reap(now=clock(), retry_strategy=no_backoff) == 0  # not expired yet

        clock.advance(2 + options.max_clock_skew)  # the rescuer allows for clock skew
        rescuer = run_pool(WorkerPool(replace(options, run_until_idle=True), store=store, clock=clock))
        rescued = store.get(job.id)
        assert rescued.status == Status.COMPLETED and rescued.retry_count == 1
        assert [(a.outcome, a.worker) for a in rescued.attempts] == [
            (Outcome.LEASE_EXPIRED, killed.id),
            (Outcome.COMPLETED, rescuer.id),
        ]
        assert runs == [killed.id, rescuer.id]

        never_mind.set()  # the first worker wakes up and tries to finish: fenced off
        wait_until(lambda: killed.lost == 1, what="the late finish to be refused")
        assert store.get(job.id) == rescued
    finally:
        never_mind.set()
        killed_thread.stop()


# --- real processes ------------------------------------------------------------------------------


def test_jobs_of_a_sigkilled_runworkers_are_completed_by_the_next_one(deployment):
    ids = deployment.enqueue_gated("after-the-crash", count=6)
    first = deployment.start_workers("--concurrency", "4", name="first")
    in_flight = wait_until(
        lambda: (lambda running: running if len(running) == 4 else None)(deployment.started(ids)),
        what="four jobs to be running",
    )

    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert set(deployment.with_status("processing")) == set(in_flight)  # nobody let go of them

    deployment.open_gate("after-the-crash")
    second = deployment.start_workers("--concurrency", "4", name="second")
    wait_until(
        lambda: set(deployment.with_status("completed")) == set(ids),
        timeout=60,
        what=f"every job to complete; log:\n{deployment.log(second)}",
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0, deployment.log(second)

    jobs = deployment.jobs()
    assert not deployment.with_status("processing")
    for job_id in in_flight:
        outcomes = [attempt["outcome"] for attempt in jobs[job_id]["attempts"]]
        assert outcomes == [Outcome.LEASE_EXPIRED, Outcome.COMPLETED], jobs[job_id]
        assert jobs[job_id]["retry_count"] == 1
    for job_id in set(ids) - set(in_flight):
        assert [attempt["outcome"] for attempt in jobs[job_id]["attempts"]] == [Outcome.COMPLETED]
    assert "lost its worker" in deployment.log(second)
