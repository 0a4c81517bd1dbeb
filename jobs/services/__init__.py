"""Use cases shared by the API, the admin and the workers.

Views and admin actions call these, never a store's internals. Every function takes
keyword-only arguments after the first and raises a ``ServiceError`` subclass for a
request that cannot be done, with a message fit to show a user.

``jobs.services`` is the entry point (``from jobs import services``); each concern lives
in its own module: ``enqueuing`` (new jobs, one or many), ``reading`` (one job, list
pages and their cursors), ``actions`` (cancel, retry, delete) and ``stats`` (counts,
throughput, pools, store health). A test that replaces what a use case calls patches it
where that module looks it up (``jobs.services.stats.get_store``), not here.
"""

from jobs.errors import (
    IdempotencyConflict,
    InvalidJobId,
    InvalidTransition,
    JobNotFound,
    JobValidationError,
    PayloadTooLarge,
    ServiceError,
)
from jobs.services.actions import (
    cancel_job,
    cancel_job_request,
    delete_finished_jobs,
    retry_failed_jobs,
    retry_job,
    retry_job_now,
)
from jobs.services.enqueuing import MAX_BULK_JOBS, Submitted, enqueue, enqueue_many, enqueue_request, submit_job
from jobs.services.reading import (
    MAX_LIST_LIMIT,
    JobPage,
    decode_list_cursor,
    encode_list_cursor,
    get_job,
    list_jobs,
    list_jobs_page,
    list_jobs_query_page,
    parse_job_id,
)
from jobs.services.stats import (
    QueueStats,
    check_store_ready,
    live_worker_pools,
    queue_stats,
    recently_finished_jobs,
    store_description,
    throughput,
)

__all__ = [
    "MAX_BULK_JOBS",
    "MAX_LIST_LIMIT",
    "IdempotencyConflict",
    "InvalidJobId",
    "InvalidTransition",
    "JobNotFound",
    "JobPage",
    "JobValidationError",
    "PayloadTooLarge",
    "QueueStats",
    "ServiceError",
    "Submitted",
    "cancel_job",
    "cancel_job_request",
    "check_store_ready",
    "decode_list_cursor",
    "delete_finished_jobs",
    "encode_list_cursor",
    "enqueue",
    "enqueue_many",
    "enqueue_request",
    "get_job",
    "list_jobs",
    "list_jobs_page",
    "list_jobs_query_page",
    "live_worker_pools",
    "parse_job_id",
    "queue_stats",
    "recently_finished_jobs",
    "retry_failed_jobs",
    "retry_job",
    "retry_job_now",
    "store_description",
    "submit_job",
    "throughput",
]
