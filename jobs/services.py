"""Use cases shared by the API, the admin and the workers.

Views and admin actions call these, never a store's internals. Every function takes
keyword-only arguments after the first and raises a ``ServiceError`` subclass for a
request that cannot be done, with a message fit to show a user.
"""

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from jobs import idempotency, wakeups
from jobs.handlers import get_handler, known_types
from jobs.models import Job, NewJob, Status, Throughput, WorkerPool
from jobs.stores import ListCursor, get_store
from jobs.timeutil import Clock, truncate_ms, utc_now

logger = logging.getLogger(__name__)

MAX_TYPE_LENGTH = 100
MAX_PAYLOAD_DEPTH = 32
MAX_LIST_LIMIT = 500
_JOB_ID = re.compile(r"^[0-9a-f]{24}$")


class ServiceError(Exception):
    """A request the service cannot do; ``str()`` is a message for the user."""


class JobValidationError(ServiceError):
    """Bad input; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))


class PayloadTooLarge(ServiceError):
    """The payload is larger than ``JOBQUEUE_MAX_PAYLOAD_BYTES``."""


class InvalidJobId(ServiceError):
    """Not a 24-hex job id."""


class JobNotFound(ServiceError):
    """No job has this id."""


class IdempotencyConflict(ServiceError):
    """The idempotency key was used before with a different request."""


class InvalidTransition(ServiceError):
    """The job is not in a state the action applies to (it may have changed meanwhile)."""


# --- enqueue ----------------------------------------------------------------------------


def enqueue(
    type: str,
    payload: dict | None = None,
    *,
    max_retries: int | None = None,
    priority: int = 0,
    run_at: datetime | None = None,
    delay_seconds: float | None = None,
    idempotency_key: str | None = None,
    clock: Clock = utc_now,
) -> Job:
    """Validate and store a new pending job; return it as stored.

    The same checks as ``POST /jobs``: a registered ``type``, a JSON-object ``payload``
    (``None`` means ``{}``) within the size and depth limits, with no key that starts
    with ``$`` or holds ``.`` or NUL, and valid for the type's own serializer.
    ``run_at`` or ``delay_seconds`` (not both) delay the first run. Raises
    ``JobValidationError`` or ``PayloadTooLarge``; nothing is stored then.

    With ``idempotency_key``, a request repeated with that key stores nothing and returns
    the job the first one stored, with ``replayed`` set; the same key with different
    arguments raises ``IdempotencyConflict``. The stores' unique index decides races.
    """
    fingerprint = idempotency.request_hash(type, payload, max_retries, priority, run_at, delay_seconds)
    payload = {} if payload is None else payload
    errors: dict[str, list[str]] = {}
    handler = None
    if not isinstance(type, str) or not type.strip():
        errors["type"] = ["This field is required and must be a non-empty string."]
    elif len(type) > MAX_TYPE_LENGTH:
        errors["type"] = [f"Ensure this field has no more than {MAX_TYPE_LENGTH} characters."]
    else:
        handler = get_handler(type)
        if handler is None:
            errors["type"] = [f"Unknown job type {type!r}. Known types: {', '.join(known_types()) or 'none'}."]
    if not isinstance(payload, dict):
        errors["payload"] = ["Must be a JSON object."]
    else:
        _check_payload(payload)
    if max_retries is None:
        max_retries = settings.JOBQUEUE_MAX_RETRIES
    elif isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 100:
        errors["maxRetries"] = ["Must be an integer from 0 to 100."]
    if isinstance(priority, bool) or not isinstance(priority, int) or not -1_000_000 <= priority <= 1_000_000:
        errors["priority"] = ["Must be an integer from -1000000 to 1000000."]
    now = clock()
    if run_at is not None and delay_seconds is not None:
        errors["runAt"] = ["Give runAt or delaySeconds, not both."]
    elif delay_seconds is not None:
        if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int | float) or not 0 <= delay_seconds:
            errors["delaySeconds"] = ["Must be a number of seconds, 0 or more."]
        else:
            try:
                run_at = now + timedelta(seconds=delay_seconds)
            except OverflowError:
                errors["delaySeconds"] = ["Too far in the future."]
    elif run_at is not None and (not isinstance(run_at, datetime) or run_at.tzinfo is None):
        errors["runAt"] = ["Must be a datetime with a timezone."]
    if idempotency_key is not None and not idempotency.is_valid_key(idempotency_key):
        errors["idempotencyKey"] = [f"Must be 1 to {idempotency.MAX_STORED_KEY_LENGTH} characters."]
    if handler is not None and isinstance(payload, dict) and not errors.get("payload"):
        field_errors = handler.validate(payload)
        if field_errors:
            errors["payload"] = [f"{field}: {' '.join(messages)}" for field, messages in field_errors.items()]
    if errors:
        raise JobValidationError(errors)

    new_job = NewJob(
        type=type,
        payload=payload,
        max_retries=max_retries,
        priority=priority,
        run_at=truncate_ms(run_at) if run_at is not None else None,
        idempotency_key=idempotency_key,
        request_hash=fingerprint if idempotency_key is not None else None,
    )
    job = get_store().insert(new_job, now=now)
    if job.replayed:
        if job.request_hash != new_job.request_hash:
            raise IdempotencyConflict(
                "This Idempotency-Key was used with a different request; use a new key for a new job."
            )
        logger.debug("idempotent replay of %s job %s", job.type, job.id)
        return job
    logger.debug("enqueued %s job %s", job.type, job.id)
    wakeups.job_enqueued()
    return job


def _check_payload(payload: dict) -> None:
    """Raise for a payload the stores cannot keep safely: too large, too deep, bad keys."""
    try:
        encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise JobValidationError({"payload": [f"Must be JSON: {error}."]}) from None
    size = len(encoded.encode("utf-8"))
    limit = settings.JOBQUEUE_MAX_PAYLOAD_BYTES
    if size > limit:
        raise PayloadTooLarge(f"payload is {size} bytes; the limit is {limit} bytes (JOBQUEUE_MAX_PAYLOAD_BYTES)")
    problem = _payload_problem(payload, depth=1, path="payload")
    if problem:
        raise JobValidationError({"payload": [problem]})


def _payload_problem(value, *, depth: int, path: str) -> str | None:
    if isinstance(value, dict | list) and depth > MAX_PAYLOAD_DEPTH:
        return f"Nested deeper than {MAX_PAYLOAD_DEPTH} levels at {path}."
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "." in key or "\x00" in key:
                return f"Key {key!r} at {path} is not allowed: keys may not start with '$' or contain '.' or NUL."
            problem = _payload_problem(item, depth=depth + 1, path=f"{path}.{key}")
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _payload_problem(item, depth=depth + 1, path=f"{path}[{index}]")
            if problem:
                return problem
    return None


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
    errors = {}
    if after is not None and before is not None:
        errors["cursor"] = ["Give after or before, not both."]
    if status is not None and status not in set(Status):
        errors["status"] = [f"Unknown status {status!r}. Statuses: {', '.join(Status)}."]
    if not 1 <= limit <= MAX_LIST_LIMIT:
        errors["limit"] = [f"Must be from 1 to {MAX_LIST_LIMIT}."]
    if errors:
        raise JobValidationError(errors)
    return get_store().list(status=status, type=type, has_error=has_error, limit=limit, after=after, before=before)


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


def live_worker_pools(*, clock: Clock = utc_now) -> list[WorkerPool]:
    """Worker pools that heartbeated within the lease time."""
    since = clock() - timedelta(seconds=settings.JOBQUEUE_LEASE_SECONDS)
    return get_store().live_pools(heartbeat_since=since)


def store_description() -> str:
    """Which store holds the jobs (no credentials)."""
    return get_store().describe()
