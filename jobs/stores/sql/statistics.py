"""What ``/stats``, the dashboard, the metrics and ``jobs stats`` read: recently finished jobs,
counts by type and status, the oldest due job, delayed jobs, and throughput per time
bucket (counted in SQL, never by loading jobs).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Count

from jobs.domain import Job, Outcome, Status, Throughput
from jobs.stores.sql.inbox import Inbox
from jobs.stores.sql.rows import job_from_row, parse_datetime
from jobs.stores.sql.statements import SELECT_COLUMNS, TABLE
from jobs.timeutil import truncate_ms


def _counted_as(outcome: str) -> str | None:
    """The throughput column an attempt's outcome counts in; a release or a cancel is no result."""
    if outcome == Outcome.COMPLETED:
        return "completed"
    return None if outcome in (Outcome.RELEASED, Outcome.CANCELLED) else "failed"


class Statistics(Inbox):
    """``recently_finished``, ``count_by_type_and_status``, ``oldest_due_pending``,
    ``count_delayed`` and ``throughput``."""

    def recently_finished(self, *, limit: int) -> list[Job]:
        jobs: list[Job] = []
        for status in (Status.COMPLETED, Status.FAILED):
            rows = self._execute(
                # "finished_at IS NOT NULL" (always true of a finished job) lets the
                # partial job_finished_idx serve the ORDER BY.
                f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE status = %s AND finished_at IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT %s",
                (status.value, limit),
            )
            jobs += [job_from_row(row) for row in rows]
        jobs.sort(key=lambda job: job.finished_at, reverse=True)
        return jobs[:limit]

    def count_by_type_and_status(self) -> dict[tuple[str, str], int]:
        self._settle_inbox()
        rows = self._jobs().values_list("type", "status").annotate(n=Count("*")).order_by()
        return {(job_type, status): n for job_type, status, n in rows}

    # The two below name status = 'pending' as a literal, not a bound parameter as the ORM
    # would: SQLite uses the partial job_due_idx only for a query it can see is about pending jobs.
    def oldest_due_pending(self, *, now: datetime) -> datetime | None:
        self._settle_inbox()
        rows = self._execute(
            f"SELECT MIN(run_at) FROM {TABLE} WHERE status = 'pending' AND run_at <= %s", (self._dt(truncate_ms(now)),)
        )
        return parse_datetime(rows[0][0]) if rows and rows[0][0] is not None else None

    def count_delayed(self, *, now: datetime) -> int:
        self._settle_inbox()
        rows = self._execute(
            f"SELECT COUNT(*) FROM {TABLE} WHERE status = 'pending' AND run_at > %s", (self._dt(truncate_ms(now)),)
        )
        return sum(count for (count,) in rows)

    def throughput(self, *, since: datetime, bucket_seconds: int) -> list[Throughput]:
        """See ``JobStore.throughput``, in two grouped queries.

        Parsing every finished job's attempts is what makes counting attempts slow, and a
        finished job's last attempt is recorded by the same write that sets its
        ``finished_at`` and status: those are counted from the indexed columns. Only the
        earlier attempts of jobs that ran more than once, and the attempts of jobs that
        are not finished, are unnested from the JSON history.
        """
        rows = self._final_attempt_rows(since, bucket_seconds) + self._earlier_attempt_rows(since, bucket_seconds)
        counts: dict[int, dict[str, int]] = {}
        for bucket, outcome, count in rows:
            counted_as = _counted_as(outcome)
            if counted_as:
                per_bucket = counts.setdefault(int(bucket), {"completed": 0, "failed": 0})
                per_bucket[counted_as] += count
        return [
            Throughput(
                start=datetime.fromtimestamp(bucket * bucket_seconds, tz=UTC),
                completed=per_bucket["completed"],
                failed=per_bucket["failed"],
            )
            for bucket, per_bucket in sorted(counts.items())
        ]

    def _epoch(self, column: str) -> str:
        """SQL for the whole epoch seconds (rounded down) of a datetime column (or text
        holding an ISO datetime)."""
        if self._connection.vendor == "sqlite":
            return f"CAST(strftime('%%s', {column}) AS INTEGER)"
        # EXTRACT gives fractional seconds, which a cast to BIGINT rounds: 12:00:59.7 would
        # fall in the next minute's bucket.
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM CAST({column} AS timestamptz))) AS BIGINT)"

    def _final_attempt_rows(self, since: datetime, bucket_seconds: int) -> list[tuple]:
        """(bucket number, outcome, count) of completed and failed jobs' last attempts, by ``finished_at``."""
        return self._execute(
            f"SELECT {self._epoch('finished_at')} / %s AS bucket, status, COUNT(*) FROM {TABLE} "
            "WHERE status IN ('completed', 'failed') AND finished_at >= %s GROUP BY 1, 2",
            (bucket_seconds, self._dt(since)),
        )

    def _earlier_attempt_rows(self, since: datetime, bucket_seconds: int) -> list[tuple]:
        """(bucket number, outcome, count) of every other attempt finished since ``since``.

        Candidates come from indexes: an attempt ends before its job's ``finished_at``
        (finished jobs) and before its ``run_at`` (a pending job is due at or after its
        last attempt ended). ``earlier`` is how many of a job's attempts to count, from
        the first: all but the last for a completed or failed job, all for the others.
        """
        vendor = self._connection.vendor
        if vendor == "sqlite":
            length, unnest, index = "json_array_length", "json_each(j.attempts) AS a", "a.key"
            finished, outcome = "json_extract(a.value, '$.finishedAt')", "json_extract(a.value, '$.outcome')"
        else:  # PostgreSQL (ensure_ready refuses any other database)
            length, index = "jsonb_array_length", "a.position - 1"
            unnest = "jsonb_array_elements(j.attempts) WITH ORDINALITY AS a(value, position)"
            finished, outcome = "a.value ->> 'finishedAt'", "a.value ->> 'outcome'"
        since_text = self._dt(since)
        return self._execute(
            f"SELECT {self._epoch(finished)} / %s AS bucket, {outcome} AS outcome, COUNT(*) FROM ("
            f"SELECT attempts, {length}(attempts) - 1 AS earlier FROM {TABLE} "
            "WHERE status IN ('completed', 'failed') AND finished_at >= %s AND attempt_count > 1 "
            f"UNION ALL SELECT attempts, {length}(attempts) FROM {TABLE} "
            "WHERE status = 'cancelled' AND finished_at >= %s AND attempt_count > 0 "
            f"UNION ALL SELECT attempts, {length}(attempts) FROM {TABLE} "
            "WHERE status = 'pending' AND run_at >= %s AND attempt_count > 0 "
            f"UNION ALL SELECT attempts, {length}(attempts) FROM {TABLE} "
            "WHERE status = 'processing' AND attempt_count > 0"
            f") AS j, {unnest} WHERE {index} < j.earlier AND {self._epoch(finished)} >= %s GROUP BY 1, 2",
            (bucket_seconds, since_text, since_text, since_text, int(since.timestamp())),
        )
