"""The ``django.tasks`` backend: ``@task`` functions stored as jobs and run by our workers."""

from datetime import timedelta

import pytest

from jobs import services
from jobs.retry import RetryStrategy
from jobs.tasks import add, explode
from jobs.tasks_backend import JobQueueBackend, TaskResultDoesNotExist, TaskResultStatus, task, task_backends
from jobs.timeutil import utc_now
from jobs.worker import PoolOptions, WorkerPool
from tests.worker_support import run_pool


def run_all(store):
    options = PoolOptions.from_settings(
        concurrency=2,
        poll_interval=0.01,
        retry_strategy=RetryStrategy(base_delay=0, max_delay=0),
        run_until_idle=True,
    )
    pool = WorkerPool(options, store=store)
    run_pool(pool)


def test_the_default_backend_is_ours_and_says_what_it_supports():
    backend = task_backends["default"]
    assert isinstance(backend, JobQueueBackend)
    assert backend.supports_defer and backend.supports_priority and backend.supports_get_result


def test_enqueue_stores_a_job_with_the_tasks_module_path_arguments_and_priority(store):
    result = add.enqueue(2, b=3)

    job = services.get_job(result.id)
    assert job.type == "jobs.tasks.add"
    assert job.payload == {"args": [2], "kwargs": {"b": 3}}
    assert job.queue == "default"
    assert job.priority == 5
    assert result.status == TaskResultStatus.READY
    assert result.enqueued_at == job.created_at


def test_a_worker_runs_the_task_and_get_result_reports_its_return_value(store):
    result = add.enqueue(2, 3)

    run_all(store)

    finished = add.get_result(result.id)
    assert finished.status == TaskResultStatus.SUCCESSFUL
    assert finished.return_value == 5
    assert len(finished.worker_ids) == 1
    assert finished.finished_at is not None
    result.refresh()
    assert result.return_value == 5


def test_a_failing_task_reports_its_errors_with_the_exception_class(store):
    result = explode.using(priority=0).enqueue("boom")
    services_job = services.get_job(result.id)
    assert services_job.max_retries >= 0

    run_all(store)

    failed = task_backends["default"].get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors, "every failed attempt is reported"
    assert failed.errors[-1].exception_class is ValueError
    assert "boom" in failed.errors[-1].traceback
    with pytest.raises(ValueError, match="failed"):
        failed.return_value  # noqa: B018


def test_run_after_and_priority_map_to_run_at_and_priority(store):
    later = utc_now() + timedelta(hours=1)

    result = add.using(run_after=later, priority=-7).enqueue(1, 1)

    job = services.get_job(result.id)
    assert job.priority == -7
    assert abs((job.run_at - later).total_seconds()) < 0.002
    assert services.queue_stats().delayed == 1


def test_arguments_that_are_not_json_raise_the_frameworks_error_and_store_nothing(store):
    with pytest.raises(TypeError, match="Unsupported type"):
        add.enqueue(object(), 1)

    assert services.queue_stats().total == 0


def test_get_result_of_an_unknown_or_non_task_job_does_not_exist(store):
    backend = task_backends["default"]
    other = services.enqueue("noop")

    for missing in ("0" * 24, "not-an-id", other.id):
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(missing)


def test_the_backend_is_built_on_django_tasks_on_6x_and_on_the_django_tasks_package_on_52():
    import django

    if django.VERSION >= (6,):
        from django.tasks.backends.base import BaseTaskBackend
    else:
        from django_tasks.backends.base import BaseTaskBackend
    assert isinstance(task_backends["default"], BaseTaskBackend)
    assert add.get_backend() is task_backends["default"]


@task(takes_context=True)
def attempt_number(context, label):
    """A test task that reports which attempt ran it."""
    return {"label": label, "attempt": context.attempt, "id": context.task_result.id}


@task
def returns_no_json():
    return object()


def test_a_task_that_takes_context_sees_its_result_id_and_attempt(store):
    result = attempt_number.enqueue("x")

    run_all(store)

    assert attempt_number.get_result(result.id).return_value == {"label": "x", "attempt": 1, "id": result.id}


def test_a_return_value_that_is_not_json_fails_the_attempt(store):
    result = returns_no_json.using(priority=0).enqueue()

    run_all(store)

    failed = returns_no_json.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[-1].exception_class is TypeError


def test_a_tasks_queue_name_is_the_jobs_queue(store):
    result = add.using(queue_name="reports").enqueue(1, b=1)

    assert services.get_job(result.id).queue == "reports"
