"""The operator dashboard at ``/admin/jobs/``: counts, latency, charts, pools, the store."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings

from jobs import queues, retention, services
from jobs.admin.base import JobAdminPage
from jobs.domain import Status
from jobs.timeutil import utc_now

#: Days offered by default when deleting finished jobs.
DEFAULT_PURGE_DAYS = 30

STATUS_ORDER = [status.value for status in Status]


class DashboardView(JobAdminPage):
    """Counts per status and per type and status (each a link to the filtered list), queue
    latency, named queues (pause and resume), finished attempts per minute and per hour,
    live worker pools, the retention in force, recent actions."""

    template_name = "admin/jobs/dashboard.html"
    title = "Job queue"

    def get_context_data(self, **kwargs):
        now = utc_now()
        stats = services.queue_stats(clock=lambda: now)
        last_hour = services.throughput(window=timedelta(hours=1), bucket_seconds=60, clock=lambda: now)
        last_day = services.throughput(window=timedelta(days=1), bucket_seconds=3600, clock=lambda: now)
        pools = services.live_worker_pools(clock=lambda: now)
        list_url = self.model_admin.url("changelist")

        def filtered(**params) -> str:
            return f"{list_url}?{urlencode(params)}"

        type_rows = [
            {
                "type": job_type,
                "url": filtered(type=job_type),
                "total": sum(counts.values()),
                "failed": counts.get(Status.FAILED, 0),
                "cells": [
                    {"status": status, "count": counts.get(status, 0), "url": filtered(type=job_type, status=status)}
                    for status in STATUS_ORDER
                ],
            }
            for job_type, counts in sorted(stats.by_type.items())
        ]
        return super().get_context_data(
            now=now,
            stats=stats,
            total=stats.total,
            status_cards=[
                {"status": status, "count": stats.by_status.get(status, 0), "url": filtered(status=status)}
                for status in STATUS_ORDER
            ],
            type_rows=type_rows,
            statuses=STATUS_ORDER,
            hour_buckets=last_hour,
            day_buckets=last_day,
            hour_totals=_totals(last_hour),
            day_totals=_totals(last_day),
            pool_rows=[
                {
                    "pool": pool,
                    "heartbeat_age": (now - pool.heartbeat_at).total_seconds(),
                    "uptime": (now - pool.started_at).total_seconds(),
                }
                for pool in pools
            ],
            lease_seconds=settings.JOBQUEUE_LEASE_SECONDS,
            store_description=services.store_description(),
            recent_actions=self.model_admin.job_log(limit=10),
            retry_failed_url=self.model_admin.url("retry_failed"),
            delete_finished_url=self.model_admin.url("delete_finished"),
            default_purge_days=DEFAULT_PURGE_DAYS,
            queue_rows=[
                {
                    "queue": queue,
                    "url": filtered(queue=queue.name),
                    "counts": [queue.counts.get(status, 0) for status in STATUS_ORDER],
                }
                for queue in queues.list_queues(clock=lambda: now)
            ],
            pause_queue_url=self.model_admin.url("pause_queue"),
            resume_queue_url=self.model_admin.url("resume_queue"),
            retention=retention.retention_in_force(),
            **kwargs,
        )


def _totals(buckets) -> dict[str, int]:
    return {
        "completed": sum(bucket.completed for bucket in buckets),
        "failed": sum(bucket.failed for bucket in buckets),
    }
