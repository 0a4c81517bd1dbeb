"""Idempotency-Key on POST /jobs: replays return the first job and store nothing."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from jobs.stores import get_store


def post(client, body, key):
    return client.post("/jobs", body, format="json", headers={"Idempotency-Key": key})


@pytest.mark.not_on_congodb("unique indexes")
def test_repeat_returns_the_original_job_marked_replayed(store):
    client = APIClient()
    first = post(client, {"type": "noop", "payload": {"n": 1}}, "abc")
    again = post(client, {"type": "noop", "payload": {"n": 1}}, "abc")

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert len(get_store().list_jobs(limit=500)) == 1


@pytest.mark.not_on_congodb("unique indexes")
def test_same_key_different_body_is_422_and_stores_nothing(store):
    client = APIClient()
    first = post(client, {"type": "noop", "payload": {"n": 1}}, "abc")

    refused = post(client, {"type": "noop", "payload": {"n": 2}}, "abc")

    assert refused.status_code == 422
    assert "Idempotency-Key" in refused.json()["error"]
    assert [job.id for job in get_store().list_jobs(limit=500)] == [first.json()["id"]]


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_empty_or_too_long_key_is_400_and_stores_nothing(store, key):
    refused = post(APIClient(), {"type": "noop"}, key)

    assert refused.status_code == 400
    assert "Idempotency-Key" in refused.json()["details"]
    assert get_store().list_jobs(limit=500) == []


def test_a_255_character_key_is_accepted(store):
    assert post(APIClient(), {"type": "noop"}, "k" * 255).status_code == 201


def test_keys_of_two_api_keys_do_not_collide(settings, store):
    settings.JOBQUEUE_API_AUTH = "required"
    clients = []
    for name in ("a", "b"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.create_key(name, scopes=['enqueue'])[1]}")
        clients.append(client)

    ids = {post(client, {"type": "noop"}, "same").json()["id"] for client in clients}

    assert len(ids) == 2


@pytest.mark.not_on_congodb("unique indexes")
def test_concurrent_posts_with_one_key_create_one_job(store):
    count = 6
    start = threading.Barrier(count, timeout=10)
    responses = []

    def send():
        start.wait()
        try:
            responses.append(post(APIClient(), {"type": "noop", "payload": {"x": 1}}, "race"))
        finally:
            connections.close_all()  # this thread's, kept open by CONN_MAX_AGE otherwise

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [response.status_code for response in responses] == [201] * count
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum("Idempotent-Replayed" in response.headers for response in responses) == count - 1
    assert len(get_store().list_jobs(limit=500)) == 1
