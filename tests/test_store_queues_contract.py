"""The named-queue and retention part of the store contract, run on each backend."""

from datetime import timedelta

from jobs.domain import JobFilter, NewJob, Status
from jobs.results import Completed
from tests.test_store_contract import LEASE, attempt


def new(queue="default", *, priority=0, run_at=None):
    return NewJob(type="email", payload={}, max_retries=0, priority=priority, run_at=run_at, queue=queue)


def claim(store, clock, limit=10, **where):
    return store.claim(owner="w", limit=limit, now=clock(), lease_seconds=LEASE, **where)


def finish(store, clock, jobs):
    assert all(store.record_results([Completed(job, attempt(clock)) for job in jobs], now=clock()))


def test_a_job_keeps_its_queue_and_defaults_to_default(store, clock):
    emails = store.insert(new("emails"), now=clock())
    [plain] = store.insert_many([NewJob(type="email", payload={}, max_retries=0)], now=clock())

    assert store.get(emails.id).queue == "emails"
    assert store.get(plain.id).queue == "default"


def test_a_claim_from_one_queue_takes_only_its_jobs_in_priority_order(store, clock):
    low = store.insert(new("emails", priority=1), now=clock())
    store.insert(new("reports", priority=9), now=clock())
    high = store.insert(new("emails", priority=5), now=clock())

    claimed = claim(store, clock, queue="emails")

    assert [job.id for job in claimed] == [high.id, low.id]
    assert all(job.queue == "emails" for job in claimed)
    assert claim(store, clock, limit=1, queue="emails") == []


def test_a_claim_of_all_queues_leaves_the_excluded_ones(store, clock):
    store.insert(new("paused"), now=clock())
    wanted = [store.insert(new(name), now=clock()) for name in ("default", "emails")]

    claimed = claim(store, clock, exclude_queues={"paused"})

    assert sorted(job.id for job in claimed) == sorted(job.id for job in wanted)
    assert [job.queue for job in store.list_jobs(JobFilter(status=Status.PENDING))] == ["paused"]


def test_pause_and_resume_are_idempotent_and_listed(store, clock):
    assert store.paused_queues() == set()
    store.pause_queue("emails", now=clock())
    store.pause_queue("emails", now=clock())
    store.pause_queue("reports", now=clock())
    assert store.paused_queues() == {"emails", "reports"}

    store.resume_queue("emails")
    store.resume_queue("emails")
    store.resume_queue("never-paused")
    assert store.paused_queues() == {"reports"}


def test_jobs_list_and_count_by_queue(store, clock):
    store.insert(new("emails"), now=clock())
    store.insert(new("emails", run_at=clock() + timedelta(hours=1)), now=clock())
    clock.advance(5)
    report = store.insert(new("reports"), now=clock())
    finish(store, clock, claim(store, clock, queue="reports"))

    assert [job.id for job in store.list_jobs(JobFilter(queue="reports"))] == [report.id]
    assert store.count_by_queue_and_status() == {("emails", "pending"): 2, ("reports", "completed"): 1}
    assert store.oldest_due_by_queue(now=clock()) == {"emails": clock() - timedelta(seconds=5)}


def test_purge_deletes_only_old_jobs_of_the_status_at_most_limit_at_a_time(store, clock):
    store.insert_many([new() for _ in range(5)], now=clock())
    finish(store, clock, claim(store, clock))
    clock.advance(3600)
    recent = store.insert(new(), now=clock())
    finish(store, clock, claim(store, clock))
    pending = store.insert(new(), now=clock())
    cutoff = clock() - timedelta(minutes=30)

    assert store.purge_finished(status="failed", finished_before=cutoff, limit=10) == 0
    assert store.purge_finished(status="completed", finished_before=cutoff, limit=3) == 3
    assert store.purge_finished(status="completed", finished_before=cutoff, limit=3) == 2
    assert store.purge_finished(status="completed", finished_before=cutoff, limit=3) == 0

    remaining = {job.id for job in store.list_jobs()}
    assert remaining == {recent.id, pending.id}
