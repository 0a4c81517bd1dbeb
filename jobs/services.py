"""Use cases shared by the API, the admin and the workers.

Views and admin actions call these, never a store's internals. Every function takes
keyword-only arguments after the first and raises a ``ServiceError`` subclass for a
request that cannot be done, with a message fit to show a user.
"""

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from jobs import wakeups
from jobs.errors import (
    InvalidJobId,
    InvalidTransition,
    JobNotFound,
    JobValidationError,
    PayloadTooLarge,
    ServiceError,
    plain_errors,
)
from jobs.handlers import get_handler, known_types
from jobs.models import Job, NewJob, PoolInfo, Status, Throughput
from jobs.stores import ListCursor, get_store
from jobs.timeutil import Clock, truncate_ms, utc_now
from jobs.validation import JobInputSerializer

__all__ = [
    "InvalidJobId",
    "InvalidTransition",
    "JobNotFound",
    "JobValidationError",
    "PayloadTooLarge",
    "ServiceError",
]

logger = logging.getLogger(__name__)

MAX_LIST_LIMIT = 500
_JOB_ID = re.compile(r"^[0-9a-f]{24}$")


# --- enqueue ----------------------------------------------------------------------------


def enqueue(
    type: str,
    payload: dict | None = None,
    *,
    max_retries: int | None = None,
    priority: int = 0,
    run_at: datetime | None = None,
    delay_seconds: float | None = None,
    unique_key: str | None = None,
    clock: Clock = utc_now,
) -> Job:
    """Validate and store a new pending job; return it as stored.

    Exactly the checks of ``POST /jobs`` (``jobs.validation.JobInputSerializer``): a
    registered ``type``, a JSON-object ``payload`` (``None`` means ``{}``) within the size
    and depth limits, with no key that starts with ``$`` or holds ``.`` or NUL, valid for
    the type's own serializer. ``run_at`` (aware) or ``delay_seconds`` (not both) delay
    the first run. Raises ``JobValidationError`` (errors named as in the API:
    ``maxRetries``, ``runAt``, ``payload.to``...) or ``PayloadTooLarge``; nothing is
    stored then. With ``unique_key``, while a pending or processing job of the same type
    holds that key, that job is returned and nothing is stored.
    """
    data = {"type": type, "payload": {} if payload is None else payload, "priority": priority}
    named = (("maxRetries", max_retries), ("runAt", run_at), ("delaySeconds", delay_seconds), ("uniqueKey", unique_key))
    for name, value in named:
        if value is not None:
            data[name] = value
    return enqueue_request(data, clock=clock)


def enqueue_request(data: Mapping, *, clock: Clock = utc_now) -> Job:
    """Validate the JSON body of ``POST /jobs`` (camelCase names) and store the job.

    Raises ``JobValidationError`` with the errors per field, a payload's nested per its
    own field, or ``PayloadTooLarge``; nothing is stored then.
    """
    return submit_job(data, clock=clock).job


@dataclass(frozen=True)
class Submitted:
    """The job a request stands for, and whether the request created it (``False``: a
    live job of the same type already held its ``uniqueKey``)."""

    job: Job
    created: bool


def submit_job(data: Mapping, *, clock: Clock = utc_now, schedule: str | None = None) -> Submitted:
    """``enqueue_request``, telling a new job from the live one holding its ``uniqueKey``.

    ``schedule`` names the schedule enqueuing the job (not a client's field).
    """
    now = clock()
    given = JobInputSerializer(data=data, context={"now": now})
    if not given.is_valid():
        raise JobValidationError(plain_errors(given.errors))
    job_input = given.validated_data
    run_at = job_input["run_at"]
    new_job = NewJob(
        type=job_input["type"],
        payload=job_input["payload"],
        max_retries=job_input["max_retries"],
        priority=job_input["priority"],
        run_at=truncate_ms(run_at) if run_at is not None else None,
        unique_key=job_input["unique_key"],
        schedule=schedule,
    )
    if new_job.unique_key is None:
        job, created = get_store().insert(new_job, now=now), True
    else:
        job, created = get_store().insert_unique(new_job, now=now)
    if not created:
        logger.debug("%s job %s already holds unique key %r", job.type, job.id, new_job.unique_key)
        return Submitted(job=job, created=False)
    logger.debug("enqueued %s job %s", job.type, job.id)
    wakeups.job_enqueued()
    return Submitted(job=job, created=True)


# --- read -------------------------------------------------------------------------------


def parse_job_id(job_id: str) -> str:
    """``job_id`` lower-cased if it is 24 hex digits; else ``InvalidJobId``."""
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id.lower()):
        raise InvalidJobId(f"{job_id!r} is not a job id (24 hexadecimal characters)")
    return job_id.lower()


def get_job(job_id: str) -> Job:
    """The job with this id; ``InvalidJobId`` or ``JobNotFound`` otherwise."""
    job = get_store().get(parse_job_id(job_id))
    if job is None:
        raise JobNotFound(f"no job with id {job_id}")
    return job


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_list_cursor(job: Job) -> str:
    """The opaque paging cursor at ``job``: ``<createdAt in epoch ms>_<id>``, URL-safe.

    The API's ``cursor`` and the admin's ``after``/``before`` parameters carry it.
    """
    milliseconds = (job.created_at - _EPOCH) // timedelta(milliseconds=1)
    return f"{milliseconds}_{job.id}"


def decode_list_cursor(text: str) -> ListCursor:
    """The (createdAt, id) that ``encode_list_cursor`` wrote; ``ValueError`` for anything else."""
    milliseconds, separator, job_id = text.partition("_")
    if not separator or not milliseconds.isdigit():
        raise ValueError(f"not a list cursor: {text!r}")
    try:
        return _EPOCH + timedelta(milliseconds=int(milliseconds)), parse_job_id(job_id)
    except (InvalidJobId, OverflowError) as error:
        raise ValueError(f"not a list cursor: {text!r} ({error})") from None


def list_jobs(
    *,
    status: str | None = None,
    type: str | None = None,
    has_error: bool | None = None,
    limit: int = 50,
    after: ListCursor | None = None,
    before: ListCursor | None = None,
) -> list[Job]:
    """Jobs newest first, filtered; ``after`` continues from a page's last (createdAt, id),
    ``before`` goes back from a page's first."""
    _check_list_query(status=status, limit=limit, after=after, before=before)
    return get_store().list_jobs(status=status, type=type, has_error=has_error, limit=limit, after=after, before=before)


@dataclass(frozen=True)
class JobPage:
    """One page of a job list, and whether any job follows it."""

    jobs: list[Job]
    has_next: bool


def list_jobs_page(
    *,
    status: str | None = None,
    type: str | None = None,
    has_error: bool | None = None,
    limit: int = 50,
    after: ListCursor | None = None,
) -> JobPage:
    """Like ``list_jobs`` (paging forward), saying whether a next page has any job: it
    reads ``limit + 1`` jobs, so a page that is exactly full has no next page.

    Unknown filter values are refused alike, with ``JobValidationError`` naming the
    filter: a ``status`` that is not a status, and a ``type`` with no registered handler
    that no stored job has either (jobs of a type whose handler was removed still list).
    """
    _check_list_query(status=status, limit=limit, after=after, before=None)
    jobs = get_store().list_jobs(status=status, type=type, has_error=has_error, limit=limit + 1, after=after)
    if not jobs and after is None and type is not None and get_handler(type) is None:
        known = ", ".join(known_types()) or "none"
        raise JobValidationError({"type": [f"Unknown job type {type!r}. Known types: {known}."]})
    return JobPage(jobs=jobs[:limit], has_next=len(jobs) > limit)


def _check_list_query(*, status, limit: int, after, before) -> None:
    errors = {}
    if after is not None and before is not None:
        errors["cursor"] = ["Give after or before, not both."]
    if status is not None and status not in set(Status):
        errors["status"] = [f"Unknown status {status!r}. Statuses: {', '.join(Status)}."]
    if not 1 <= limit <= MAX_LIST_LIMIT:
        errors["limit"] = [f"Must be from 1 to {MAX_LIST_LIMIT}."]
    if errors:
        raise JobValidationError(errors)


# --- operator actions -----------------------------------------------------------------


def cancel_job(job_id: str, *, clock: Clock = utc_now) -> Job:
    """Cancel a pending job so it is never claimed. ``InvalidTransition`` otherwise."""
    job = get_job(job_id)
    cancelled = get_store().cancel(job.id, now=clock())
    if cancelled is None:
        current = get_job(job_id)
        raise InvalidTransition(f"job {job.id} is {current.status}, not pending: it cannot be cancelled")
    logger.info("cancelled %s job %s", cancelled.type, cancelled.id)
    return cancelled


def retry_job_now(job_id: str, *, clock: Clock = utc_now) -> Job:
    """Run a failed job again now, with one more attempt allowed, or make a delayed
    pending job due now. ``InvalidTransition`` in any other state."""
    job = get_job(job_id)
    retried = get_store().retry_now(job.id, now=clock())
    if retried is None:
        current = get_job(job_id)
        if current.status == Status.FAILED and current.unique_key is not None:
            raise InvalidTransition(
                f"job {job.id} cannot run again now: another live {current.type} job holds its "
                f"unique key {current.unique_key!r}"
            )
        raise InvalidTransition(f"job {job.id} is {current.status}: only failed or pending jobs can be retried now")
    logger.info("retry now: %s job %s", retried.type, retried.id)
    wakeups.job_enqueued()
    return retried


def retry_failed_jobs(*, type: str, clock: Clock = utc_now) -> int:
    """Retry now every failed job of ``type``; how many."""
    count = get_store().retry_failed(type=type, now=clock())
    logger.info("retry now: %d failed %s jobs", count, type)
    if count:
        wakeups.job_enqueued()
    return count


def delete_finished_jobs(*, older_than_days: float, clock: Clock = utc_now) -> int:
    """Delete completed, failed and cancelled jobs finished over N days ago; how many."""
    if older_than_days < 0:
        raise JobValidationError({"days": ["Must be 0 or more."]})
    count = get_store().delete_finished(finished_before=clock() - timedelta(days=older_than_days))
    logger.info("deleted %d finished jobs older than %s days", count, older_than_days)
    return count


# --- statistics -------------------------------------------------------------------------


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


# --- results and metrics ----------------------------------------------------------------


def record_result(job_id: str, result) -> None:
    """Keep a handler's JSON return value as the job's ``result``.

    ``JobValidationError`` if it is not JSON; ``JobNotFound`` for an unknown job.
    """
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise JobValidationError({"result": [f"Must be JSON: {error}."]}) from None
    if not get_store().record_result(parse_job_id(job_id), result):
        raise JobNotFound(f"no job with id {job_id}")


def recently_finished_jobs(*, limit: int = 500) -> list[Job]:
    """The latest completed or failed jobs, newest ``finishedAt`` first (for metrics)."""
    if not 1 <= limit <= 10_000:
        raise JobValidationError({"limit": ["Must be from 1 to 10000."]})
    return get_store().recently_finished(limit=limit)


def check_store_ready() -> None:
    """Raise ``StoreUnavailable`` (or the driver's error) unless the store answers a read."""
    get_store().oldest_due_pending(now=utc_now())
