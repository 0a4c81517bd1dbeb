"""The worker-pool registry (the ``worker_pools`` collection): pools register,
heartbeat and leave; the live ones are those with a recent heartbeat."""

from __future__ import annotations

from datetime import datetime

from jobs.domain import PoolInfo
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.documents import pool_document, pool_of
from jobs.stores.mongo.errors import serialized
from jobs.timeutil import truncate_ms


class PoolRegistry(MongoConnection):
    """``register_pool``, ``heartbeat_pool``, ``unregister_pool`` and ``live_pools``."""

    @serialized
    def register_pool(self, pool: PoolInfo) -> None:
        self._pools.replace_one({"poolId": pool.id}, pool_document(pool), upsert=True)

    @serialized
    def heartbeat_pool(self, pool_id: str, *, running: int, now: datetime) -> None:
        self._pools.update_one({"poolId": pool_id}, {"$set": {"running": running, "heartbeatAt": truncate_ms(now)}})

    @serialized
    def unregister_pool(self, pool_id: str) -> None:
        self._pools.delete_one({"poolId": pool_id})

    @serialized
    def live_pools(self, *, heartbeat_since: datetime) -> list[PoolInfo]:
        documents = self._pools.find(
            {"heartbeatAt": {"$gte": truncate_ms(heartbeat_since)}, "poolId": {"$exists": True}},
            sort=[("startedAt", 1), ("poolId", 1)],
        )
        return [pool_of(document) for document in documents]
