"""Enqueue and read: inserting jobs (one, one with a unique key or an idempotency key, a
batch in one transaction), reading one job, and the paged job list.

An insert is one raw ``INSERT`` (``statements.INSERT``; a plain job on SQLite goes into
the inbox, ``inbox.py``) and returns the job built from what it wrote, without reading it back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction

from jobs.domain import ALL_JOBS, Job, JobFilter, NewJob, Status
from jobs.ids import new_job_id, new_job_ids
from jobs.stores.base import ListCursor, StoreUnavailable
from jobs.stores.sql.inbox import Inbox
from jobs.stores.sql.rows import build_job, decode_payload, encode_json, job_from_row
from jobs.stores.sql.statements import (
    COLUMNS,
    GET_BY_ID,
    GET_BY_ID_WITH_INBOX,
    INSERT,
    LIVE_WITH_KEY,
    SELECT_COLUMNS,
    TABLE,
)
from jobs.timeutil import truncate_ms

# How often an insert refused for its unique key looks for the holder before giving up.
UNIQUE_INSERT_TRIES = 5


class EnqueueAndRead(Inbox):
    """``insert``, ``insert_unique``, ``insert_many``, ``get`` and ``list_jobs``."""

    @staticmethod
    def _encoded_payload(new_job: NewJob) -> str:
        """The payload's JSON text: as validation encoded it (the same compact form), else encoded now."""
        encoded = new_job.encoded_payload
        return encode_json(new_job.payload) if encoded is None else encoded

    def _inbox_params(self, job_id: str, new_job: NewJob, now_value, encoded_payload: str) -> tuple:
        """``INSERT_INTO_INBOX``'s parameters (``statements.INBOX_COLUMNS``); ``now_value``:
        the time of the enqueue as the driver wants it (``_dt``)."""
        return (
            job_id,
            new_job.type,
            encoded_payload,
            new_job.max_retries,
            new_job.priority,
            now_value if new_job.run_at is None else self._dt(new_job.run_at),
            now_value,
            new_job.queue,
            new_job.schedule,
        )

    def _insert_params(
        self, job_id: str, new_job: NewJob, now: datetime, encoded_payload: str, now_value=None
    ) -> tuple:
        """``INSERT``'s parameters: the inbox's, then the updated time and the keys; ``now_value``
        is ``now`` already adapted, if the caller has it."""
        now_value = self._dt(now) if now_value is None else now_value
        keys = (new_job.idempotency_key, new_job.request_hash, new_job.unique_key)
        return (*self._inbox_params(job_id, new_job, now_value, encoded_payload), now_value, *keys)

    def _new_job(self, job_id: str, new_job: NewJob, now: datetime, stored_payload: dict) -> Job:
        """The job as inserted; ``stored_payload``: the payload decoded from the text stored (a
        copy, not the caller's dict, which they may change afterwards)."""
        return build_job(
            id=job_id,
            type=new_job.type,
            payload=stored_payload,
            status=Status.PENDING,
            retry_count=0,
            max_retries=new_job.max_retries,
            priority=new_job.priority,
            run_at=truncate_ms(new_job.run_at) if new_job.run_at is not None else now,
            created_at=now,
            updated_at=now,
            idempotency_key=new_job.idempotency_key,
            request_hash=new_job.request_hash,
            queue=new_job.queue,
            unique_key=new_job.unique_key,
            schedule=new_job.schedule,
        )

    def insert(self, new_job: NewJob, *, now: datetime) -> Job:
        if new_job.unique_key is not None:
            return self.insert_unique(new_job, now=now)[0]
        now = truncate_ms(now)
        job_id = new_job_id()
        encoded_payload = self._encoded_payload(new_job)
        if new_job.idempotency_key is None and self._uses_inbox:
            self._insert_into_inbox(self._inbox_params(job_id, new_job, self._dt(now), encoded_payload))
            return self._new_job(job_id, new_job, now, decode_payload(encoded_payload))
        params = self._insert_params(job_id, new_job, now, encoded_payload)
        if new_job.idempotency_key is None:
            self._execute(INSERT, params)
            return self._new_job(job_id, new_job, now, decode_payload(encoded_payload))
        try:
            # A savepoint, so that the refused insert leaves an outer transaction usable.
            with transaction.atomic(using=self.using):
                self._execute(INSERT, params)
        except IntegrityError:
            existing = self._by_idempotency_key(new_job.idempotency_key)
            if existing is None:
                raise
            return dataclasses.replace(existing, replayed=True)
        return self._new_job(job_id, new_job, now, decode_payload(encoded_payload))

    def _by_idempotency_key(self, key: str) -> Job | None:
        rows = self._execute(f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE idempotency_key = %s", (key,))
        return job_from_row(rows[0]) if rows else None

    def insert_unique(self, new_job: NewJob, *, now: datetime) -> tuple[Job, bool]:
        now = truncate_ms(now)
        for _ in range(UNIQUE_INSERT_TRIES):
            job_id = new_job_id()
            encoded_payload = self._encoded_payload(new_job)
            try:
                # A savepoint inside a caller's transaction, so PostgreSQL can go on after the refusal.
                with transaction.atomic(using=self.using):
                    self._execute(INSERT, self._insert_params(job_id, new_job, now, encoded_payload))
                return self._new_job(job_id, new_job, now, decode_payload(encoded_payload)), True
            except IntegrityError:
                rows = self._execute(LIVE_WITH_KEY, (new_job.type, new_job.unique_key))
                if rows:
                    return job_from_row(rows[0]), False
                # The holder of the key finished between the refusal and the read: try again.
        raise StoreUnavailable(f"unique key {new_job.unique_key!r} kept changing hands; try again")

    def insert_many(self, new_jobs: Sequence[NewJob], *, now: datetime) -> list[Job]:
        """One ``executemany`` of the insert in one transaction: one durable commit for the lot."""
        now = truncate_ms(now)
        ids = new_job_ids(len(new_jobs))
        payloads = [self._encoded_payload(new_job) for new_job in new_jobs]
        rows = list(zip(ids, new_jobs, payloads, strict=True))
        now_value = self._dt(now)  # adapted once: most jobs of a batch are due now
        params = [self._insert_params(job_id, new_job, now, payload, now_value) for job_id, new_job, payload in rows]
        if params:
            with transaction.atomic(using=self.using):
                with self._connection.cursor() as cursor:
                    cursor.executemany(INSERT, params)
        # One parse for every copy: a JSON array of the texts stored.
        stored_payloads = json.loads(f"[{','.join(payloads)}]")
        return [
            self._new_job(job_id, new_job, now, payload)
            for job_id, new_job, payload in zip(ids, new_jobs, stored_payloads, strict=True)
        ]

    def get(self, job_id: str) -> Job | None:
        if self._uses_inbox:
            rows = self._execute(GET_BY_ID_WITH_INBOX, (job_id, job_id))
        else:
            rows = self._execute(GET_BY_ID, (job_id,))
        return job_from_row(rows[0]) if rows else None

    def list_jobs(
        self,
        criteria: JobFilter = ALL_JOBS,
        *,
        limit: int = 50,
        after: ListCursor | None = None,
        before: ListCursor | None = None,
    ) -> list[Job]:
        self._settle_inbox()
        query = self._jobs().order_by("-created_at", "-id")
        matches = {name: value for name, value in vars(criteria).items() if value is not None}
        query = query.filter(**matches)  # the filter's fields are the model's column names
        if after is not None:
            created_at, job_id = after
            query = query.filter(created_at__lte=created_at).exclude(created_at=created_at, id__gte=job_id)
        if before is not None:
            # The jobs just before the cursor in list order: read upwards from it, then flip.
            created_at, job_id = before
            query = query.filter(created_at__gte=created_at).exclude(created_at=created_at, id__lte=job_id)
            query = query.reverse()
        jobs = [job_from_row(row) for row in query.values_list(*COLUMNS)[:limit]]
        return jobs[::-1] if before is not None else jobs
