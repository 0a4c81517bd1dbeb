"""Named queues in the worker pool: each queue's own threads, and paused queues left
alone. The pool is driven one dispatcher turn at a time (no worker threads), so what it
claims is exact."""

import io

import pytest
from django.core.management import CommandError, call_command

from jobs import queues, services
from jobs.domain import Attempt, JobFilter, Outcome, Status
from jobs.results import Completed
from jobs.retry import RetryStrategy
from jobs.worker import PoolOptions, WorkerPool
from tests.worker_support import wait_until

LEASE = 30.0


def make_pool(store, clock, **options):
    defaults = {"concurrency": 4, "lease_seconds": LEASE, "poll_interval": 0.01, "retry_strategy": RetryStrategy()}
    return WorkerPool(PoolOptions(**{**defaults, **options}), store=store, clock=clock)


def enqueue(clock, queue, count):
    return [services.enqueue("noop", queue=queue, clock=clock) for _ in range(count)]


def finish(pool, clock, queue):
    """Hand back a completed result for one running job of ``queue`` and write it."""
    job = next(job for job in pool.holdings.held_jobs() if job.queue == queue)
    done = Attempt(started_at=clock(), finished_at=clock(), worker=pool.id, outcome=Outcome.COMPLETED)
    assert pool.holdings.hand_back(job, Completed(job, done))
    return job


def test_each_named_queue_runs_at_most_its_own_threads(store, clock):
    enqueue(clock, "emails", 5)
    enqueue(clock, "reports", 3)
    enqueue(clock, "other", 2)
    pool = make_pool(store, clock, queues=(("emails", 2), ("reports", 1)))
    assert pool.options.concurrency == 3

    assert pool.step() == 3
    assert pool.holdings.running_by_queue() == {"emails": 2, "reports": 1}
    assert pool.step() == 0  # every thread busy

    done = finish(pool, clock, "emails")
    assert pool.step() == 1  # the freed emails thread takes the next emails job, not a report
    assert pool.holdings.running_by_queue() == {"emails": 2, "reports": 1}
    assert store.get(done.id).status == Status.COMPLETED
    assert {job.queue for job in store.list_jobs(JobFilter(status="pending"))} == {"emails", "reports", "other"}


def test_without_named_queues_a_pool_takes_every_queue_but_the_paused(store, clock):
    wanted = enqueue(clock, "default", 1) + enqueue(clock, "reports", 1)
    enqueue(clock, "emails", 2)
    queues.pause_queue("emails")
    pool = make_pool(store, clock)

    assert pool.step() == 2
    assert sorted(job.id for job in pool.holdings.held_jobs()) == sorted(job.id for job in wanted)
    assert pool.step() == 0

    queues.resume_queue("emails")
    wait_until(lambda: pool.step() == 2, timeout=10, what="the resumed queue to be claimed within a poll interval")
    assert pool.holdings.running_by_queue() == {"default": 1, "reports": 1, "emails": 2}


def test_a_paused_named_queue_is_not_claimed_and_its_running_jobs_finish(store, clock):
    enqueue(clock, "emails", 3)
    enqueue(clock, "reports", 2)
    pool = make_pool(store, clock, queues=(("emails", 1), ("reports", 1)), poll_interval=3600)
    assert pool.step() == 2

    queues.pause_queue("reports")
    pool.dispatcher._paused_read_at = None  # as if the poll interval had passed
    running = finish(pool, clock, "reports")
    pool.notify_new_work()
    assert pool.step() == 0  # the reports thread is free, but its queue is paused

    assert store.get(running.id).status == Status.COMPLETED
    assert sorted(job.queue for job in store.list_jobs(JobFilter(status="pending"))) == ["emails", "emails", "reports"]


@pytest.mark.parametrize(
    "queues", [(), (("emails", 0),), (("emails", 1), ("emails", 2))], ids=["none", "no-threads", "twice"]
)
def test_bad_named_queue_options_are_refused(queues):
    with pytest.raises(ValueError):
        PoolOptions(queues=queues)


def test_runworkers_runs_only_the_named_queues(store):
    emails = [services.enqueue("noop", queue="emails") for _ in range(3)]
    other = services.enqueue("noop", queue="reports")
    out = io.StringIO()

    call_command("runworkers", "--burst", "--queue", "emails=2", "--grace-period", "5", stdout=out)

    assert "2 threads (emails=2)" in out.getvalue()
    assert {store.get(job.id).status for job in emails} == {Status.COMPLETED}
    assert store.get(other.id).status == Status.PENDING


@pytest.mark.parametrize(
    "arguments",
    [["--queue", "emails"], ["--queue", "Emails=2"], ["--queue", "emails=0"], ["--queue", "a=1", "--queue", "a=2"]],
)
def test_runworkers_refuses_a_bad_queue_option(store, arguments):
    services.enqueue("noop", queue="emails")

    with pytest.raises(CommandError):
        call_command("runworkers", "--burst", *arguments, stdout=io.StringIO())

    assert [job.status for job in store.list_jobs()] == [Status.PENDING]
