"""The one interface every job store implements.

Stores take and return domain objects (``jobs.domain``), never cursors or rows. Both
implementations pass the shared contract suite in ``tests/test_store_contract.py``.

Invariants (see docs/ARCHITECTURE.md, "State machine and invariants"):

* ``claim`` is atomic: two callers never hold the same job.
* Every write about a held job (``renew``, ``record_results``) matches on the job id
  *and* its lease token, and returns ``False``
  (changing nothing) when the lease was lost.
* ``reap`` returns processing jobs whose lease expired to ``pending`` (or ``failed``
  when their retries are spent); running it twice at once is harmless. Leases are
  stamped with the claiming worker's clock, so the reaper only takes a lease that
  expired more than the allowed clock skew before its own ``now``.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from jobs.domain import ALL_JOBS, Attempt, Job, JobFilter, NewJob, Outcome, PoolInfo, Schedule, Throughput
from jobs.results import Cancelled, JobResult, after_failure
from jobs.retry import LeaseExpired, RetryStrategy
from jobs.stores.errors import StoreRejectedValue, StoreUnavailable, translate_errors
from jobs.stores.values import ListCursor, Renewal
from jobs.timeutil import truncate_ms

# What a store raises and the values it trades live in their own modules; they are
# importable from here too, as every store module imports them.
__all__ = ["JobStore", "ListCursor", "Renewal", "StoreRejectedValue", "StoreUnavailable", "translate_errors"]

logger = logging.getLogger(__name__)


class JobStore(abc.ABC):
    """Persistence of jobs and of the worker-pool registry."""

    #: Short name of the backend, for logs and the dashboard: "mongodb" or "sql".
    kind: str = ""

    @classmethod
    def from_options(cls, **options) -> JobStore:
        """The store the ``OPTIONS`` of the ``JOBQUEUE_STORE`` setting describe.

        The default passes them to the constructor; a store whose constructor takes live
        objects (a client, a connection) overrides this to build them from plain values.
        """
        return cls(**options)

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the jobs live, safe to log and show: no password, ever."""

    @abc.abstractmethod
    def ensure_ready(self) -> None:
        """Check the database is reachable and create indexes (idempotent).

        Raises ``StoreUnavailable`` with a clear message within a few seconds when the
        database cannot be reached.
        """

    def close(self) -> None:  # noqa: B027 (optional hook, deliberately empty)
        """Release connections held by this store (default: nothing to release)."""

    def one_transaction(self) -> AbstractContextManager | None:
        """A context whose store calls (from this thread) share one transaction: all of
        their writes are committed together, with one durable commit, or none is. ``None``
        (the default) when the store has no such transactions; then callers make the
        calls one by one. The dispatcher uses it to record a turn's results and claim the
        next jobs in one commit."""
        return None

    # -- enqueue and read -----------------------------------------------------------
    @abc.abstractmethod
    def insert(self, new_job: NewJob, *, now: datetime) -> Job:
        """Store a new pending job (one write) and return it as stored.

        A ``new_job`` with an ``idempotency_key`` already held by a stored job stores
        nothing and returns that job: a unique index decides, so of two concurrent inserts
        with one key exactly one is stored.
        """

    @abc.abstractmethod
    def insert_unique(self, new_job: NewJob, *, now: datetime) -> tuple[Job, bool]:
        """Store a new pending job that has a ``unique_key``, unless a pending or
        processing job of its type holds that key: then that job. ``(job, created)``.

        The database's unique partial index decides, so concurrent callers get one job.
        ``insert`` of a job with a ``unique_key`` does the same and returns the job.
        """

    @abc.abstractmethod
    def insert_many(self, new_jobs: Sequence[NewJob], *, now: datetime) -> list[Job]:
        """Store many new pending jobs at once (all or none) and return them, in order."""

    @abc.abstractmethod
    def get(self, job_id: str) -> Job | None:
        """The job with this 24-hex id, or ``None``."""

    @abc.abstractmethod
    def list_jobs(
        self,
        criteria: JobFilter = ALL_JOBS,
        *,
        limit: int = 50,
        after: ListCursor | None = None,
        before: ListCursor | None = None,
    ) -> list[Job]:
        """Jobs matching ``criteria``, newest ``createdAt`` first (ties: newest id first), at most ``limit``.

        ``after`` is the (createdAt, id) of the last job of the previous page: the page
        holds the ``limit`` jobs listed next. ``before`` is that of the first job of the
        following page: the page holds the ``limit`` jobs listed just before it (still
        newest first). Give one of them at most.
        """

    # -- the worker's side ----------------------------------------------------------
    @abc.abstractmethod
    def claim(
        self,
        *,
        owner: str,
        limit: int,
        now: datetime,
        lease_seconds: float,
        queue: str | None = None,
        exclude_queues: Collection[str] = (),
    ) -> list[Job]:
        """Atomically take up to ``limit`` due pending jobs for ``owner``, in one indexed query.

        From ``queue`` only when given, else from every queue not in ``exclude_queues``
        (the paused ones). Order: highest priority, then oldest ``runAt``, then oldest id.
        Each returned job is ``processing`` with a fresh lease expiring ``lease_seconds``
        after ``now``.
        """

    @abc.abstractmethod
    def renew(
        self,
        held: Sequence[Job],
        *,
        now: datetime,
        lease_seconds: float,
        progress: Mapping[str, dict] | None = None,
    ) -> Renewal:
        """Extend the leases of jobs still held (matched on id and token), writing each
        one's ``progress`` given (by job id) in the same statement; which were kept, and
        which of those have ``cancelRequested``."""

    @abc.abstractmethod
    def record_results(
        self, results: Sequence[JobResult], *, now: datetime, expired_before: datetime | None = None
    ) -> list[bool]:
        """Record held jobs' results (``jobs.results``) at once; for each, whether it was applied.

        Each write is fenced on the job's id and lease token: a result whose lease was lost
        changes nothing and reads ``False``. With ``expired_before`` (the reaper) a write
        also needs the lease to have expired before that time, so a worker that renewed
        since the reaper's read keeps its job. One durable commit (or one batch command)
        for the lot.
        """

    def reap(self, *, now: datetime, retry_strategy: RetryStrategy, max_clock_skew: float = 0.0) -> int:
        """Return expired-lease jobs to ``pending`` or ``failed``, as ``retry_strategy``
        decides for a lost worker, recording a lost attempt; a job whose cancel was
        requested ends ``cancelled`` instead. How many it took.

        A lease counts as expired only when it expired more than ``max_clock_skew``
        seconds before ``now``: its expiry was computed on the holder's clock, which may
        run up to that much behind the reaper's, and a live holder must keep its job.
        """
        now = truncate_ms(now)
        expired_before = truncate_ms(now - timedelta(seconds=max_clock_skew))
        results = []
        for job in self._expired_leases(now=expired_before):
            lost = Attempt(
                started_at=job.lease.started_at,
                finished_at=now,
                worker=job.lease.owner,
                outcome=Outcome.LEASE_EXPIRED.value,
                error=Outcome.LEASE_EXPIRED.value,
            )
            if job.cancel_requested:  # its worker is gone, and it was to stop anyway
                results.append(Cancelled(job, lost))
                continue
            decision = retry_strategy.decide(job, LeaseExpired(Outcome.LEASE_EXPIRED.value), now)
            results.append(after_failure(job, lost, decision))
        if not results:
            return 0
        applied = self.record_results(results, now=now, expired_before=expired_before)
        for result, ok in zip(results, applied, strict=True):
            if ok:
                job = result.job
                logger.warning(
                    "job %s (%s) lost its worker %s: lease expired at %s; now %s",
                    job.id,
                    job.type,
                    job.lease.owner,
                    job.lease.expires_at.isoformat(),
                    result.transition(now).status,
                )
        return sum(applied)

    @abc.abstractmethod
    def _expired_leases(self, *, now: datetime) -> list[Job]:
        """Processing jobs whose lease expired before ``now`` (one read)."""

    # -- operator actions -----------------------------------------------------------
    @abc.abstractmethod
    def cancel(self, job_id: str, *, now: datetime) -> Job | None:
        """``pending`` → ``cancelled``; the updated job, or ``None`` if it was not pending."""

    @abc.abstractmethod
    def request_cancel(self, job_id: str, *, now: datetime) -> Job | None:
        """A ``processing`` job gets ``cancelRequested`` (its worker tells the handler at
        its next renewal); the updated job, or ``None`` if it was not processing."""

    @abc.abstractmethod
    def retry_cancelled(self, job_id: str, *, now: datetime) -> Job | None:
        """``cancelled`` → ``pending`` due now (counts and history kept); the updated job,
        or ``None`` if it was not cancelled."""

    @abc.abstractmethod
    def retry_now(self, job_id: str, *, now: datetime) -> Job | None:
        """``failed`` → ``pending`` due now with one more attempt allowed (retryCount and
        maxRetries + 1, history kept); a ``pending`` job is made due now. The updated
        job, or ``None`` if it was in neither state."""

    @abc.abstractmethod
    def retry_failed(self, *, type: str, now: datetime) -> int:
        """``retry_now`` every failed job of ``type``; how many."""

    @abc.abstractmethod
    def delete_finished(self, *, finished_before: datetime) -> int:
        """Delete completed, failed and cancelled jobs finished before the time; how many."""

    @abc.abstractmethod
    def purge_finished(self, *, status: str, finished_before: datetime, limit: int) -> int:
        """Delete at most ``limit`` jobs of the finished ``status`` finished before the time,
        oldest first, through the (status, finishedAt) index; how many. Bounded and
        idempotent, so retention may run it from several pools at once."""

    def fill_finished(self, count: int, *, finished_at: datetime, type: str) -> None:
        """Benchmarks only: insert ``count`` completed jobs of ``type`` finished at the time,
        as fast as the database can (no per-job round trip)."""
        raise NotImplementedError(f"{self.kind} store cannot pre-fill finished jobs")

    # -- named queues -----------------------------------------------------------------
    @abc.abstractmethod
    def pause_queue(self, name: str, *, now: datetime) -> None:
        """Stop claims from queue ``name`` (idempotent; the queue need not have jobs yet)."""

    @abc.abstractmethod
    def resume_queue(self, name: str) -> None:
        """Let claims take queue ``name``'s jobs again (idempotent)."""

    @abc.abstractmethod
    def paused_queues(self) -> set[str]:
        """Names of the paused queues (one small read)."""

    @abc.abstractmethod
    def count_by_queue_and_status(self) -> dict[tuple[str, str], int]:
        """Number of jobs per (queue, status)."""

    @abc.abstractmethod
    def oldest_due_by_queue(self, *, now: datetime) -> dict[str, datetime]:
        """Per queue with due pending jobs, the ``runAt`` of its oldest one."""

    # -- statistics -----------------------------------------------------------------
    @abc.abstractmethod
    def recently_finished(self, *, limit: int) -> list[Job]:
        """Up to ``limit`` completed or failed jobs, latest ``finishedAt`` first (indexed)."""

    @abc.abstractmethod
    def count_by_type_and_status(self) -> dict[tuple[str, str], int]:
        """Number of jobs per (type, status), from indexes or an aggregation."""

    @abc.abstractmethod
    def oldest_due_pending(self, *, now: datetime) -> datetime | None:
        """``runAt`` of the oldest pending job that is due, or ``None``."""

    @abc.abstractmethod
    def count_delayed(self, *, now: datetime) -> int:
        """Pending jobs not due yet."""

    @abc.abstractmethod
    def throughput(self, *, since: datetime, bucket_seconds: int) -> list[Throughput]:
        """Finished attempts per bucket of their own ``finishedAt``, since ``since``.

        An attempt that completed counts as completed; one that failed, timed out or lost
        its lease counts as failed, even when its job was retried later; a released
        attempt (shutdown) or a cancelled one is not counted. Only buckets with at least one attempt are
        returned, oldest first; bucket starts are multiples of ``bucket_seconds`` since
        the epoch. Attempts dropped from a job's bounded history are not counted. A store
        may count a completed or failed job's last attempt at the job's ``finishedAt``,
        which the write recording that attempt sets.
        """

    # -- worker-pool registry -------------------------------------------------------
    @abc.abstractmethod
    def register_pool(self, pool: PoolInfo) -> None:
        """Record a running pool (insert or replace by id)."""

    @abc.abstractmethod
    def heartbeat_pool(self, pool_id: str, *, running: int, now: datetime) -> None:
        """Refresh a pool's heartbeat and its count of running jobs."""

    @abc.abstractmethod
    def unregister_pool(self, pool_id: str) -> None:
        """Forget a pool that stopped cleanly."""

    @abc.abstractmethod
    def live_pools(self, *, heartbeat_since: datetime) -> list[PoolInfo]:
        """Pools that heartbeated at or after the time, oldest first."""

    # -- periodic schedules ---------------------------------------------------------
    @abc.abstractmethod
    def insert_schedule(self, schedule: Schedule) -> bool:
        """Store a new schedule; ``False`` (nothing written) if its name is taken."""

    @abc.abstractmethod
    def replace_schedule(self, schedule: Schedule) -> bool:
        """Overwrite the schedule of that name, run times included; ``False`` if none."""

    @abc.abstractmethod
    def get_schedule(self, name: str) -> Schedule | None:
        """The schedule of that name, or ``None``."""

    @abc.abstractmethod
    def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""

    @abc.abstractmethod
    def delete_schedule(self, name: str) -> bool:
        """Forget a schedule; ``False`` if there was none."""

    @abc.abstractmethod
    def advance_schedule(
        self, name: str, *, expected_next_run: datetime, next_run: datetime, last_run: datetime
    ) -> bool:
        """Move a schedule's run times on, only if its ``next_run_at`` still equals
        ``expected_next_run``: of several pools ticking one schedule at once, exactly one
        gets ``True`` (and enqueues that tick's job)."""
