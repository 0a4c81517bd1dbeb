"""Figures about the queue for the dashboard, the CLI, ``/stats``, ``/metrics`` and
``/readyz``: counts, latency, throughput, live worker pools, the store's health."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from jobs.domain import Job, PoolInfo, Status, Throughput
from jobs.errors import JobValidationError
from jobs.stores import get_store
from jobs.timeutil import Clock, utc_now


@dataclass(frozen=True)
class QueueStats:
    """Queue health at a glance; every figure comes from indexed queries."""

    by_status: dict[str, int]
    by_type: dict[str, dict[str, int]]
    oldest_pending_age_seconds: float | None
    delayed: int
    total: int


def queue_stats(*, clock: Clock = utc_now) -> QueueStats:
    """Counts per status and per type x status, the age of the oldest due pending job
    (queue latency) and the number of delayed jobs."""
    store = get_store()
    now = clock()
    by_status = {status.value: 0 for status in Status}
    by_type: dict[str, dict[str, int]] = {}
    for (job_type, status), count in sorted(store.count_by_type_and_status().items()):
        by_status[status] = by_status.get(status, 0) + count
        by_type.setdefault(job_type, {s.value: 0 for s in Status})[status] = count
    oldest = store.oldest_due_pending(now=now)
    return QueueStats(
        by_status=by_status,
        by_type=by_type,
        oldest_pending_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else None,
        delayed=store.count_delayed(now=now),
        total=sum(by_status.values()),
    )


def throughput(*, window: timedelta, bucket_seconds: int, clock: Clock = utc_now) -> list[Throughput]:
    """Completed and failed jobs per bucket over the last ``window``, every bucket
    present (zeros included), oldest first."""
    now = clock()
    first = int((now - window).timestamp()) // bucket_seconds * bucket_seconds + bucket_seconds
    since = datetime.fromtimestamp(first, tz=now.tzinfo)
    found = {bucket.start: bucket for bucket in get_store().throughput(since=since, bucket_seconds=bucket_seconds)}
    buckets = []
    start = since
    while start <= now:
        buckets.append(found.get(start, Throughput(start=start, completed=0, failed=0)))
        start += timedelta(seconds=bucket_seconds)
    return buckets


def live_worker_pools(*, clock: Clock = utc_now) -> list[PoolInfo]:
    """Worker pools that heartbeated within the lease time."""
    since = clock() - timedelta(seconds=settings.JOBQUEUE_LEASE_SECONDS)
    return get_store().live_pools(heartbeat_since=since)


def store_description() -> str:
    """Which store holds the jobs (no credentials)."""
    return get_store().describe()


def recently_finished_jobs(*, limit: int = 500) -> list[Job]:
    """The latest completed or failed jobs, newest ``finishedAt`` first (for metrics)."""
    if not 1 <= limit <= 10_000:
        raise JobValidationError({"limit": ["Must be from 1 to 10000."]})
    return get_store().recently_finished(limit=limit)


def check_store_ready() -> None:
    """Raise ``StoreUnavailable`` (or the driver's error) unless the store answers a read."""
    get_store().oldest_due_pending(now=utc_now())
