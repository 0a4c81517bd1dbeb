"""A ``django.tasks`` backend that runs ``@task`` functions on the job queue's workers.

``TASKS = {"default": {"BACKEND": "jobs.tasks_backend.JobQueueBackend"}}`` in settings,
and every ``@task`` of every app is stored as a job by ``.enqueue()`` and run by
``runworkers``. On Django 6.x the framework is ``django.tasks``; on Django 5.2 it is the
``django-tasks`` package, which has the same API under ``django_tasks``.

The mapping (see README, "Django tasks"):

* job ``type`` = the task's module path (``myapp.tasks.send_welcome``);
* ``payload`` = ``{"args": [...], "kwargs": {...}}``;
* ``queue`` = the task's ``queue_name`` (a name our queues accept: ``[a-z0-9_-]{1,64}``);
* ``priority`` = the task's priority (-100..100, higher first, as ours);
* ``run_after`` = our ``runAt``;
* the return value is kept as the job's ``result``, written with its completion.

A worker knows a task's job type once the module defining the task is imported: the
``jobs`` app imports every installed app's ``tasks`` module at start-up, and defining a
task with this backend registers its job type (``validate_task`` runs for each task).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from jobs import services
from jobs.domain import Job, Status
from jobs.handlers import JobContext, handler

try:  # Django 6.x ships the framework
    from django.tasks import TaskContext, TaskResult, TaskResultStatus, task, task_backends
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import TaskError
    from django.tasks.exceptions import TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued
    from django.utils.json import normalize_json
except ImportError:  # Django 5.2: the django-tasks package
    from django_tasks import TaskContext, TaskResult, TaskResultStatus, task, task_backends
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import TaskError
    from django_tasks.exceptions import TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued
    from django_tasks.utils import normalize_json

__all__ = [
    "JobQueueBackend",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "task",
    "task_backends",
    "task_result_of",
]

logger = logging.getLogger(__name__)

_STATUS = {
    Status.PENDING: TaskResultStatus.READY,
    Status.PROCESSING: TaskResultStatus.RUNNING,
    Status.COMPLETED: TaskResultStatus.SUCCESSFUL,
    Status.FAILED: TaskResultStatus.FAILED,
    # django.tasks has no "cancelled": the task will never succeed.
    Status.CANCELLED: TaskResultStatus.FAILED,
}

# Modules whose tasks are demonstrations, active only with JOBQUEUE_DEMO_HANDLERS.
DEMO_TASK_MODULES = {"jobs.tasks"}

# Tasks by job type (module path), so workers and get_result find the Task object.
_tasks: dict = {}
_tasks_lock = threading.Lock()


def task_job_type(task) -> str:
    """The job type of a task: its function's module path."""
    return task.module_path


def registered_task(job_type: str):
    """The task registered for ``job_type``, or ``None``."""
    return _tasks.get(job_type)


class JobQueueBackend(BaseTaskBackend):
    """Stores tasks as jobs; results come from the job store, so any process can read them."""

    supports_defer = True
    supports_priority = True
    supports_get_result = True
    supports_async_task = False

    def __init__(self, alias, params):
        super().__init__(alias, params)
        # Without a QUEUES option, any queue our jobs accept will do (the framework would
        # allow only "default"); enqueue() then checks the name like POST /jobs does.
        if "QUEUES" not in params:
            self.queues = set()

    def validate_task(self, task) -> None:
        """The framework's checks, then register the task's job type with the workers."""
        super().validate_task(task)
        _register(task)

    def enqueue(self, task, args, kwargs):
        """Store the task as a pending job; the ``TaskResult`` carries the job id.

        Arguments that are not JSON raise the framework's own error (``TypeError`` or
        ``ValueError`` from ``normalize_json``) before anything is stored.
        """
        self.validate_task(task)
        # Building the result first normalises the arguments: non-JSON fails here.
        draft = TaskResult(
            task=task,
            id="",
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=list(args),
            kwargs=dict(kwargs),
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        job = services.enqueue(
            task_job_type(task),
            {"args": draft.args, "kwargs": draft.kwargs},
            queue=task.queue_name,
            priority=task.priority,
            run_at=task.run_after,
        )
        result = replace(draft, id=job.id, enqueued_at=job.created_at)
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str):
        """The task's state as the store has it now; ``TaskResultDoesNotExist`` for an
        unknown id or a job that is not one of this backend's tasks."""
        try:
            job = services.get_job(result_id)
        except (services.InvalidJobId, services.JobNotFound):
            raise TaskResultDoesNotExist(result_id) from None
        task = registered_task(job.type)
        if task is None:
            raise TaskResultDoesNotExist(result_id)
        return task_result_of(job, task, backend=self.alias)


def task_result_of(job: Job, task, *, backend: str):
    """A ``TaskResult`` describing ``job``: status, times, workers, errors, return value."""
    attempts = job.attempts
    started_at = attempts[0].started_at if attempts else (job.lease.started_at if job.lease else None)
    if job.lease is not None:
        last_attempted_at = job.lease.started_at
    else:
        last_attempted_at = attempts[-1].started_at if attempts else None
    workers = [attempt.worker for attempt in attempts]
    if job.lease is not None:
        workers.append(job.lease.owner)
    result = TaskResult(
        task=task,
        id=job.id,
        status=_STATUS[job.status],
        enqueued_at=job.created_at,
        started_at=started_at,
        finished_at=job.finished_at,
        last_attempted_at=last_attempted_at,
        args=job.payload.get("args", []),
        kwargs=job.payload.get("kwargs", {}),
        backend=backend,
        errors=[_task_error(attempt.error) for attempt in attempts if attempt.error],
        worker_ids=workers,
    )
    if job.status == Status.COMPLETED:
        object.__setattr__(result, "_return_value", job.result)
    return result


def _task_error(error_text: str):
    """A ``TaskError`` from an attempt's error (``Type: message``, blank line, traceback).

    The traceback's last line names the exception class with its module (builtins have
    none), which is what ``exception_class_path`` wants.
    """
    lines = error_text.splitlines()
    last = lines[-1] if lines else ""
    name = last.split(":", 1)[0].strip() or "Exception"
    if "." not in name:
        name = f"builtins.{name}"
    return TaskError(exception_class_path=name, traceback=error_text)


def _register(task) -> None:
    """Make the task's job type known to ``services.enqueue`` and the workers.

    Runs for every task defined on this backend (and every ``.using()`` copy): the
    handler is the same function each time, so registering again changes nothing.
    """
    job_type = task_job_type(task)
    with _tasks_lock:
        _tasks.setdefault(job_type, task)  # the task as declared, not a `.using()` copy
    handler(job_type, demo=task.func.__module__ in DEMO_TASK_MODULES)(_run_task)


def _run_task(payload: dict, context: JobContext):
    """The handler of every task job: call the task function, keep its return value."""
    task = registered_task(context.job.type)
    args, kwargs = payload.get("args", []), payload.get("kwargs", {})
    if task.takes_context:
        running = task_result_of(context.job, task, backend=task.backend)
        value = task.call(TaskContext(task_result=running), *args, **kwargs)
    else:
        value = task.call(*args, **kwargs)
    return normalize_json(value)
