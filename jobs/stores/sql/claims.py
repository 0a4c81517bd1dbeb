"""Claiming due jobs: one ``UPDATE … RETURNING`` takes up to ``limit`` of them, by priority,
then ``run_at``, then id, and gives each the lease (owner, a fresh token, expiry).

On PostgreSQL the claim picks its rows with ``FOR UPDATE SKIP LOCKED``; on SQLite the
statement runs under the write lock (``statements.claim_sql``), so no job is handed out
twice either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from jobs.domain import Job, Lease
from jobs.stores.sql.inbox import Inbox
from jobs.stores.sql.rows import job_from_row
from jobs.stores.sql.statements import claim_sql
from jobs.timeutil import truncate_ms


class Claims(Inbox):
    """``claim``: what a worker pool's dispatcher calls each turn for as many jobs as it has free threads."""

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
        if limit < 1:
            return []
        now = truncate_ms(now)
        token = uuid.uuid4().hex
        expires_at = truncate_ms(now + timedelta(seconds=lease_seconds))
        lease = (owner, token, self._dt(expires_at), self._dt(now), self._dt(now))
        excluded = () if queue is not None else tuple(sorted(exclude_queues))
        pick = (self._dt(now), *((queue,) if queue is not None else excluded))
        if self._connection.vendor == "postgresql":
            # The limit is part of the prepared text there (``prepared.py``).
            sql = claim_sql("postgresql", queue is not None, len(excluded), limit=limit)
            rows = self._execute(sql, (*pick, *lease), prepared=True)
        else:
            with self._settled():
                rows = self._execute(claim_sql("sqlite", queue is not None, len(excluded)), (*lease, *pick, limit))
        # Every job taken holds this one lease: no need to parse it from each row.
        held = Lease(owner=owner, token=token, expires_at=expires_at, started_at=now)
        jobs = [job_from_row(row, held) for row in rows]
        jobs.sort(key=lambda job: (-job.priority, job.run_at, job.id))
        return jobs
