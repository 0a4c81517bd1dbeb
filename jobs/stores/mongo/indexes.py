"""The indexes of the store's collections, each named for the query it serves."""

from __future__ import annotations

import pymongo
from pymongo.collection import Collection

from jobs.stores.mongo.queries import UNIQUE_KEY_LIVE


def create_indexes(jobs: Collection, pools: Collection, paused_queues: Collection, schedules: Collection) -> None:
    """One ``createIndexes`` command per collection; idempotent (existing ones are kept)."""
    asc, desc = pymongo.ASCENDING, pymongo.DESCENDING
    jobs.create_indexes(
        [
            # claim: status = pending, runAt <= now, sort priority desc, runAt, _id
            pymongo.IndexModel([("status", asc), ("priority", desc), ("runAt", asc), ("_id", asc)], name="claim"),
            # claim from one queue (runworkers --queue)
            pymongo.IndexModel(
                [("status", asc), ("queue", asc), ("priority", desc), ("runAt", asc), ("_id", asc)],
                name="queue_claim",
            ),
            # list filtered by queue
            pymongo.IndexModel([("queue", asc), ("createdAt", desc), ("_id", desc)], name="queue_list"),
            # list: newest first, sort createdAt desc, _id desc (cursor pagination)
            pymongo.IndexModel([("createdAt", desc), ("_id", desc)], name="list"),
            # list filtered by status
            pymongo.IndexModel([("status", asc), ("createdAt", desc), ("_id", desc)], name="status_list"),
            # list filtered by type (and type + status)
            pymongo.IndexModel([("type", asc), ("createdAt", desc), ("_id", desc)], name="type_list"),
            # counts per type x status (covered $group)
            pymongo.IndexModel([("type", asc), ("status", asc)], name="type_status"),
            # reaper: status = processing, lease.expiresAt < now
            pymongo.IndexModel([("status", asc), ("lease.expiresAt", asc)], name="reaper"),
            # oldest due pending and delayed count: status = pending, runAt <= / > now
            pymongo.IndexModel([("status", asc), ("runAt", asc)], name="due"),
            # throughput chart and purge: status in finished, finishedAt >= / < time
            pymongo.IndexModel([("status", asc), ("finishedAt", asc)], name="finished"),
            # list filtered by "has error"
            pymongo.IndexModel([("hasError", asc), ("createdAt", desc), ("_id", desc)], name="error_list"),
            # one job per Idempotency-Key: concurrent inserts with one key cannot both succeed
            pymongo.IndexModel([("idempotencyKey", asc)], name="idempotency", unique=True, sparse=True),
            # unique jobs: one live (pending or processing) job per (type, uniqueKey)
            pymongo.IndexModel(
                [("type", asc), ("uniqueKey", asc)],
                name="unique_key_live",
                unique=True,
                partialFilterExpression={"uniqueKey": {"$type": "string"}, "status": {"$in": UNIQUE_KEY_LIVE}},
            ),
        ]
    )
    pools.create_indexes(
        [
            # live pools: heartbeatAt >= since
            pymongo.IndexModel([("heartbeatAt", asc)], name="live"),
            # one entry per pool. Partial, so that entries of releases that keyed pools
            # by a string _id (and have no poolId) cannot block the index; they are
            # never listed and drop out of sight as their heartbeat ages.
            pymongo.IndexModel(
                [("poolId", asc)],
                name="pool_id",
                unique=True,
                partialFilterExpression={"poolId": {"$exists": True}},
            ),
        ]
    )
    # By name, not _id: servers speaking MongoDB's protocol may refuse a string _id.
    paused_queues.create_indexes([pymongo.IndexModel([("name", asc)], name="name", unique=True)])
    schedules.create_indexes([pymongo.IndexModel([("name", asc)], name="name", unique=True)])
