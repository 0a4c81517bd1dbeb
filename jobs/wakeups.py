"""In-process wake-ups: a job enqueued in this process wakes this process's worker pool.

This is what makes same-process pickup take milliseconds instead of a poll interval.
Pools in other processes still find the job by polling (or a MongoDB change stream).
"""

import threading

_listeners: list[threading.Event] = []
_lock = threading.Lock()


def subscribe() -> threading.Event:
    """An event set whenever a job is enqueued in this process; clear it after waking."""
    event = threading.Event()
    with _lock:
        _listeners.append(event)
    return event


def unsubscribe(event: threading.Event) -> None:
    with _lock:
        if event in _listeners:
            _listeners.remove(event)


def job_enqueued() -> None:
    """Wake every subscribed pool."""
    with _lock:
        listeners = list(_listeners)
    for event in listeners:
        event.set()
