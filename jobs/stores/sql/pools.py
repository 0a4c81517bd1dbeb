"""The worker-pool registry: each pool registers itself, heartbeats while it runs and
unregisters when it stops (rows of ``WorkerPoolRecord``); live pools are those with a
recent heartbeat.
"""

from __future__ import annotations

from datetime import datetime

from jobs.domain import PoolInfo
from jobs.models import WorkerPoolRecord
from jobs.stores.sql.connection import SqlConnection
from jobs.timeutil import truncate_ms


def _pool_from_record(record: WorkerPoolRecord) -> PoolInfo:
    return PoolInfo(
        id=record.id,
        host=record.host,
        pid=record.pid,
        concurrency=record.concurrency,
        running=record.running,
        started_at=truncate_ms(record.started_at),
        heartbeat_at=truncate_ms(record.heartbeat_at),
    )


class PoolRegistry(SqlConnection):
    """``register_pool``, ``heartbeat_pool``, ``unregister_pool`` and ``live_pools``."""

    def register_pool(self, pool: PoolInfo) -> None:
        WorkerPoolRecord.objects.using(self.using).update_or_create(
            id=pool.id,
            defaults={
                "host": pool.host,
                "pid": pool.pid,
                "concurrency": pool.concurrency,
                "running": pool.running,
                "started_at": pool.started_at,
                "heartbeat_at": pool.heartbeat_at,
            },
        )

    def heartbeat_pool(self, pool_id: str, *, running: int, now: datetime) -> None:
        WorkerPoolRecord.objects.using(self.using).filter(id=pool_id).update(running=running, heartbeat_at=now)

    def unregister_pool(self, pool_id: str) -> None:
        WorkerPoolRecord.objects.using(self.using).filter(id=pool_id).delete()

    def live_pools(self, *, heartbeat_since: datetime) -> list[PoolInfo]:
        records = WorkerPoolRecord.objects.using(self.using).filter(heartbeat_at__gte=heartbeat_since)
        return [_pool_from_record(record) for record in records.order_by("started_at", "id")]
