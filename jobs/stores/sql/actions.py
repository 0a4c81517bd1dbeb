"""The operator's actions on one job or one type: cancel, ask a running job to stop, and
retry (a cancelled job, a failed job, every failed job of a type).

Each changes a row only while it still has the status the action starts from (a
conditional ORM ``UPDATE``), so an action that lost a race with a worker changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from jobs.domain import Job, Status
from jobs.stores.sql.inbox import Inbox
from jobs.timeutil import truncate_ms


class OperatorActions(Inbox):
    """``cancel``, ``request_cancel``, ``retry_cancelled``, ``retry_now`` and ``retry_failed``."""

    def cancel(self, job_id: str, *, now: datetime) -> Job | None:
        self._settle_inbox()
        now = truncate_ms(now)
        changed = (
            self._jobs()
            .filter(id=job_id, status=Status.PENDING)
            .update(status=Status.CANCELLED, finished_at=now, updated_at=now)
        )
        return self.get(job_id) if changed else None

    def request_cancel(self, job_id: str, *, now: datetime) -> Job | None:
        changed = (
            self._jobs()
            .filter(id=job_id, status=Status.PROCESSING)
            .update(cancel_requested=True, updated_at=truncate_ms(now))
        )
        return self.get(job_id) if changed else None

    def retry_cancelled(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        changed = (
            self._jobs()
            .filter(id=job_id, status=Status.CANCELLED)
            .update(status=Status.PENDING, run_at=now, finished_at=None, cancel_requested=False, updated_at=now)
        )
        return self.get(job_id) if changed else None

    def retry_now(self, job_id: str, *, now: datetime) -> Job | None:
        self._settle_inbox()  # a delayed pending job is made due now
        now = truncate_ms(now)
        try:
            with transaction.atomic(using=self.using):
                retried = self._retry_now_query(now, id=job_id)
        except IntegrityError:  # a live job of its type holds its unique key: it stays failed
            return None
        if retried:
            return self.get(job_id)
        # A delayed pending job becomes due now; one already due keeps its place in line.
        self._jobs().filter(id=job_id, status=Status.PENDING, run_at__gt=now).update(run_at=now, updated_at=now)
        job = self.get(job_id)
        return job if job is not None and job.status == Status.PENDING else None

    def _retry_now_query(self, now: datetime, **match) -> int:
        """Failed jobs matching ``match`` → pending, due now, one more attempt allowed."""
        return (
            self._jobs()
            .filter(status=Status.FAILED, **match)
            .update(
                status=Status.PENDING,
                run_at=now,
                retry_count=F("retry_count") + 1,
                max_retries=F("max_retries") + 1,
                finished_at=None,
                updated_at=now,
            )
        )

    def retry_failed(self, *, type: str, now: datetime) -> int:
        return self._retry_now_query(truncate_ms(now), type=type)
