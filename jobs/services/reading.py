"""Reading jobs: one by id, or a list page by page with opaque (createdAt, id) cursors."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobs.domain import ALL_JOBS, Job, JobFilter, Status
from jobs.errors import InvalidJobId, JobNotFound, JobValidationError
from jobs.handlers import get_handler, known_types
from jobs.stores import ListCursor, get_store

MAX_LIST_LIMIT = 500
_JOB_ID = re.compile(r"^[0-9a-f]{24}$")


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
