"""The domain objects: statuses as Django choices the SQL table enforces, and attempts
recorded on a copy of the job."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from jobs.domain import ATTEMPT_HISTORY_LIMIT, Attempt, Job, Status
from jobs.models import JobRecord

T0 = datetime(2026, 2, 2, 5, 30, tzinfo=UTC)


def make_job(**changes) -> Job:
    fields = dict(
        id="64f2c2a9c9d2f1a1b2c3d4e5",
        type="noop",
        payload={},
        status=Status.PROCESSING,
        retry_count=0,
        max_retries=3,
        priority=0,
        run_at=T0,
        created_at=T0,
        updated_at=T0,
    )
    return Job(**{**fields, **changes})


def attempt(n: int) -> Attempt:
    start = T0 + timedelta(seconds=n)
    return Attempt(started_at=start, finished_at=start, worker="w", outcome="failed", error=f"error {n}")


def test_with_attempt_returns_the_job_with_the_attempt_recorded_and_leaves_the_original():
    job = make_job()
    recorded = job.with_attempt(attempt(1))
    assert isinstance(recorded, Job)
    assert recorded.attempts == (attempt(1),) and recorded.attempt_count == 1
    assert recorded.status == job.status and recorded.id == job.id
    assert job.attempts == () and job.attempt_count == 0


def test_with_attempt_keeps_only_the_latest_attempts_but_counts_them_all():
    job = make_job()
    for n in range(ATTEMPT_HISTORY_LIMIT + 5):
        job = job.with_attempt(attempt(n))
    assert job.attempt_count == ATTEMPT_HISTORY_LIMIT + 5
    assert len(job.attempts) == ATTEMPT_HISTORY_LIMIT and job.attempts[-1] == attempt(ATTEMPT_HISTORY_LIMIT + 4)


def test_statuses_are_django_choices():
    assert Status.values == ["pending", "processing", "completed", "failed", "cancelled"]
    assert dict(JobRecord._meta.get_field("status").choices)["failed"] == "Failed"


def _row(**changes) -> JobRecord:
    fields = dict(id="64f2c2a9c9d2f1a1b2c3d4e5", type="noop", status="pending", max_retries=3)
    fields.update(run_at=T0, created_at=T0, updated_at=T0)
    return JobRecord(**{**fields, **changes})


@pytest.mark.django_db
def test_the_sql_table_refuses_an_unknown_status():
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(status="done").save()
    assert not JobRecord.objects.exists()
    _row().save()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE jobs_job SET status = 'finished'")
    assert list(JobRecord.objects.values_list("status", flat=True)) == ["pending"]
