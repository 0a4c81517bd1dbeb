"""What an operator does to stored jobs: cancel, retry, delete the finished ones.

Each action changes a job only from the states it names; any other state raises
``InvalidTransition`` naming the job's status, and nothing changes.
"""

import logging
from datetime import timedelta

from jobs import wakeups
from jobs.domain import Job, Status
from jobs.errors import InvalidTransition, JobValidationError
from jobs.services.reading import get_job
from jobs.stores import get_store
from jobs.timeutil import Clock, utc_now

logger = logging.getLogger(__name__)


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
