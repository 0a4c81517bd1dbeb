"""Which job a log line is about, carried by a context variable.

A worker wraps each run of a job in ``job_log_context``; ``JobContextFilter`` (on the
console handler, see ``jobqueue.logconfig``) copies ``job_id``, ``job_type``,
``attempt`` and ``worker`` onto every record logged meanwhile on that thread, by the
handler or by the worker, unless the call gave them with ``extra=``. The JSON format
prints them as fields; the plain format ignores them.
"""

import contextlib
import contextvars
import logging

JOB_FIELDS = ("job_id", "job_type", "attempt", "worker")

_current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("jobqueue_log_job", default=None)


@contextlib.contextmanager
def job_log_context(job, *, worker: str):
    """Log lines inside the block carry this job's id, type, attempt number and worker."""
    token = _current.set({"job_id": job.id, "job_type": job.type, "attempt": job.retry_count + 1, "worker": worker})
    try:
        yield
    finally:
        _current.reset(token)


class JobContextFilter(logging.Filter):
    """Adds the current job's fields to a record (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _current.get()
        if fields:
            for name, value in fields.items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True
