"""What a pool holds: jobs claimed and running, and results waiting to be written.

Shared by the dispatcher, the workers and the lease keeper, under one lock. A job is
held from its claim until its result is written (or given up); while held, its lease is
renewed, and ``lease_until`` says until when the pool knows it is held.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime

from jobs.domain import Attempt, Job, Outcome
from jobs.results import JobResult, Released


@dataclass
class Execution:
    """A held job whose handler has not handed back a result yet."""

    job: Job
    started_at: datetime | None = None
    thread: threading.Thread | None = None
    #: What the handler sees as ``context.cancelled``; set when a renewal reads a cancel request.
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: The latest progress report not yet written (by the next renewal).
    unwritten_progress: dict | None = None


class Holdings:
    """The jobs a pool holds; every method is safe from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._executing: dict[str, Execution] = {}
        self._results: list[JobResult] = []
        self._lease_until: dict[str, datetime] = {}
        self._released: set[str] = set()

    @property
    def running(self) -> int:
        """Jobs handed to workers whose results are not back yet."""
        return len(self._executing)

    @property
    def running_handlers(self) -> int:
        """Jobs whose handler a worker has started (not those claimed ahead, still waiting)."""
        with self._lock:
            return sum(1 for execution in self._executing.values() if execution.started_at is not None)

    def running_by_queue(self) -> dict[str, int]:
        """Jobs handed to workers whose results are not back yet, per queue."""
        with self._lock:
            counts: dict[str, int] = {}
            for execution in self._executing.values():
                counts[execution.job.queue] = counts.get(execution.job.queue, 0) + 1
            return counts

    @property
    def awaiting_write(self) -> int:
        return len(self._results)

    def claimed(self, jobs: list[Job]) -> None:
        with self._lock:
            for job in jobs:
                self._executing[job.id] = Execution(job)
                self._lease_until[job.id] = job.lease.expires_at

    def started(self, job_id: str, started_at: datetime) -> bool:
        """A worker takes ``job_id`` from the pool's queue; ``False`` when the job was
        released meanwhile (a job claimed ahead, still waiting at shutdown): it must not run."""
        with self._lock:
            if job_id in self._released:
                self._released.discard(job_id)
                self._lease_until.pop(job_id, None)
                return False
            execution = self._executing.get(job_id)
            if execution is not None:
                execution.started_at = started_at
                execution.thread = threading.current_thread()
            return True

    def hand_back(self, job: Job, result: JobResult | None) -> bool:
        """A worker is done with ``job``; queue ``result`` unless the job was released
        meanwhile (then ``False``: the result must be ignored)."""
        with self._lock:
            self._executing.pop(job.id, None)
            if job.id in self._released:
                self._released.discard(job.id)
                self._lease_until.pop(job.id, None)
                return False
            if result is None:
                self._lease_until.pop(job.id, None)
            else:
                self._results.append(result)
            return True

    def release_running(self, *, worker_id: str, now: datetime, unstarted_only: bool = False) -> list[Execution]:
        """Shutdown: queue a ``Released`` result for every held job not handed back yet
        (``unstarted_only``: only those no worker has started, claimed ahead); their late
        results will be ignored, and those not started will not run. The executions released."""
        with self._lock:
            executions = [
                execution
                for execution in self._executing.values()
                if not unstarted_only or execution.started_at is None
            ]
            for execution in executions:
                del self._executing[execution.job.id]
            self._released.update(execution.job.id for execution in executions)
            self._results.extend(
                Released(
                    execution.job,
                    Attempt(
                        started_at=execution.started_at or execution.job.lease.started_at,
                        finished_at=now,
                        worker=worker_id,
                        outcome=Outcome.RELEASED,
                        error=(
                            "still running when the worker shut down; released to run again"
                            if execution.started_at is not None
                            else "claimed ahead, not started before the worker shut down; released to run again"
                        ),
                    ),
                )
                for execution in executions
            )
        return executions

    def cancel_event(self, job_id: str) -> threading.Event:
        """The event a claimed job's handler sees as ``context.cancelled``."""
        with self._lock:
            execution = self._executing.get(job_id)
            return execution.cancelled if execution is not None else threading.Event()

    def report_progress(self, job_id: str, progress: dict) -> None:
        """Keep the handler's latest report until the next renewal writes it."""
        with self._lock:
            execution = self._executing.get(job_id)
            if execution is not None:
                execution.unwritten_progress = progress

    def take_progress(self) -> dict[str, dict]:
        """Progress reports not yet written, by job id (each is taken once)."""
        with self._lock:
            taken = {}
            for job_id, execution in self._executing.items():
                if execution.unwritten_progress is not None:
                    taken[job_id], execution.unwritten_progress = execution.unwritten_progress, None
            return taken

    def cancel_requested(self, job_ids: set[str]) -> None:
        """Tell these running jobs' handlers that they were cancelled."""
        with self._lock:
            for job_id in job_ids:
                execution = self._executing.get(job_id)
                if execution is not None:
                    execution.cancelled.set()

    def take_results(self) -> list[JobResult]:
        with self._lock:
            batch, self._results = self._results, []
        return batch

    def put_back(self, results: list[JobResult]) -> None:
        """Results whose write failed: keep them first in line, and their leases renewed."""
        with self._lock:
            self._results[:0] = results

    def written(self, results: list[JobResult]) -> None:
        """These results are settled (written, refused or given up): the jobs are no longer held."""
        with self._lock:
            for result in results:
                self._lease_until.pop(result.job.id, None)

    def held_jobs(self) -> list[Job]:
        """Every job whose lease must be kept: running, or with a result to write."""
        with self._lock:
            return [execution.job for execution in self._executing.values()] + [r.job for r in self._results]

    def is_held(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._executing or any(result.job.id == job_id for result in self._results)

    def renewed(self, job_ids: set[str], expires_at: datetime) -> None:
        with self._lock:
            for job_id in job_ids:
                if job_id in self._lease_until:
                    self._lease_until[job_id] = expires_at

    def lease_until(self, job_id: str) -> datetime | None:
        with self._lock:
            return self._lease_until.get(job_id)
