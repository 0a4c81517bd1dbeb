"""The job JSON: serializers that share their bound fields still render each job as its own."""

import threading
from dataclasses import replace

from rest_framework import serializers

from jobs import services
from jobs.domain import Attempt, Lease, Status
from jobs.serializers import JobOutputSerializer


def test_each_serializer_renders_its_own_job_alone_and_in_a_list(store):
    first = services.enqueue("noop", {}, priority=3)
    second = services.enqueue("email", {"to": "a@example.com", "subject": "hi", "body": "b"}, max_retries=7)

    one, two = JobOutputSerializer(first).data, JobOutputSerializer(second).data
    listed = JobOutputSerializer([second, first], many=True).data

    assert (one["id"], one["type"], one["priority"]) == (first.id, "noop", 3)
    assert (two["id"], two["type"], two["maxRetries"]) == (second.id, "email", 7)
    assert [job["id"] for job in listed] == [second.id, first.id]
    assert listed[1] == one and listed[0] == two


def test_threads_rendering_at_once_each_get_their_own_job(store):
    jobs = [services.enqueue("noop", {"n": n}) for n in range(8)]
    rendered: dict[int, dict] = {}
    start = threading.Barrier(len(jobs))

    def render(index):
        start.wait(timeout=10)
        for _ in range(200):
            rendered[index] = JobOutputSerializer(jobs[index]).data

    threads = [threading.Thread(target=render, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [rendered[index]["payload"] for index in range(len(jobs))] == [{"n": n} for n in range(8)]
    assert [rendered[index]["id"] for index in range(len(jobs))] == [job.id for job in jobs]


def test_the_job_json_is_what_drfs_own_rendering_gives(store):
    """The shared serializer's quick rendering matches DRF's general one field for field,
    for a fresh job and for one with every optional part set."""
    job = services.enqueue("email", {"to": "a@example.com", "subject": "hi", "body": "b"}, unique_key="u-1")
    busy = replace(
        job,
        status=Status.PROCESSING,
        lease=Lease(owner="host:1234:w2", token="secret-token", expires_at=job.run_at, started_at=job.created_at),
        attempts=(Attempt(job.created_at, job.updated_at, "host:1234:w1", "failed", "boom\nTraceback (most recent)"),),
        attempt_count=1,
        last_error="boom\nTraceback (most recent)",
        finished_at=job.updated_at,
        result={"sent": True},
        progress={"fraction": 0.5},
        cancel_requested=True,
        schedule="digest",
    )

    for candidate in (job, busy):
        serializer = JobOutputSerializer(candidate)
        assert serializer.data == serializers.Serializer.to_representation(serializer, candidate)
    rendered = JobOutputSerializer(busy).data
    assert rendered["lease"]["owner"] == "host:w2" and "token" not in rendered["lease"]
    assert rendered["payload"]["to"] == "a@example.com" and rendered["attempts"][0]["worker"] == "host:w1"
