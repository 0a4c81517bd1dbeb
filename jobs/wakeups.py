"""In-process wake-ups: a job enqueued in this process wakes this process's worker pool.

This is what makes same-process pickup take milliseconds instead of a poll interval.
Pools in other processes still find the job by polling (or a MongoDB change stream).

``enqueued`` is a Django signal: the service layer sends it after a job is stored, and
a running ``WorkerPool`` connects to it. Receivers run in the enqueuing thread, so they
must only note the news (set a flag or an event) and return at once.
"""

from django.dispatch import Signal

#: Sent (``sender`` None, no arguments) whenever a job is enqueued in this process.
enqueued = Signal()


def job_enqueued() -> None:
    """Wake every connected pool."""
    enqueued.send(sender=None)
