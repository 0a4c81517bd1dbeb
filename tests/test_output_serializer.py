"""The job JSON: serializers that share their bound fields still render each job as its own."""

import threading

from jobs import services
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
