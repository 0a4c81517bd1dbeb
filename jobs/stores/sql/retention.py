"""Old finished jobs: deleting them (every one before a time, or bounded purges per
status for the retention service) and filling the table with finished jobs for the
benchmarks of a large table.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from jobs.domain import FINISHED_STATUSES
from jobs.stores.sql.connection import SqlConnection
from jobs.stores.sql.statements import TABLE
from jobs.timeutil import truncate_ms


class Retention(SqlConnection):
    """``delete_finished``, ``purge_finished`` and ``fill_finished``."""

    def delete_finished(self, *, finished_before: datetime) -> int:
        deleted, _ = (
            self._jobs().filter(status__in=[s.value for s in FINISHED_STATUSES], finished_at__lt=finished_before)
        ).delete()
        return deleted

    def purge_finished(self, *, status: str, finished_before: datetime, limit: int) -> int:
        # Bounded: one DELETE of at most ``limit`` rows found by job_finished_idx, so a
        # purge never holds the write lock for long and two pools purging at once only
        # race for the same rows (each row is deleted once; the other finds fewer).
        return self._rowcount(
            f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} WHERE status = %s AND finished_at < %s "
            "ORDER BY finished_at LIMIT %s)",
            (status, self._dt(truncate_ms(finished_before)), limit),
        )

    def fill_finished(self, count: int, *, finished_at: datetime, type: str) -> None:
        """See ``JobStore.fill_finished``: one INSERT … SELECT over a generated series,
        ids ``ff`` + 22 hex digits (new job ids never start so: they begin with a timestamp)."""
        at = self._dt(truncate_ms(finished_at))
        columns = (
            "id, type, payload, status, retry_count, max_retries, priority, run_at, attempts, attempt_count, "
            "has_error, created_at, updated_at, finished_at, queue, cancel_requested"
        )
        values = "%s, '{}', 'completed', 0, 0, 0, %s, '[]', 1, %s, %s, %s, %s, 'default', FALSE"
        if self._connection.vendor == "postgresql":
            sql = (
                f"INSERT INTO {TABLE} ({columns}) SELECT 'ff' || lpad(to_hex(i), 22, '0'), {values} "
                "FROM generate_series(1, %s) AS i"
            )
        else:
            sql = (
                f"INSERT INTO {TABLE} ({columns}) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                f"WHERE i < %s) SELECT printf('ff%%022x', i), {values} FROM n"
            )
        params = (type, at, False, at, at, at)
        with transaction.atomic(using=self.using):
            self._execute(sql, (*params, count) if self._connection.vendor == "postgresql" else (count, *params))
