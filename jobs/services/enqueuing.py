"""Enqueuing: one job (``enqueue``, ``enqueue_request``, ``submit_job``) or many at once
(``enqueue_many``), through the one validation of a new job.

Nothing is stored unless the whole input is valid; the stores' unique indexes decide
``uniqueKey`` and ``Idempotency-Key`` races.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rest_framework.exceptions import ValidationError
from rest_framework.serializers import as_serializer_error

from jobs import groupcommit, idempotency, wakeups
from jobs.domain import Job, NewJob
from jobs.errors import IdempotencyConflict, JobValidationError, PayloadTooLarge, plain_errors
from jobs.frozen_build import FrozenBuilder
from jobs.stores import get_store
from jobs.timeutil import Clock, truncate_ms, utc_now
from jobs.validation import JobInputSerializer
from jobs.validation_fast import quick_validated_and_encoded

logger = logging.getLogger(__name__)

#: The most jobs one ``enqueue_many`` (``POST /jobs/bulk``) takes.
MAX_BULK_JOBS = 1000


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
