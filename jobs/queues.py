"""Use cases about named queues, shared by the API, the admin and the workers (part of
the services layer: nothing here talks to a database but through the store).

A queue exists as soon as a job names it or it is paused; ``default`` always exists.
Pausing is stored in the store, so every pool sees it: a paused queue's pending jobs are
not claimed, its running jobs finish.
"""

import logging
import re
from dataclasses import dataclass

from jobs.domain import DEFAULT_QUEUE, QUEUE_NAME_PATTERN, Status
from jobs.errors import JobValidationError
from jobs.stores import get_store
from jobs.timeutil import Clock, utc_now

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSummary:
    """One queue as ``GET /queues`` and the dashboard show it."""

    name: str
    counts: dict[str, int]
    oldest_pending_age_seconds: float | None
    paused: bool


def check_queue_name(name: str) -> str:
    """``name`` if it is a queue name (``[a-z0-9_-]{1,64}``); else ``JobValidationError`` on ``name``."""
    if not isinstance(name, str) or not re.fullmatch(QUEUE_NAME_PATTERN, name):
        raise JobValidationError({"name": [f"{name!r} is not a queue name: 1 to 64 of a-z, 0-9, '_' and '-'."]})
    return name


def list_queues(*, clock: Clock = utc_now) -> list[QueueSummary]:
    """Every queue, by name: jobs per status, age in seconds of its oldest due pending job
    (``None``: none due) and whether it is paused. Three indexed reads."""
    store = get_store()
    now = clock()
    counts: dict[str, dict[str, int]] = {DEFAULT_QUEUE: {}}
    for (queue, status), count in store.count_by_queue_and_status().items():
        counts.setdefault(queue, {})[status] = count
    oldest = store.oldest_due_by_queue(now=now)
    paused = store.paused_queues()
    return [
        QueueSummary(
            name=name,
            counts={status.value: counts.get(name, {}).get(status.value, 0) for status in Status},
            oldest_pending_age_seconds=max(0.0, (now - oldest[name]).total_seconds()) if name in oldest else None,
            paused=name in paused,
        )
        for name in sorted(set(counts) | paused)
    ]


def get_queue(name: str, *, clock: Clock = utc_now) -> QueueSummary:
    """The summary of queue ``name`` (all zeros for a queue no job names yet)."""
    check_queue_name(name)
    for summary in list_queues(clock=clock):
        if summary.name == name:
            return summary
    return QueueSummary(
        name=name, counts={status.value: 0 for status in Status}, oldest_pending_age_seconds=None, paused=False
    )


def pause_queue(name: str, *, clock: Clock = utc_now) -> QueueSummary:
    """Stop every pool claiming ``name``'s pending jobs (idempotent); running ones finish.

    Pools see it within one poll interval. ``JobValidationError`` for a bad name."""
    get_store().pause_queue(check_queue_name(name), now=clock())
    logger.info("paused queue %s", name)
    return get_queue(name, clock=clock)


def resume_queue(name: str, *, clock: Clock = utc_now) -> QueueSummary:
    """Let pools claim ``name``'s pending jobs again (idempotent)."""
    get_store().resume_queue(check_queue_name(name))
    logger.info("resumed queue %s", name)
    return get_queue(name, clock=clock)


def paused_queues() -> set[str]:
    """Names of the paused queues (the worker pool reads this once per poll interval)."""
    return get_store().paused_queues()
