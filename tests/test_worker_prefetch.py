"""Claiming ahead (``jobs/worker/prefetch.py``): a pool whose jobs are shorter than its
turns claims a few more jobs than it has idle threads; with long jobs, with named queues
or with ``prefetch=0`` it claims none ahead; a stopping pool releases the jobs it claimed
ahead without running them."""

import threading

import pytest

from jobs import services
from jobs.domain import Outcome, Status
from jobs.results import Completed
from jobs.worker import PoolOptions
from jobs.worker.prefetch import ClaimAhead
from tests.worker_support import PoolThread, claim_limits, make_pool, run_pool, wait_until

# --- how many ----------------------------------------------------------------------------------


def test_nothing_is_claimed_ahead_before_a_job_and_a_turn_were_seen():
    ahead = ClaimAhead(limit=8)
    assert ahead.allowance(4) == 0
    ahead.job_ran(0.001)
    assert ahead.allowance(4) == 0
    ahead.turn_took(0.002)
    assert ahead.allowance(4) == 8  # 4 threads finish 8 jobs of 1 ms in a 2 ms turn


def test_as_many_as_the_threads_finish_during_a_turn_at_most_the_limit():
    ahead = ClaimAhead(limit=8)
    ahead.job_ran(0.010)
    ahead.turn_took(0.005)
    assert ahead.allowance(4) == 2  # 4 threads x 5 ms / 10 ms
    ahead.turn_took(1.0)  # the average moves toward the new turn time
    assert ahead.allowance(4) == 8


def test_jobs_as_long_as_a_turn_or_longer_are_never_claimed_ahead():
    ahead = ClaimAhead(limit=8)
    ahead.job_ran(0.5)
    ahead.turn_took(0.002)
    assert ahead.allowance(8) == 0


def test_a_limit_of_zero_never_claims_ahead():
    ahead = ClaimAhead(limit=0)
    ahead.job_ran(0.0001)
    ahead.turn_took(0.01)
    assert ahead.allowance(8) == 0


def test_a_negative_prefetch_is_refused():
    with pytest.raises(ValueError, match="prefetch"):
        PoolOptions(prefetch=-1)


def test_the_setting_is_the_pools_default(settings):
    settings.JOBQUEUE_PREFETCH = 3
    assert PoolOptions.from_settings().prefetch == 3


# --- in a pool ---------------------------------------------------------------------------------


def short_jobs_seen(pool):
    """As if the pool had seen jobs of 1 ms and turns of 10 ms: its threads would finish
    ten jobs each per turn, so it claims its whole ``prefetch`` ahead."""
    pool.dispatcher.claim_ahead.job_ran(0.001)
    pool.dispatcher.claim_ahead.turn_took(0.010)
    return pool


def test_a_pool_of_short_jobs_claims_up_to_prefetch_beyond_its_idle_threads(store, clock):
    jobs = [services.enqueue("noop", clock=clock) for _ in range(20)]
    with claim_limits(store) as limits:
        pool = run_pool(short_jobs_seen(make_pool(store, clock, concurrency=2, prefetch=3)))

    assert limits[0] == 5  # 2 idle threads and 3 ahead
    assert max(limits) == 5
    assert pool.recorded[Completed] == 20
    assert {store.get(job.id).status for job in jobs} == {Status.COMPLETED}


def test_a_pool_with_named_queues_never_claims_ahead(store, clock):
    for _ in range(6):
        services.enqueue("noop", queue="emails", clock=clock)
    with claim_limits(store) as limits:
        pool = run_pool(short_jobs_seen(make_pool(store, clock, queues=(("emails", 2),), prefetch=3)))

    assert limits and max(limits) <= 2
    assert pool.recorded[Completed] == 6


def test_a_stopping_pool_releases_the_jobs_it_claimed_ahead_without_running_them(store, clock, test_handlers):
    started = threading.Event()
    opened = threading.Event()

    def gate(payload, context):
        started.set()
        assert opened.wait(30)

    ran_behind = []
    test_handlers.add("test-gate", gate)
    test_handlers.add("test-behind", lambda payload, context: ran_behind.append(payload))
    first = services.enqueue("test-gate", clock=clock)
    behind = services.enqueue("test-behind", clock=clock)
    pool = short_jobs_seen(make_pool(store, clock, concurrency=1, prefetch=1, run_until_idle=False))
    running = PoolThread(pool).start()
    assert started.wait(10)
    # The one thread runs the gate; the job behind it was claimed ahead and waits.
    assert store.get(behind.id).status == Status.PROCESSING

    pool.stop()
    released = wait_until(
        lambda: (job := store.get(behind.id)).status == Status.PENDING and job, what="the release of the job behind"
    )
    opened.set()
    running.join()

    assert ran_behind == []
    assert released.retry_count == 0 and released.lease is None
    assert [attempt.outcome for attempt in released.attempts] == [Outcome.RELEASED]
    assert "not started" in released.attempts[0].error
    assert store.get(first.id).status == Status.COMPLETED  # the running job finished within the grace period
    assert store.get(behind.id) == released  # and the one released was not run after all


def test_the_heartbeat_counts_running_handlers_not_jobs_claimed_ahead(store, clock, test_handlers):
    started = threading.Event()
    opened = threading.Event()
    test_handlers.add("test-gate", lambda payload, context: started.set() or opened.wait(30))
    services.enqueue("test-gate", clock=clock)
    behind = services.enqueue("noop", clock=clock)
    pool = short_jobs_seen(make_pool(store, concurrency=1, prefetch=1, run_until_idle=False))
    running = PoolThread(pool).start()
    try:
        assert started.wait(10)
        assert store.get(behind.id).status == Status.PROCESSING  # claimed ahead, waiting
        pool.heartbeat()
        live = next(p for p in services.live_worker_pools() if p.id == pool.id)
        assert live.running == 1
    finally:
        opened.set()
        running.stop()
