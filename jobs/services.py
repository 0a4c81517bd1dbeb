"""Use cases shared by the API, the admin and the workers.

Views and admin actions call these, never a store's internals. Every function takes
keyword-only arguments after the first and raises a ``ServiceError`` subclass for a
request that cannot be done, with a message fit to show a user.
"""

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.serializers import as_serializer_error

from jobs import groupcommit, idempotency, wakeups
from jobs.errors import (
    IdempotencyConflict,
    InvalidJobId,
    InvalidTransition,
    JobNotFound,
    JobValidationError,
    PayloadTooLarge,
    ServiceError,
    plain_errors,
)
from jobs.frozen_build import FrozenBuilder
from jobs.handlers import get_handler, known_types
from jobs.models import ALL_JOBS, Job, JobFilter, NewJob, PoolInfo, Status, Throughput
from jobs.stores import ListCursor, get_store
from jobs.timeutil import Clock, truncate_ms, utc_now
from jobs.validation import JobInputSerializer
from jobs.validation_fast import quick_validated_and_encoded

__all__ = [
    "IdempotencyConflict",
    "InvalidJobId",
    "InvalidTransition",
    "JobNotFound",
    "JobValidationError",
    "PayloadTooLarge",
    "ServiceError",
]

logger = logging.getLogger(__name__)

MAX_LIST_LIMIT = 500
#: The most jobs one ``enqueue_many`` (``POST /jobs/bulk``) takes.
MAX_BULK_JOBS = 1000
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
    queue: str | None = None,
    unique_key: str | None = None,
    idempotency_key: str | None = None,
    clock: Clock = utc_now,
) -> Job:
    """Validate and store a new pending job; return it as stored.

    Exactly the checks of ``POST /jobs`` (``jobs.validation.JobInputSerializer``): a
    registered ``type``, a JSON-object ``payload`` (``None`` means ``{}``) within the size
    and depth limits, with no key that starts with ``$`` or holds ``.`` or NUL, valid for
    the type's own serializer. ``run_at`` (aware) or ``delay_seconds`` (not both) delay
    the first run; ``queue`` (``[a-z0-9_-]{1,64}``) defaults to ``default``. Raises
    ``JobValidationError`` (errors named as in the API: ``maxRetries``, ``runAt``,
    ``payload.to``...) or ``PayloadTooLarge``; nothing is stored then.

    With ``unique_key``, while a pending or processing job of the same type holds that
    key, that job is returned and nothing is stored. With ``idempotency_key``, a request
    repeated with that key stores nothing and returns the job the first one stored, with
    ``replayed`` set; the same key with different arguments raises
    ``IdempotencyConflict``. The stores' unique indexes decide races.
    """
    data = {"type": type, "payload": {} if payload is None else payload, "priority": priority}
    options = (
        ("maxRetries", max_retries),
        ("runAt", run_at),
        ("delaySeconds", delay_seconds),
        ("queue", queue),
        ("uniqueKey", unique_key),
    )
    for name, value in options:
        if value is not None:
            data[name] = value
    return enqueue_request(data, idempotency_key=idempotency_key, clock=clock)


def enqueue_request(
    data: Mapping,
    *,
    idempotency_key: str | None = None,
    authorize: Callable[[Mapping], None] | None = None,
    clock: Clock = utc_now,
) -> Job:
    """Validate the JSON body of ``POST /jobs`` (camelCase names) and store the job.

    Raises ``JobValidationError`` with the errors per field, a payload's nested per its
    own field, or ``PayloadTooLarge``; nothing is stored then. ``authorize``, when given,
    sees the validated input (``type``, ``priority``...) before anything is stored and
    may raise to refuse it. ``idempotency_key``: see ``enqueue``.
    """
    return submit_job(data, idempotency_key=idempotency_key, authorize=authorize, clock=clock).job


@dataclass(frozen=True)
class Submitted:
    """The job a request stands for, and whether the request created it (``False``: a
    live job of the same type already held its ``uniqueKey``)."""

    job: Job
    created: bool


def submit_job(
    data: Mapping,
    *,
    idempotency_key: str | None = None,
    authorize: Callable[[Mapping], None] | None = None,
    clock: Clock = utc_now,
    schedule: str | None = None,
) -> Submitted:
    """``enqueue_request``, telling a new job from the live one holding its ``uniqueKey``.

    ``schedule`` names the schedule enqueuing the job (not a client's field).
    """
    now = clock()
    job_input, encoded_payload = _validated_input(data, now)
    if authorize is not None:
        authorize(job_input)
    if idempotency_key is not None and not idempotency.is_valid_key(idempotency_key):
        raise JobValidationError({"idempotencyKey": [f"Must be 1 to {idempotency.MAX_STORED_KEY_LENGTH} characters."]})
    fingerprint = idempotency.request_hash(data) if idempotency_key is not None else None
    new_job = _new_job(
        job_input, encoded_payload, idempotency_key=idempotency_key, request_hash=fingerprint, schedule=schedule
    )
    if new_job.unique_key is not None:
        job, created = get_store().insert_unique(new_job, now=now)
        if not created:
            logger.debug("%s job %s already holds unique key %r", job.type, job.id, new_job.unique_key)
            return Submitted(job=job, created=False)
    else:
        job = groupcommit.insert(new_job, now=now)
    if job.replayed:
        if job.request_hash != new_job.request_hash:
            raise IdempotencyConflict(
                "This Idempotency-Key was used with a different request; use a new key for a new job."
            )
        logger.debug("idempotent replay of %s job %s", job.type, job.id)
        return Submitted(job=job, created=True)
    logger.debug("enqueued %s job %s", job.type, job.id)
    wakeups.job_enqueued()
    return Submitted(job=job, created=True)


def enqueue_many(
    jobs: Sequence[Mapping],
    *,
    authorize: Callable[[Mapping], None] | None = None,
    clock: Clock = utc_now,
) -> list[Job]:
    """Validate every job (each a ``POST /jobs`` body, camelCase names) and store them
    all in one transaction or batch write; the jobs as stored, in order.

    ``jobs`` must be a list of at most ``MAX_BULK_JOBS``. Any invalid item raises
    ``JobValidationError`` with ``{"jobs": {"<index>": {field: [messages]}}}`` (a
    too-large payload counts as an invalid item) and nothing is stored. ``authorize``
    sees each validated job as in ``enqueue_request``; a refusal stores none of them.
    """
    if not isinstance(jobs, list | tuple):
        raise JobValidationError({"jobs": ["Must be a list of jobs."]})
    if not 1 <= len(jobs) <= MAX_BULK_JOBS:
        raise JobValidationError({"jobs": [f"Give from 1 to {MAX_BULK_JOBS} jobs; got {len(jobs)}."]})
    now = clock()
    checker = JobInputSerializer(context={"now": now})
    inputs, errors = [], {}  # inputs: (validated input, encoded payload or None)
    for index, data in enumerate(jobs):
        try:
            if type(data) is not dict and not isinstance(data, Mapping):  # skips the ABC check for JSON
                raise JobValidationError({"non_field_errors": ["Must be a JSON object."]})
            if data.get("uniqueKey") is not None:
                # insert_many is all or none: one held key would refuse the whole batch.
                raise JobValidationError({"uniqueKey": ["Not taken by bulk enqueue; post such jobs one by one."]})
            inputs.append(_validated_input(data, now, checker))
        except JobValidationError as error:
            errors[str(index)] = error.errors
        except PayloadTooLarge as error:
            errors[str(index)] = {"payload": [str(error)]}
    if errors:
        raise JobValidationError({"jobs": errors})
    if authorize is not None:
        for job_input, _ in inputs:
            authorize(job_input)
    stored = get_store().insert_many([_new_job(*checked) for checked in inputs], now=now)
    logger.debug("enqueued %d jobs in bulk", len(stored))
    wakeups.job_enqueued()
    return stored


def _validated_input(
    data: Mapping, now: datetime, checker: JobInputSerializer | None = None
) -> tuple[Mapping, str | None]:
    """The validated input of one ``POST /jobs`` body and its payload as JSON text if the
    check encoded it (``None``: the store encodes it); ``JobValidationError`` or
    ``PayloadTooLarge`` otherwise.

    A plain job passes the fast check (``jobs.validation_fast``); anything else goes
    through ``JobInputSerializer``, so every error is worded by the one validation.
    ``checker`` (an unbound ``JobInputSerializer``) may be shared by many calls: DRF
    deep-copies a serializer's fields once per instance, the bulk of a small job's cost.
    """
    checked = quick_validated_and_encoded(data, now)
    if checked is not None:
        return checked
    if checker is None:
        given = JobInputSerializer(data=data, context={"now": now})
        if not given.is_valid():
            raise JobValidationError(plain_errors(given.errors))
        return given.validated_data, None
    try:
        return checker.run_validation(data), None
    except ValidationError as error:
        raise JobValidationError(plain_errors(as_serializer_error(error))) from None


_build_new_job = FrozenBuilder(NewJob)


def _new_job(job_input: Mapping, encoded_payload: str | None = None, **stored_with) -> NewJob:
    """The ``NewJob`` of validated input; ``stored_with``: the idempotency fields."""
    run_at = job_input["run_at"]
    return _build_new_job(
        type=job_input["type"],
        payload=job_input["payload"],
        max_retries=job_input["max_retries"],
        priority=job_input["priority"],
        run_at=truncate_ms(run_at) if run_at is not None else None,
        queue=job_input["queue"],
        unique_key=job_input["unique_key"],
        encoded_payload=encoded_payload,
        **stored_with,
    )


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
    criteria: JobFilter = ALL_JOBS,
    *,
    limit: int = 50,
    after: ListCursor | None = None,
    before: ListCursor | None = None,
) -> list[Job]:
    """Jobs matching ``criteria``, newest first; ``after`` continues from a page's last
    (createdAt, id), ``before`` goes back from a page's first."""
    _check_list_query(status=criteria.status, limit=limit, after=after, before=before)
    return get_store().list_jobs(criteria, limit=limit, after=after, before=before)


@dataclass(frozen=True)
class JobPage:
    """One page of a job list, and whether any job follows it."""

    jobs: list[Job]
    has_next: bool


def list_jobs_page(criteria: JobFilter = ALL_JOBS, *, limit: int = 50, after: ListCursor | None = None) -> JobPage:
    """Like ``list_jobs`` (paging forward), saying whether a next page has any job: it
    reads ``limit + 1`` jobs, so a page that is exactly full has no next page.

    Unknown filter values are refused alike, with ``JobValidationError`` naming the
    filter: a ``status`` that is not a status, and a ``type`` with no registered handler
    that no stored job has either (jobs of a type whose handler was removed still list).
    """
    _check_list_query(status=criteria.status, limit=limit, after=after, before=None)
    jobs = get_store().list_jobs(criteria, limit=limit + 1, after=after)
    job_type = criteria.type
    if not jobs and after is None and job_type is not None and get_handler(job_type) is None:
        known = ", ".join(known_types()) or "none"
        raise JobValidationError({"type": [f"Unknown job type {job_type!r}. Known types: {known}."]})
    return JobPage(jobs=jobs[:limit], has_next=len(jobs) > limit)


def list_jobs_query_page(query: Mapping) -> JobPage:
    """``list_jobs_page`` for the ``validated_data`` of a ``JobListQuerySerializer``."""
    return list_jobs_page(JobFilter.from_query(query), limit=query["limit"], after=query.get("after"))


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


def cancel_job_request(job_id: str, *, clock: Clock = utc_now) -> Job:
    """``POST /jobs/<id>/cancel``: a pending job becomes ``cancelled`` at once; a
    processing one gets ``cancelRequested`` and its handler sees ``context.cancelled``
    within one lease renewal. ``InvalidTransition`` (naming the status) for any other
    state, ``JobNotFound``/``InvalidJobId`` for no such job; nothing changes then."""
    job = get_job(job_id)
    store = get_store()
    changed = store.cancel(job.id, now=clock()) or store.request_cancel(job.id, now=clock())
    if changed is None:
        current = get_job(job_id)
        raise InvalidTransition(
            f"job {job.id} is {current.status}: only pending or processing jobs can be cancelled",
            status=current.status,
        )
    action = "cancelled" if changed.status == Status.CANCELLED else "asked to cancel"
    logger.info("%s %s job %s", action, job.type, job.id)
    return changed


def retry_job(job_id: str, *, clock: Clock = utc_now) -> Job:
    """``POST /jobs/<id>/retry``: a failed job runs again (one more attempt allowed), a
    cancelled one is pending again, both due now. ``InvalidTransition`` (naming the
    status) in any other state, ``JobNotFound``/``InvalidJobId`` for no such job."""
    job = get_job(job_id)
    store = get_store()
    retried = None
    if job.status == Status.FAILED:
        retried = store.retry_now(job.id, now=clock())
    elif job.status == Status.CANCELLED:
        retried = store.retry_cancelled(job.id, now=clock())
    if retried is None or retried.status != Status.PENDING:
        current = get_job(job_id)
        raise InvalidTransition(
            f"job {job.id} is {current.status}: only failed or cancelled jobs can be retried",
            status=current.status,
        )
    logger.info("retry: %s job %s", retried.type, retried.id)
    wakeups.job_enqueued()
    return retried


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


# --- metrics ----------------------------------------------------------------


def recently_finished_jobs(*, limit: int = 500) -> list[Job]:
    """The latest completed or failed jobs, newest ``finishedAt`` first (for metrics)."""
    if not 1 <= limit <= 10_000:
        raise JobValidationError({"limit": ["Must be from 1 to 10000."]})
    return get_store().recently_finished(limit=limit)


def check_store_ready() -> None:
    """Raise ``StoreUnavailable`` (or the driver's error) unless the store answers a read."""
    get_store().oldest_due_pending(now=utc_now())
