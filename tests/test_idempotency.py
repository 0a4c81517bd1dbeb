"""Idempotency keys: one job per key on every store, even under concurrent enqueues."""

import pytest

from jobs import services
from jobs.stores import get_store
from tests.worker_support import run_at_once


@pytest.mark.not_on_congodb("unique indexes")
def test_repeat_with_same_key_returns_the_first_job_and_stores_nothing(store):
    first = services.enqueue("noop", {"n": 1}, idempotency_key="order-7")
    again = services.enqueue("noop", {"n": 1}, idempotency_key="order-7")

    assert again.id == first.id
    assert again.replayed and not first.replayed
    assert [job.id for job in get_store().list_jobs(limit=500)] == [first.id]


@pytest.mark.not_on_congodb("unique indexes")
def test_same_key_with_another_request_is_refused_and_stores_nothing(store):
    first = services.enqueue("noop", {"n": 1}, idempotency_key="order-7")

    with pytest.raises(services.IdempotencyConflict):
        services.enqueue("noop", {"n": 2}, idempotency_key="order-7")
    with pytest.raises(services.IdempotencyConflict):
        services.enqueue("noop", {"n": 1}, priority=5, idempotency_key="order-7")

    assert [job.id for job in get_store().list_jobs(limit=500)] == [first.id]


def test_jobs_without_keys_never_collide(store):
    services.enqueue("noop", {})
    services.enqueue("noop", {})
    services.enqueue("noop", {}, idempotency_key="a")
    services.enqueue("noop", {}, idempotency_key="b")

    assert len(get_store().list_jobs(limit=500)) == 4


def test_too_long_key_is_refused_and_stores_nothing(store):
    with pytest.raises(services.JobValidationError) as refused:
        services.enqueue("noop", {}, idempotency_key="k" * 400)

    assert "idempotencyKey" in refused.value.errors
    assert get_store().list_jobs(limit=500) == []


@pytest.mark.not_on_congodb("unique indexes")
def test_concurrent_enqueues_with_one_key_store_one_job(store):
    threads_count = 8
    results, errors = run_at_once(
        lambda: services.enqueue("noop", {"same": True}, idempotency_key="race"), threads_count
    )

    assert errors == []
    assert len({job.id for job in results}) == 1
    assert sum(not job.replayed for job in results) == 1
    assert len(get_store().list_jobs(limit=500)) == 1
