"""Leases carry the claiming host's clock. A reaper whose clock runs ahead of the holder's
(by more than a lease, but within ``max_clock_skew``) must leave live jobs alone, and
still return jobs whose lease expired beyond the bound."""

from contextlib import contextmanager
from datetime import timedelta

import pytest

from jobs import services
from jobs.domain import Outcome, Status
from jobs.worker import PoolOptions, WorkerPool
from tests.test_store_contract import LEASE, NO_BACKOFF, claim_one, new
from tests.test_worker import Gate
from tests.worker_support import PoolThread, make_pool, wait_until

SKEW = 60.0  # the bound the reaper allows
AHEAD = LEASE + 5  # how far the reaper's clock runs ahead of the holder's: more than a lease


# --- the store's reaper, on every store ----------------------------------------------------------


def test_a_reaper_ahead_by_more_than_a_lease_leaves_a_renewed_lease_alone(store, clock):
    job = store.insert(new(), now=clock())
    held = claim_one(store, clock, owner="holder")
    for _ in range(3):
        clock.advance(LEASE * 2 / 3)
        assert store.renew([held], now=clock(), lease_seconds=LEASE).kept == {held.id}
        ahead = clock() + timedelta(seconds=AHEAD)

        assert store.reap(now=ahead, retry_strategy=NO_BACKOFF, max_clock_skew=SKEW) == 0

    kept = store.get(job.id)
    assert kept.status == Status.PROCESSING and kept.lease.token == held.lease.token and not kept.attempts


def test_a_lease_expired_by_more_than_the_skew_bound_is_reaped(store, clock):
    job = store.insert(new(), now=clock())
    claim_one(store, clock, owner="dead-holder")
    clock.advance(LEASE + SKEW - 1)
    assert store.reap(now=clock(), retry_strategy=NO_BACKOFF, max_clock_skew=SKEW) == 0
    clock.advance(2)

    assert store.reap(now=clock(), retry_strategy=NO_BACKOFF, max_clock_skew=SKEW) == 1
    reaped = store.get(job.id)
    assert reaped.status == Status.PENDING and reaped.lease is None
    assert [attempt.outcome for attempt in reaped.attempts] == [Outcome.LEASE_EXPIRED]


# --- two worker pools on one store, their clocks apart -------------------------------------------


@contextmanager
def _job_held_by_holder(store, clock, test_handlers, settings):
    """A gated job that a pool renewing only when told (on ``clock``) is running, and a
    pool whose clock runs ``AHEAD``, configured like ``runworkers`` with
    ``JOBQUEUE_MAX_CLOCK_SKEW=SKEW``: yields ``(job, gate, holder, fast)``; the gate opens
    and the holder stops on the way out."""
    gate = test_handlers.add("test-gate", Gate())
    job = services.enqueue("test-gate", clock=clock)
    holder = make_pool(store, clock, run_until_idle=False, renew_interval=3600, reap_interval=3600)
    settings.JOBQUEUE_MAX_CLOCK_SKEW = SKEW
    options = PoolOptions.from_settings(lease_seconds=LEASE, retry_strategy=NO_BACKOFF)
    fast = WorkerPool(options, store=store, clock=lambda: clock() + timedelta(seconds=AHEAD))
    running = PoolThread(holder).start()
    try:
        assert gate.started.wait(10)
        yield job, gate, holder, fast
    finally:
        gate.opened.set()
        running.stop()


def test_a_pool_whose_clock_runs_ahead_does_not_reap_a_job_another_pool_holds(store, clock, test_handlers, settings):
    with _job_held_by_holder(store, clock, test_handlers, settings) as (job, _gate, holder, fast):
        for _ in range(3):
            clock.advance(LEASE * 2 / 3)
            assert holder.renew_leases() == 1

            assert fast.reap_expired() == 0
        assert store.get(job.id).lease.owner == holder.id
    done = store.get(job.id)
    assert done.status == Status.COMPLETED and [a.outcome for a in done.attempts] == [Outcome.COMPLETED]
    assert holder.lost == 0


def test_a_pool_whose_clock_runs_ahead_still_reaps_a_job_whose_holder_stopped(store, clock, test_handlers, settings):
    with _job_held_by_holder(store, clock, test_handlers, settings) as (job, gate, holder, fast):
        # The holder never renews: its lease ran out at LEASE on its clock.
        clock.advance(LEASE + SKEW - AHEAD - 1)
        assert fast.reap_expired() == 0
        clock.advance(2)

        assert fast.reap_expired() == 1
        assert store.get(job.id).status == Status.PENDING

        gate.opened.set()
        wait_until(lambda: holder.lost == 1, what="the holder's late result to be refused")


def test_a_negative_skew_bound_is_refused():
    with pytest.raises(ValueError, match="clock skew cannot be negative"):
        PoolOptions(max_clock_skew=-1)
