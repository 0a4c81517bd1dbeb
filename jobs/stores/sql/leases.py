"""Writes fenced on a held job's lease: renewing leases (with the handlers' progress, hearing
of cancel requests), recording results, and reading the expired leases the reaper
(``JobStore.reap``) takes back through ``record_results``.

A renewal is one raw statement; a batch of results one per shape of transition
(``statements.record_sql``), each row matched on its id, lease token and status.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.db import transaction

from jobs.domain import Job, Status
from jobs.results import JobResult
from jobs.stores.base import Renewal
from jobs.stores.sql.connection import SqlConnection
from jobs.stores.sql.rows import attempt_to_json, job_from_row
from jobs.stores.sql.statements import SELECT_COLUMNS, TABLE, record_batches, record_sql
from jobs.timeutil import truncate_ms


class HeldJobs(SqlConnection):
    """``renew``, ``record_results`` and the expired leases ``reap`` reads."""

    def renew(
        self,
        held: Sequence[Job],
        *,
        now: datetime,
        lease_seconds: float,
        progress: Mapping[str, dict] | None = None,
    ) -> Renewal:
        """See ``JobStore.renew``: one UPDATE … RETURNING, progress included (a CASE by id)."""
        if not held:
            return Renewal()
        expires_at = truncate_ms(now + timedelta(seconds=lease_seconds))
        assignments, params = ["lease_expires_at = %s"], [self._dt(expires_at)]
        reported = [(job_id, value) for job_id, value in (progress or {}).items()]
        if reported:
            cast = "CAST(%s AS jsonb)" if self._connection.vendor == "postgresql" else "%s"
            cases = " ".join([f"WHEN %s THEN {cast}"] * len(reported))
            assignments.append(f"progress = CASE id {cases} ELSE progress END")
            params += [item for job_id, value in reported for item in (job_id, self._json(value))]
        match = " OR ".join(["(id = %s AND lease_token = %s)"] * len(held))
        params += [value for job in held for value in (job.id, job.lease.token)]
        rows = self._execute(
            f"UPDATE {TABLE} SET {', '.join(assignments)} WHERE status = 'processing' AND ({match}) "
            "RETURNING id, cancel_requested",
            params,
        )
        return Renewal(kept={job_id for job_id, _ in rows}, cancel_requested={job_id for job_id, flag in rows if flag})

    def _record_row(self, result: JobResult, now: datetime) -> tuple[tuple, bool, list]:
        """``result`` as one row of a batched record: its shape (the columns its transition
        changes, whether it counts a retry) and the values, ending with id and lease token."""
        job, change = result.job, result.transition(now)
        history, attempt_count = job.recorded_attempts(result.attempt)
        fields = change.changed_fields()
        values = [self._column_value(name, value) for name, value in fields.items()]
        if change.retry_increment:
            values.append(change.retry_increment)
        values += [
            self._json([attempt_to_json(item) for item in history]),
            attempt_count,
            job.id,
            job.lease.token,
        ]
        return tuple(fields), bool(change.retry_increment), values

    def _column_value(self, name: str, value):
        if name == "result":
            return self._json(value)
        if isinstance(value, datetime):
            return self._dt(value)
        return value.value if isinstance(value, Status) else value

    def record_results(
        self, results: Sequence[JobResult], *, now: datetime, expired_before: datetime | None = None
    ) -> list[bool]:
        """See ``JobStore.record_results``: one fenced ``UPDATE … FROM (VALUES …) RETURNING id``
        per shape of transition (a batch of completions is one statement), all in one
        transaction, so a batch pays for one durable commit (none of its own inside
        ``one_transaction``, whose commit it shares). A result is applied exactly when its
        row (id, lease token, still processing) matched, which the returned ids tell.
        Inside PostgreSQL's pipelined ``one_transaction`` the flags are a sequence read
        on first use, when the next statement's round trip has brought them."""
        now = truncate_ms(now)
        if not results:
            return []
        rows = [(index, *self._record_row(result, now)) for index, result in enumerate(results)]
        applied = [False] * len(results)
        expired = [self._dt(truncate_ms(expired_before))] if expired_before is not None else []
        vendor = self._connection.vendor
        batches = record_batches(rows)
        # One statement needs no transaction of its own; several share one (without a
        # savepoint inside an outer transaction: a failure here fails all of it anyway).
        if len(batches) == 1:
            # The common case: one statement, whose answer may come later (pipelined).
            (columns, counts_retry), batch = batches[0]
            sql = record_sql(vendor, columns, counts_retry, expired_before is not None, len(batch))
            params = [self._dt(now), *(value for _, values in batch for value in values), *expired]
            job_ids = [values[-2] for _, values in batch]
            return self._execute_later(sql, params, lambda rows: _applied(job_ids, rows), prepared=True)
        together = (
            contextlib.nullcontext()
            if self._in_own_transaction()
            else transaction.atomic(using=self.using, savepoint=False)
        )
        with together:
            for (columns, counts_retry), batch in batches:
                sql = record_sql(vendor, columns, counts_retry, expired_before is not None, len(batch))
                params = [self._dt(now), *(value for _, values in batch for value in values), *expired]
                matched = {row[0] for row in self._execute(sql, params)}
                for index, values in batch:
                    applied[index] = values[-2] in matched
        return applied

    def _expired_leases(self, *, now: datetime) -> list[Job]:
        rows = self._execute(
            f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE status = 'processing' AND lease_expires_at < %s",
            (self._dt(now),),
        )
        return [job_from_row(row) for row in rows]


def _applied(job_ids: Sequence[str], rows: Sequence[tuple]) -> list[bool]:
    """For each of ``job_ids`` (one statement's batch), whether the statement's returned ids include it."""
    matched = {row[0] for row in rows}
    return [job_id in matched for job_id in job_ids]
