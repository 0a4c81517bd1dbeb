"""In-process wake-ups: a job enqueued in this process wakes this process's worker pool.

This is what makes same-process pickup take milliseconds instead of a poll interval.
Pools in other processes still find the job by polling (or a MongoDB change stream).
"""

import threading
from collections.abc import Callable

_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()


def subscribe(listener: Callable[[], None]) -> None:
    """Call ``listener()`` whenever a job is enqueued in this process.

    It runs in the enqueuing thread, so it must only note the news (set a flag or an
    event) and return at once.
    """
    with _lock:
        _listeners.append(listener)


def unsubscribe(listener: Callable[[], None]) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def job_enqueued() -> None:
    """Wake every subscribed pool."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener()
