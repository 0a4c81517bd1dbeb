"""The MongoDB store when a write lands but its answer does not: a dropped connection or
a write-concern error after the server applied the write, or a write applied twice.

A fault-injecting wrapper around the store's ``jobs`` collection lets the real call
through (on mongomock, and on the server at ``MONGODB_URI`` when set) and then raises
what the driver would. Claims must never return more than their limit, never a job
another claim holds, and never leave a job processing that no caller received; an
enqueue retried with its Idempotency-Key after such an error must not store a second job.
"""

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError, WriteConcernError
from rest_framework.test import APIClient

from conftest import discard_store, make_store
from jobs.domain import NewJob, Status
from jobs.retry import RetryStrategy
from jobs.stores import use_store
from jobs.stores.base import StoreUnavailable

NOW = datetime(2026, 3, 4, 12, 0, 0, tzinfo=UTC)
LEASE_SECONDS = 30


def lost_connection():
    return AutoReconnect("connection closed after the request was sent")


def write_concern_timeout():
    # What pymongo raises when the primary applied a write but the majority did not
    # confirm it within wtimeout (code 64, WriteConcernFailed).
    details = {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "waiting for replication timed out"}
    return WriteConcernError(details["errmsg"], details["code"], details)


class FaultyCollection:
    """A collection whose scripted calls misbehave; every other call goes straight through.

    ``script(method, *steps)`` queues what the next calls of ``method`` do, one step each:
    ``"pass"`` (through, answered), ``"lands"`` (through, then its answer lost: the
    error the step's ``error`` factory makes), ``"twice"`` (applied twice, as a driver
    retrying an applied write would, then answered), ``"refused"`` (not sent; the error).
    ``calls`` counts the calls of each method, scripted or not.
    """

    def __init__(self, collection):
        self._collection = collection
        self._steps: dict[str, list[tuple[str, object]]] = {}
        self.calls: dict[str, int] = {}

    def script(self, method: str, *steps: str, error=lost_connection) -> None:
        self._steps.setdefault(method, []).extend((step, error) for step in steps)

    def __getattr__(self, name):
        target = getattr(self._collection, name)
        if not callable(target):
            return target

        def call(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            steps = self._steps.get(name)
            step, error = steps.pop(0) if steps else ("pass", None)
            if step == "refused":
                raise error()
            answer = target(*args, **kwargs)
            if step == "twice":
                target(*args, **kwargs)
            if step == "lands":
                raise error()
            return answer

        return call


@pytest.fixture(params=["mongomock", "mongodb"])
def mongo_store(request, db):
    """The MongoDB store (mongomock, then the server at MONGODB_URI), installed as the
    process's store, its ``jobs`` collection behind a ``FaultyCollection``."""
    store = make_store(request.param)
    try:
        store.ensure_ready()
        store._jobs = FaultyCollection(store._jobs)
        previous = use_store(store)
        yield store
        use_store(previous)
    finally:
        discard_store(request.param, store)


def enqueue(store, count):
    return [store.insert(NewJob(type="email", payload={"n": n}, max_retries=3), now=NOW) for n in range(count)]


def claim(store, limit):
    return store.claim(owner="worker-1", limit=limit, now=NOW, lease_seconds=LEASE_SECONDS)


def by_status(store):
    statuses: dict[str, set[str]] = {}
    for job in store.list_jobs(limit=500):
        statuses.setdefault(str(job.status), set()).add(job.id)
    return statuses


def assert_untouched_and_pending(store, jobs):
    """As enqueued: pending, no lease, no attempt counted."""
    for job in jobs:
        now = store.get(job.id)
        assert now.status == Status.PENDING
        assert now.lease is None
        assert now.attempts == () and now.attempt_count == 0 and now.retry_count == 0


# --- claims -----------------------------------------------------------------------


@pytest.mark.parametrize("error", [lost_connection, write_concern_timeout])
def test_a_batch_claim_whose_answer_was_lost_returns_exactly_the_jobs_it_took(mongo_store, error):
    jobs = enqueue(mongo_store, 5)
    mongo_store._jobs.script("update_many", "lands", error=error)

    claimed = claim(mongo_store, 3)

    assert [job.id for job in claimed] == [job.id for job in jobs[:3]]
    assert len({job.lease.token for job in claimed}) == 1
    assert by_status(mongo_store) == {"processing": {job.id for job in claimed}, "pending": {j.id for j in jobs[3:]}}
    assert all(mongo_store.get(job.id).lease.token == claimed[0].lease.token for job in claimed)


def test_a_batch_claim_applied_twice_takes_no_more_than_its_limit(mongo_store):
    jobs = enqueue(mongo_store, 5)
    mongo_store._jobs.script("update_many", "twice")

    claimed = claim(mongo_store, 3)

    assert [job.id for job in claimed] == [job.id for job in jobs[:3]]
    assert by_status(mongo_store)["pending"] == {job.id for job in jobs[3:]}
    later = claim(mongo_store, 5)
    assert {job.id for job in later} == {job.id for job in jobs[3:]}


@pytest.mark.parametrize("limit", [1, 3])
def test_a_claim_that_landed_but_never_got_an_answer_gives_its_jobs_back(mongo_store, limit):
    jobs = enqueue(mongo_store, 3)
    method = "find_one_and_update" if limit == 1 else "update_many"
    mongo_store._jobs.script(method, "lands", "lands")

    with pytest.raises(StoreUnavailable):
        claim(mongo_store, limit)

    assert_untouched_and_pending(mongo_store, jobs)
    assert [job.id for job in claim(mongo_store, 3)] == [job.id for job in jobs]


def test_a_batch_claim_whose_read_back_failed_gives_its_jobs_back(mongo_store):
    jobs = enqueue(mongo_store, 3)
    mongo_store._jobs.script("find", "pass", "refused")  # the candidates, then the read by token

    with pytest.raises(StoreUnavailable):
        claim(mongo_store, 3)

    assert_untouched_and_pending(mongo_store, jobs)


def test_when_a_failed_claim_cannot_give_its_jobs_back_the_reaper_returns_them(mongo_store):
    jobs = enqueue(mongo_store, 3)
    # The claim lands twice unanswered, then the server is gone for the give-back too.
    mongo_store._jobs.script("update_many", "lands", "lands", "refused")

    with pytest.raises(StoreUnavailable):
        claim(mongo_store, 3)
    assert by_status(mongo_store) == {"processing": {job.id for job in jobs}}

    reaped = mongo_store.reap(now=NOW + timedelta(seconds=LEASE_SECONDS + 1), retry_strategy=RetryStrategy())

    assert reaped == 3
    assert by_status(mongo_store) == {"pending": {job.id for job in jobs}}
    assert all(mongo_store.get(job.id).lease is None for job in jobs)


def test_a_claim_refused_before_it_was_sent_changes_nothing(mongo_store):
    jobs = enqueue(mongo_store, 3)
    mongo_store._jobs.script("find", "refused")

    with pytest.raises(StoreUnavailable):
        claim(mongo_store, 3)

    assert_untouched_and_pending(mongo_store, jobs)


@pytest.mark.parametrize("limit", [1, 3])
def test_a_claim_with_no_server_to_send_to_is_neither_sent_again_nor_given_back(mongo_store, limit):
    # Each of those would wait a whole server-selection timeout more before the
    # worker hears of the outage.
    jobs = enqueue(mongo_store, 3)
    method = "find_one_and_update" if limit == 1 else "update_many"
    mongo_store._jobs.script(method, "refused", error=lambda: ServerSelectionTimeoutError("no server"))

    with pytest.raises(StoreUnavailable):
        claim(mongo_store, limit)

    sent = {name: count for name, count in mongo_store._jobs.calls.items() if name != "insert_one"}
    assert sent == ({"find": 1, method: 1} if limit > 1 else {method: 1})
    assert_untouched_and_pending(mongo_store, jobs)


# --- enqueues -----------------------------------------------------------------------


def post(client, body, key):
    return client.post("/jobs", body, format="json", headers={"Idempotency-Key": key})


@pytest.mark.not_on_congodb("unique indexes")
@pytest.mark.parametrize("error", [lost_connection, write_concern_timeout])
def test_an_enqueue_that_landed_unanswered_is_replayed_when_retried_with_its_key(mongo_store, error):
    client = APIClient()
    body = {"type": "noop", "payload": {"n": 1}}
    mongo_store._jobs.script("insert_one", "lands", error=error)

    failed = post(client, body, "order-17")
    retried = post(client, body, "order-17")

    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "1"
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    [stored] = mongo_store.list_jobs(limit=500)
    assert retried.json()["id"] == stored.id


@pytest.mark.not_on_congodb("unique indexes")
def test_a_unique_job_that_landed_unanswered_is_found_when_retried(mongo_store):
    client = APIClient()
    body = {"type": "noop", "payload": {}, "uniqueKey": "nightly"}
    mongo_store._jobs.script("insert_one", "lands", error=write_concern_timeout)

    failed = client.post("/jobs", body, format="json")
    retried = client.post("/jobs", body, format="json")

    assert failed.status_code == 503
    assert retried.status_code == 200  # the live job holding the key; nothing created
    [stored] = mongo_store.list_jobs(limit=500)
    assert retried.json()["id"] == stored.id
