"""Group commit (``jobs.groupcommit``): concurrent enqueues share one transaction; each
is answered only after its own job is committed; a failed commit fails every request of
its group (503 over HTTP) and stores none of them."""

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from jobs import groupcommit, services
from jobs.stores import StoreUnavailable

WAIT = 10.0  # seconds: a bound on every wait, never a synchronisation by itself


class GatedStore:
    """The real SQL store, but each ``insert_many`` first waits for ``gate`` and can be
    made to fail after its inserts ran, before the transaction commits."""

    def __init__(self, store):
        self.store = store
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.groups: list[int] = []
        self.fail_commit = False

    def insert_many(self, new_jobs, *, now):
        self.entered.set()
        assert self.gate.wait(WAIT)
        self.groups.append(len(new_jobs))
        with transaction.atomic():
            jobs = self.store.insert_many(new_jobs, now=now)
            if self.fail_commit:
                raise StoreUnavailable("the commit failed")
        return jobs


@pytest.fixture
def gated(sql_store):
    gated_store = GatedStore(sql_store)
    groupcommit.enable(store=lambda: gated_store, waiting=CountingQueue())
    yield gated_store
    gated_store.gate.set()
    groupcommit.disable()


def stored_count() -> int:
    return len(services.list_jobs(limit=services.MAX_LIST_LIMIT))


class CountingQueue(queue.SimpleQueue):
    """The committer's queue, telling waiters how many requests were handed to it."""

    def __init__(self):
        super().__init__()
        self.changed = threading.Condition()
        self.handed = 0

    def put(self, item, *args, **kwargs):
        super().put(item, *args, **kwargs)
        with self.changed:
            self.handed += 1
            self.changed.notify_all()


def wait_until_handed(count: int) -> None:
    waiting = groupcommit._committer._waiting
    with waiting.changed:
        assert waiting.changed.wait_for(lambda: waiting.handed >= count, timeout=WAIT)


def test_concurrent_enqueues_share_a_transaction_and_return_after_it(gated):
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(services.enqueue, "noop", {"n": 0})
        assert gated.entered.wait(WAIT)  # the committer holds the first job's group
        rest = [pool.submit(services.enqueue, "noop", {"n": n}) for n in range(1, 6)]
        wait_until_handed(6)
        assert not first.done() and not any(future.done() for future in rest)
        assert stored_count() == 0
        gated.gate.set()
        jobs = [first.result(WAIT), *(future.result(WAIT) for future in rest)]
    assert gated.groups == [1, 5]
    assert sorted(job.payload["n"] for job in jobs) == list(range(6))
    assert {job.id for job in services.list_jobs(limit=10)} == {job.id for job in jobs}


def test_a_failed_commit_fails_every_request_of_its_group_with_503_and_stores_none(gated):
    gated.fail_commit = True
    gated.gate.set()
    api = APIClient()
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(lambda n: api.post("/jobs", {"type": "noop", "payload": {"n": n}}, format="json"), range(4))
        )
    assert [response.status_code for response in responses] == [503] * 4
    assert stored_count() == 0
    gated.fail_commit = False
    assert api.post("/jobs", {"type": "noop"}, format="json").status_code == 201
    assert stored_count() == 1


def test_without_group_commit_each_enqueue_commits_alone(sql_store):
    assert groupcommit._committer is None
    job = services.enqueue("noop", {})
    assert services.get_job(job.id) == job
