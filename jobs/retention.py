"""Retention: finished jobs older than the policy says are deleted automatically.

The policy comes from ``JOBQUEUE_RETENTION_COMPLETED``, ``_FAILED`` and ``_CANCELLED``
(seconds, or durations such as ``7d``; ``0`` keeps that status forever). Every worker
pool's lease keeper runs ``purge_expired`` every ``PoolOptions.retention_interval``
seconds. There is no lock between pools: each purge statement deletes at most
``BATCH_SIZE`` jobs found through the (status, finishedAt) index and re-checks its
condition, so purges from several pools at once only share the work, and the claim path
never waits behind one long delete.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from jobqueue.env import parse_duration
from jobs.domain import Status
from jobs.stores import JobStore, get_store
from jobs.timeutil import Clock, utc_now

logger = logging.getLogger(__name__)

#: Jobs deleted by one statement: short enough never to hold the store's write lock for long.
BATCH_SIZE = 1000
#: Batches per status in one purge run; a larger backlog is worked off over several runs.
MAX_BATCHES_PER_RUN = 20

_SETTINGS = {
    Status.COMPLETED: "JOBQUEUE_RETENTION_COMPLETED",
    Status.FAILED: "JOBQUEUE_RETENTION_FAILED",
    Status.CANCELLED: "JOBQUEUE_RETENTION_CANCELLED",
}


@dataclass(frozen=True)
class RetentionPolicy:
    """How long jobs of each finished status are kept; ``None``: forever."""

    keep: dict[str, timedelta | None]

    @classmethod
    def from_settings(cls) -> "RetentionPolicy":
        """The policy of the settings; ``ImproperlyConfigured`` naming a bad one."""
        keep = {}
        for status, name in _SETTINGS.items():
            value = getattr(settings, name)
            try:
                seconds = parse_duration(value)
            except ValueError as error:
                raise ImproperlyConfigured(f"{name}={value!r}: {error}") from None
            keep[status.value] = timedelta(seconds=seconds) if seconds else None
        return cls(keep=keep)

    def describe(self) -> dict[str, str]:
        """Per status, the retention in words ("7 days", "forever")."""
        return {status: _words(kept) for status, kept in self.keep.items()}


def _words(kept: timedelta | None) -> str:
    if kept is None:
        return "forever"
    seconds = kept.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def purge_expired(
    *,
    store: JobStore | None = None,
    clock: Clock = utc_now,
    policy: RetentionPolicy | None = None,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES_PER_RUN,
) -> int:
    """Delete finished jobs past the retention, at most ``batch_size`` per statement and
    ``max_batches`` statements per status; how many. Safe to run from several pools."""
    store = store or get_store()
    policy = policy or RetentionPolicy.from_settings()
    now = clock()
    deleted = 0
    for status, kept in policy.keep.items():
        if kept is None:
            continue
        for _ in range(max_batches):
            count = store.purge_finished(status=status, finished_before=now - kept, limit=batch_size)
            deleted += count
            if count < batch_size:
                break
    if deleted:
        logger.info("retention: deleted %d finished jobs", deleted)
    return deleted


def retention_in_force() -> dict[str, str]:
    """The retention per finished status, in words, for the dashboard."""
    return RetentionPolicy.from_settings().describe()
