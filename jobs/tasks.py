"""A demonstration ``django.tasks`` task (active with ``JOBQUEUE_DEMO_HANDLERS``).

``add.enqueue(2, 3)`` stores a job of type ``jobs.tasks.add``; a worker runs it and
``add.get_result(result.id).return_value`` is then ``5``.
"""

from jobs.tasks_backend import task


@task(priority=5)
def add(a: int, b: int) -> int:
    """Add two numbers: the smallest task with a return value."""
    return a + b


@task
def explode(message: str) -> None:
    """Always raises, so its result shows errors."""
    raise ValueError(message)
