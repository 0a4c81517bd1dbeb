"""The MongoDB job store: jobs in the ``jobs`` collection, worker pools in ``worker_pools``.

This is the only module that imports pymongo or bson. Documents use the camelCase fields
of the job document in docs/ARCHITECTURE.md; every
datetime is written as UTC in whole milliseconds and read back as aware UTC, so a job
read back equals, field for field, the job returned when it was written.

Atomicity comes from single-document updates matched on state: a claim matches
``status: pending``, and every write about a held job matches ``_id`` *and*
``lease.token`` (fencing). Every public operation runs inside ``operation_guard``, a
context that does nothing here; a subclass on a client that is not thread-safe (the
tests' in-memory fake) sets a lock there.

Writes whose answer is lost (the connection drops, or a write-concern error says the
primary applied it but the majority did not confirm it in time) must not lose or double
anything:

* Single-document writes are retryable writes: on a replica set the driver sends one
  again once after a network error and the server applies it at most once.
* A batch claim (``update_many``, which the driver never retries) carries a lease token
  of its own; the store sends it again itself, which takes nothing new, and reads back
  the jobs under that token. A claim that still fails gives its jobs back (pending, no
  attempt counted); if that fails too, the reaper returns them when the lease expires.
* An insert that fails after landing raises ``StoreUnavailable`` (the API's ``503``),
  never a success that may not be durable. A caller retrying with the same
  Idempotency-Key (or ``uniqueKey``) gets the job already stored, replayed, never a
  second one: the unique index refuses the twin. A job with neither key, and a bulk
  enqueue, may be stored twice by such a retry.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import secrets
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta

import pymongo
from bson import ObjectId
from pymongo import ReturnDocument, UpdateMany, UpdateOne, WriteConcern
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from jobs.models import (
    ALL_JOBS,
    DEFAULT_QUEUE,
    UNIQUE_KEY_STATUSES,
    Attempt,
    Job,
    JobFilter,
    Lease,
    NewJob,
    Outcome,
    PoolInfo,
    Schedule,
    Status,
    Throughput,
)
from jobs.results import JobResult
from jobs.retry import RetryStrategy
from jobs.stores.base import JobStore, ListCursor, Renewal, StoreRejectedValue, StoreUnavailable
from jobs.timeutil import truncate_ms

logger = logging.getLogger(__name__)

JOBS_COLLECTION = "jobs"
POOLS_COLLECTION = "worker_pools"
PAUSED_QUEUES_COLLECTION = "paused_queues"
SCHEDULES_COLLECTION = "schedules"
_SCHEDULE_FIELDS = ("type", "payload", "cron", "timezone", "queue", "priority", "enabled")
DEFAULT_DATABASE = "jobqueue"

# Claim order: highest priority first, then oldest runAt, then oldest id.
CLAIM_ORDER = [("priority", pymongo.DESCENDING), ("runAt", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)]
# List order: newest first; the id breaks ties so cursor pagination is exact.
LIST_ORDER = [("createdAt", pymongo.DESCENDING), ("_id", pymongo.DESCENDING)]
# Attempt outcomes that count as neither completed nor failed in the throughput.
NOT_COUNTED = [Outcome.RELEASED.value, Outcome.CANCELLED.value]
UNIQUE_KEY_LIVE = [status.value for status in UNIQUE_KEY_STATUSES]
# How often an insert refused for its unique key looks for the holder before giving up.
UNIQUE_INSERT_TRIES = 5
FINISHED = [Status.COMPLETED.value, Status.FAILED.value, Status.CANCELLED.value]
# Naive on purpose: BSON encodes naive datetimes as UTC, and in-memory fakes of MongoDB
# store them naive, so date arithmetic against it works on both.
EPOCH = datetime(1970, 1, 1)
# How long one wait on a change stream may block, so a stop request is seen promptly.
WATCH_MAX_AWAIT_MS = 1000

# --- URIs -------------------------------------------------------------------------------

# Options whose values may be secrets (tlsCertificateKeyFilePassword, AWS session tokens
# inside authMechanismProperties, ...).
_SECRET_OPTION = re.compile(r"(?i)([?&;][^=&;#]*(?:password|secret|token|authmechanismproperties)[^=&;#]*=)[^&;#]*")


def _split_credentials(uri: str) -> tuple[str, str | None, str]:
    """``(scheme://, userinfo or None, the rest)``, erring towards treating text as userinfo.

    Per the URI spec userinfo ends at the last ``@`` before the first ``/``; a password
    with an unescaped ``/`` breaks that, so any ``@`` further on is treated as its end too.
    """
    scheme, separator, rest = uri.partition("://")
    prefix = scheme + separator if separator else ""
    rest = rest if separator else uri
    authority = rest.partition("/")[0]
    if "@" in authority:
        userinfo, _, hosts = authority.rpartition("@")
        return prefix, userinfo, hosts + rest[len(authority) :]
    if "@" in rest:
        userinfo, _, remainder = rest.rpartition("@")
        return prefix, userinfo, remainder
    return prefix, None, rest


def redact_uri(uri: str) -> str:
    """``uri`` safe to log and show: the password and secret-bearing options become ``***``.

    ``mongodb://app:s3cret@db:27017/jobs`` → ``mongodb://app:***@db:27017/jobs``.
    """
    prefix, userinfo, rest = _split_credentials(uri)
    if userinfo is not None:
        user, colon, _password = userinfo.partition(":")
        if "/" in user or "?" in user:  # the split above was a guess: hide all of it
            user, colon = "***", ""
        rest = f"{user}{':***' if colon else ''}@{rest}"
    return _SECRET_OPTION.sub(r"\1***", prefix + rest)


def _password(uri: str) -> str | None:
    userinfo = _split_credentials(uri)[1]
    if userinfo is None or ":" not in userinfo:
        return None
    return userinfo.partition(":")[2] or None


def _hosts(uri: str) -> str:
    """The host list of a URI (``db1:27017,db2:27017``), without credentials."""
    return _split_credentials(uri)[2].partition("/")[0].partition("?")[0]


def _reason(error: Exception, *, secret: str | None = None) -> str:
    """The useful part of a driver error: its first line, without the topology dump."""
    lines = str(error).splitlines()
    text = lines[0].split(", Timeout: ")[0] if lines else type(error).__name__
    return text.replace(secret, "***") if secret else text


def _durable_write_concern(chosen: WriteConcern, timeout_ms: int | None = None) -> WriteConcern | None:
    """Majority, journaled writes, unless the URI chose its own ``w``/``journal``/``fsync``;
    waiting for the majority at most ``timeout_ms`` unless the URI says ``wtimeoutMS``.

    An acknowledged job must survive a crash or a failover (docs/ARCHITECTURE.md, invariants).
    """
    if {"w", "j", "fsync"} & chosen.document.keys():
        return None
    return WriteConcern(w="majority", j=True, wtimeout=chosen.document.get("wtimeout", timeout_ms))


# --- documents <-> domain objects -------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    """A datetime read from MongoDB (naive UTC unless the client is tz_aware) as aware UTC."""
    return None if value is None else truncate_ms(value)


def _object_id(job_id: str) -> ObjectId | None:
    return ObjectId(job_id) if isinstance(job_id, str) and ObjectId.is_valid(job_id) else None


def _attempt_document(attempt: Attempt) -> dict:
    document = attempt.to_dict()
    document["startedAt"] = truncate_ms(attempt.started_at)
    document["finishedAt"] = truncate_ms(attempt.finished_at)
    document["outcome"] = str(attempt.outcome)
    return document


def _lease(document: dict | None) -> Lease | None:
    if not document:
        return None
    return Lease(
        owner=document["owner"],
        token=document["token"],
        expires_at=_utc(document["expiresAt"]),
        started_at=_utc(document["startedAt"]),
    )


def _job(document: dict) -> Job:
    """The domain job of a document.

    Documents written by the original service lack the extended fields; they read with
    the defaults a new job would have.
    """
    created_at = _utc(document["createdAt"])
    return Job(
        id=str(document["_id"]),
        type=document["type"],
        payload=document.get("payload") or {},
        status=Status(document["status"]),
        retry_count=document.get("retryCount", 0),
        max_retries=document.get("maxRetries", 0),
        priority=document.get("priority", 0),
        run_at=_utc(document.get("runAt")) or created_at,
        created_at=created_at,
        updated_at=_utc(document.get("updatedAt")) or created_at,
        finished_at=_utc(document.get("finishedAt")),
        last_error=document.get("lastError"),
        lease=_lease(document.get("lease")),
        attempts=tuple(Attempt.from_dict(item, parse=_utc) for item in document.get("attempts") or ()),
        attempt_count=document.get("attemptCount", 0),
        idempotency_key=document.get("idempotencyKey"),
        request_hash=document.get("requestHash"),
        result=document.get("result"),
        progress=document.get("progress"),
        cancel_requested=bool(document.get("cancelRequested", False)),
        queue=document.get("queue", DEFAULT_QUEUE),
        unique_key=document.get("uniqueKey"),
        schedule=document.get("schedule"),
    )


def _new_document(new_job: NewJob, now: datetime) -> dict:
    return {
        "_id": ObjectId(),
        "type": new_job.type,
        "payload": new_job.payload,
        "status": Status.PENDING.value,
        "retryCount": 0,
        "maxRetries": new_job.max_retries,
        "priority": new_job.priority,
        "runAt": truncate_ms(new_job.run_at) if new_job.run_at is not None else now,
        "lease": None,
        "attempts": [],
        "attemptCount": 0,
        "lastError": None,
        "hasError": False,
        "createdAt": now,
        "updatedAt": now,
        "finishedAt": None,
        # Absent, not null, without a key: the unique index is sparse.
        **({"idempotencyKey": new_job.idempotency_key} if new_job.idempotency_key is not None else {}),
        **({"requestHash": new_job.request_hash} if new_job.request_hash is not None else {}),
        "queue": new_job.queue,
        **({"uniqueKey": new_job.unique_key} if new_job.unique_key is not None else {}),
        **({"schedule": new_job.schedule} if new_job.schedule is not None else {}),
    }


def _pool_document(pool: PoolInfo) -> dict:
    """A pool's registry entry. The server gives it an ObjectId ``_id``: servers that
    speak MongoDB's protocol without being MongoDB (CongoDB) refuse any other ``_id``."""
    return {
        "poolId": pool.id,
        "host": pool.host,
        "pid": pool.pid,
        "concurrency": pool.concurrency,
        "running": pool.running,
        "startedAt": truncate_ms(pool.started_at),
        "heartbeatAt": truncate_ms(pool.heartbeat_at),
    }


def _pool(document: dict) -> PoolInfo:
    return PoolInfo(
        id=document["poolId"],
        host=document["host"],
        pid=document["pid"],
        concurrency=document["concurrency"],
        running=document["running"],
        started_at=_utc(document["startedAt"]),
        heartbeat_at=_utc(document["heartbeatAt"]),
    )


def _schedule_document(schedule: Schedule) -> dict:
    """A schedule's document; like pools, it keeps the server's ObjectId ``_id``."""
    return {
        "name": schedule.name,
        **{field: getattr(schedule, field) for field in _SCHEDULE_FIELDS},
        "nextRunAt": truncate_ms(schedule.next_run_at) if schedule.next_run_at else None,
        "lastRunAt": truncate_ms(schedule.last_run_at) if schedule.last_run_at else None,
    }


def _schedule(document: dict) -> Schedule:
    return Schedule(
        name=document["name"],
        **{field: document[field] for field in _SCHEDULE_FIELDS},
        next_run_at=_utc(document.get("nextRunAt")),
        last_run_at=_utc(document.get("lastRunAt")),
    )


def _due(now: datetime, queue: str | None = None, exclude_queues: Collection[str] = ()) -> dict:
    """Pending jobs whose time has come, of ``queue`` or of any queue but the excluded: the claim filter."""
    due = {"status": Status.PENDING.value, "runAt": {"$lte": now}}
    if queue is not None:
        due["queue"] = queue
    elif exclude_queues:
        due["queue"] = {"$nin": sorted(exclude_queues)}
    return due


def _held(job: Job) -> dict:
    """The filter fencing every write about a held job: its id and its lease token."""
    return {"_id": ObjectId(job.id), "lease.token": job.lease.token, "status": Status.PROCESSING.value}


# A transition's field names (``jobs.results``) as document fields.
_FIELD_NAMES = {
    "status": "status",
    "run_at": "runAt",
    "last_error": "lastError",
    "has_error": "hasError",
    "finished_at": "finishedAt",
    "result": "result",
}


def _record_update(result: JobResult, now: datetime, marker: str) -> dict:
    """The update recording ``result``: its transition, the lease ended, the history
    written whole from the holder's copy (nothing else changes it while the job is held)
    and ``resultId`` stamped so the writer can tell its update applied."""
    change = result.transition(now)
    history, attempt_count = result.job.recorded_attempts(result.attempt)
    fields = {_FIELD_NAMES[name]: value for name, value in change.changed_fields().items()}
    update = {
        "$set": {
            **fields,
            "status": change.status.value,
            "lease": None,
            "cancelRequested": False,
            "attempts": [_attempt_document(item) for item in history],
            "attemptCount": attempt_count,
            "updatedAt": now,
            "resultId": marker,
        }
    }
    if change.retry_increment:
        update["$inc"] = {"retryCount": change.retry_increment}
    return update


def _serialized(method):
    """Run a public operation inside the store's ``operation_guard``, and report driver
    errors as the store's own (see ``_translated``) so callers need not know pymongo."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.operation_guard:
            try:
                return method(self, *args, **kwargs)
            except (OverflowError, PyMongoError) as error:
                raise _translated(self, error) from error

    return run


def _translated(store: MongoJobStore, error: Exception) -> Exception:
    """An integer BSON cannot hold is bad input (nothing was sent); any other driver error
    (lost connection, timeout, write-concern timeout, a refused command) is an outage
    the caller may retry."""
    if isinstance(error, OverflowError):
        return StoreRejectedValue(f"MongoDB cannot store this value: {error}")
    if isinstance(error, ConnectionFailure):
        return StoreUnavailable(f"lost connection to {store.describe()}: {_reason(error)}")
    return StoreUnavailable(f"{store.describe()} failed: {_reason(error)}")


class MongoJobStore(JobStore):
    """Jobs in a MongoDB database."""

    kind = "mongodb"
    #: The context every public operation runs in; none is needed on a real client.
    operation_guard: AbstractContextManager = nullcontext()

    def __init__(
        self,
        client,
        database_name: str = DEFAULT_DATABASE,
        *,
        write_concern: WriteConcern | None = None,
        timeout_seconds: float = 5.0,
        uri: str | None = None,
    ):
        """Use ``database_name`` on ``client`` (a ``pymongo.MongoClient`` or a compatible one).

        ``uri`` is kept only in redacted form, for messages.
        """
        super().__init__()
        self._client = client
        self._database = (
            client.get_database(database_name, write_concern=write_concern) if write_concern else client[database_name]
        )
        self._jobs = self._database[JOBS_COLLECTION]
        self._pools = self._database[POOLS_COLLECTION]
        self._paused = self._database[PAUSED_QUEUES_COLLECTION]
        self._schedules = self._database[SCHEDULES_COLLECTION]
        self._timeout_seconds = timeout_seconds
        self._safe_uri = redact_uri(uri) if uri else None

    @classmethod
    def from_options(cls, **options) -> MongoJobStore:
        """The store of ``JOBQUEUE_STORE["OPTIONS"]``: ``uri`` and the keywords of ``from_uri``."""
        return cls.from_uri(**options)

    @classmethod
    def from_uri(
        cls,
        uri: str,
        *,
        database_name: str | None = None,
        timeout_seconds: float = 5.0,
        operation_timeout_seconds: float | None = None,
        event_listeners: Sequence[pymongo.monitoring.CommandListener] = (),
    ) -> MongoJobStore:
        """A store on the server at ``uri`` (nothing is sent until the first operation).

        The database is ``database_name``, else the URI's path, else ``jobqueue``. Writes
        are majority-acknowledged and journaled unless the URI sets ``w``/``journal``.
        Finding a server or connecting gives up after ``timeout_seconds``, so an
        unreachable server fails start-up quickly instead of after pymongo's 30 s.
        Raises ``StoreUnavailable`` (password-free) for a URI pymongo rejects.
        ``event_listeners`` go to the client as pymongo's own option (the benchmark counts
        the commands sent with one).
        """
        timeout_ms = max(1, round(timeout_seconds * 1000))
        # A slow server turns into StoreUnavailable after this long, not after the OS's
        # TCP timeout; the change stream's getMore waits far less (WATCH_MAX_AWAIT_MS).
        operation_ms = max(1, round(operation_timeout_seconds * 1000)) if operation_timeout_seconds else None
        try:
            client = pymongo.MongoClient(
                uri,
                tz_aware=True,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                socketTimeoutMS=operation_ms,
                event_listeners=list(event_listeners),
            )
        except (PyMongoError, ValueError) as error:
            # from None: the driver's own message may quote parts of the URI.
            reason = _reason(error, secret=_password(uri))
            raise StoreUnavailable(f"invalid MongoDB URI {redact_uri(uri)}: {reason}") from None
        name = database_name or client.get_default_database(DEFAULT_DATABASE).name
        write_concern = _durable_write_concern(client.write_concern, operation_ms)
        logger.debug("MongoDB write concern: %s", (write_concern or client.write_concern).document)
        return cls(client, name, write_concern=write_concern, timeout_seconds=timeout_seconds, uri=uri)

    # -- bookkeeping ----------------------------------------------------------------
    @property
    def database_name(self) -> str:
        return self._database.name

    def describe(self) -> str:
        """e.g. ``MongoDB at db:27017, database jobqueue``; never a password."""
        return f"MongoDB at {self._where()}, database {self.database_name}"

    def _where(self) -> str:
        if self._safe_uri:
            return _hosts(self._safe_uri)
        seeds = self._client.topology_description.server_descriptions()
        return ",".join(f"{host}:{port}" for host, port in seeds)

    @_serialized
    def ensure_ready(self) -> None:
        """Ping the server, then create the indexes (idempotent: existing ones are kept).

        Raises ``StoreUnavailable`` naming the redacted URI within ``timeout_seconds``.
        """
        location = self._safe_uri or self.describe()
        try:
            with pymongo.timeout(self._timeout_seconds):
                self._client.admin.command("ping")
        except PyMongoError as error:
            raise StoreUnavailable(f"cannot reach MongoDB at {location}: {_reason(error)}") from error
        try:
            self._create_indexes()
            self._create_schedule_indexes()
        except PyMongoError as error:
            raise StoreUnavailable(f"cannot create indexes on MongoDB at {location}: {_reason(error)}") from error

    def _create_indexes(self) -> None:
        """One ``createIndexes`` command per collection; each index names its query."""
        asc, desc = pymongo.ASCENDING, pymongo.DESCENDING
        self._jobs.create_indexes(
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
        self._pools.create_indexes(
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
        self._paused.create_indexes([pymongo.IndexModel([("name", asc)], name="name", unique=True)])

    def _create_schedule_indexes(self) -> None:
        self._schedules.create_indexes([pymongo.IndexModel([("name", pymongo.ASCENDING)], name="name", unique=True)])

    def close(self) -> None:
        """Close the client's connections; the store is unusable afterwards."""
        self._client.close()

    def drop_database(self) -> None:
        """Drop this store's database (tests against a real server clean up with it)."""
        self._client.drop_database(self.database_name)

    # -- enqueue and read -----------------------------------------------------------
    @_serialized
    def insert(self, new_job: NewJob, *, now: datetime) -> Job:
        if new_job.unique_key is not None:
            return self.insert_unique(new_job, now=now)[0]
        document = _new_document(new_job, truncate_ms(now))
        try:
            self._jobs.insert_one(document)
        except pymongo.errors.DuplicateKeyError:
            if new_job.idempotency_key is None:
                raise
            existing = self._jobs.find_one({"idempotencyKey": new_job.idempotency_key})
            if existing is None:
                raise
            return dataclasses.replace(_job(existing), replayed=True)
        return _job(document)

    @_serialized
    def insert_unique(self, new_job: NewJob, *, now: datetime) -> tuple[Job, bool]:
        live = {"type": new_job.type, "uniqueKey": new_job.unique_key, "status": {"$in": UNIQUE_KEY_LIVE}}
        for _ in range(UNIQUE_INSERT_TRIES):
            document = _new_document(new_job, truncate_ms(now))
            try:
                self._jobs.insert_one(document)
                return _job(document), True
            except DuplicateKeyError:
                holder = self._jobs.find_one(live)
                if holder is not None:
                    return _job(holder), False
                # The holder of the key finished between the refusal and the read: try again.
        raise StoreUnavailable(f"unique key {new_job.unique_key!r} kept changing hands; try again")

    @_serialized
    def insert_many(self, new_jobs: Sequence[NewJob], *, now: datetime) -> list[Job]:
        """Store many new pending jobs with one ``insert_many``; them, as stored, in order."""
        if not new_jobs:
            return []
        now = truncate_ms(now)
        documents = [_new_document(new_job, now) for new_job in new_jobs]
        self._jobs.insert_many(documents, ordered=True)
        return [_job(document) for document in documents]

    @_serialized
    def get(self, job_id: str) -> Job | None:
        object_id = _object_id(job_id)
        if object_id is None:
            return None
        document = self._jobs.find_one({"_id": object_id})
        return _job(document) if document else None

    @_serialized
    def list_jobs(
        self,
        criteria: JobFilter = ALL_JOBS,
        *,
        limit: int = 50,
        after: ListCursor | None = None,
        before: ListCursor | None = None,
    ) -> list[Job]:
        """See ``JobStore.list_jobs``. Raises ``ValueError`` for a cursor id that is not 24-hex."""
        if limit < 1:  # pymongo reads limit 0 as "no limit"
            return []
        query: dict = {
            field: value
            for field, value in (
                ("status", None if criteria.status is None else str(criteria.status)),
                ("type", criteria.type),
                ("hasError", criteria.has_error),
                ("queue", criteria.queue),
            )
            if value is not None
        }
        order = LIST_ORDER
        if after is not None:
            query["$or"] = self._beyond(after, "$lt")
        if before is not None:
            # The jobs just before the cursor in list order: read upwards from it, then flip.
            query["$or"] = self._beyond(before, "$gt")
            order = [(field, -direction) for field, direction in LIST_ORDER]
        jobs = [_job(document) for document in self._jobs.find(query, sort=order, limit=limit)]
        return jobs[::-1] if before is not None else jobs

    @staticmethod
    def _beyond(cursor: ListCursor, comparison: str) -> list[dict]:
        """Strictly past (createdAt, id), "$lt" towards older jobs, "$gt" towards newer."""
        created_at, job_id = cursor
        object_id = _object_id(job_id)
        if object_id is None:
            raise ValueError(f"list cursor id {job_id!r} is not a job id")
        created_at = truncate_ms(created_at)
        return [{"createdAt": {comparison: created_at}}, {"createdAt": created_at, "_id": {comparison: object_id}}]

    # -- the worker's side ----------------------------------------------------------
    @_serialized
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
        """See ``JobStore.claim``. One round trip for one job; three for a batch (more
        only when an answer is lost).

        Every claim writes a lease token of its own, so it can tell the jobs it took from
        any other's whatever happened to the answers. A claim whose write may have landed
        but whose answer was lost (a dropped connection, a write-concern error) gives its
        jobs back (pending again, no attempt counted) before raising ``StoreUnavailable``;
        if even that fails, the reaper returns them once the lease expires. When no server
        could be selected nothing was sent, and nothing is sent again: the caller hears
        of the outage within one timeout, not two.
        """
        if limit < 1:
            return []
        now = truncate_ms(now)
        lease = {
            "owner": owner,
            "token": secrets.token_hex(16),
            "expiresAt": truncate_ms(now + timedelta(seconds=lease_seconds)),
            "startedAt": now,
        }
        update = {"$set": {"status": Status.PROCESSING.value, "lease": lease, "updatedAt": now}}
        due = _due(now, queue, exclude_queues)
        if limit == 1:
            return self._claim_one(update, due)
        return self._claim_batch(update, due, limit)

    def _claim_one(self, update: dict, due: dict) -> list[Job]:
        """One ``find_one_and_update``: a retryable write, which the driver sends again
        once after a network error and the server applies at most once."""
        with self._given_back_on_failure(update):
            document = self._jobs.find_one_and_update(
                due, update, sort=CLAIM_ORDER, return_document=ReturnDocument.AFTER
            )
        return [_job(document)] if document else []

    def _claim_batch(self, update: dict, due: dict, limit: int) -> list[Job]:
        """Pick candidates, take those still pending under this claim's token, read back what we got.

        Each job is taken by a single-document update matched on ``status: pending``, so
        two claimers racing for the same candidates split them and never share one; the
        loser just gets fewer jobs this time. The update may land any number of times
        (``_take``): it only ever takes candidates, so never more than ``limit``, and
        the read by token finds every job it took.
        """
        candidates = [doc["_id"] for doc in self._jobs.find(due, {"_id": 1}, sort=CLAIM_ORDER, limit=limit)]
        if not candidates:
            return []
        with self._given_back_on_failure(update):
            if not self._take({"_id": {"$in": candidates}, **due}, update):
                return []
            # _id $in (not the token alone) so the read uses the _id index.
            token = update["$set"]["lease"]["token"]
            documents = self._jobs.find(
                {"_id": {"$in": candidates}, "lease.token": token}, sort=CLAIM_ORDER, limit=len(candidates)
            )
            return [_job(document) for document in documents]

    def _take(self, match: dict, update: dict) -> bool:
        """``update_many`` of the claim; ``False`` only when it surely took nothing.

        The driver never retries a multi-document update, so this sends it again once
        when the answer was lost or the write not confirmed: with the same token and
        only still-pending candidates matched, a second landing takes nothing new.
        """
        try:
            return self._jobs.update_many(match, update).modified_count > 0
        except ServerSelectionTimeoutError:
            raise  # not sent: no server to send it to
        except (ConnectionFailure, WriteConcernError) as error:
            logger.info("%s: claim answer lost (%s); sending it again", self.describe(), _reason(error))
            self._jobs.update_many(match, update)
            return True  # the lost answer may have taken some

    @contextmanager
    def _given_back_on_failure(self, update: dict):
        """Give back the jobs of the claim ``update`` if the block fails after its write
        may have landed: no caller will receive them, and they must not wait for the
        reaper (which would count an attempt that never ran)."""
        try:
            yield
        except ServerSelectionTimeoutError:
            raise  # no server: the give-back could not be sent either, the reaper will do it
        except PyMongoError:
            self._give_back(update["$set"]["lease"], update["$set"]["updatedAt"])
            raise

    def _give_back(self, lease: dict, now: datetime) -> None:
        """Processing jobs still under ``lease`` back to pending, as before the claim.

        Matched on status and expiry (the reaper index) and the token, so a job someone
        else took since (the reaper, once the lease expired) is left alone. Best effort:
        if the server cannot be reached either, the reaper returns them when the lease expires.
        """
        held = {"status": Status.PROCESSING.value, "lease.expiresAt": lease["expiresAt"], "lease.token": lease["token"]}
        try:
            given = self._jobs.update_many(
                held, {"$set": {"status": Status.PENDING.value, "lease": None, "updatedAt": now}}
            )
        except PyMongoError as error:
            logger.warning(
                "%s: a failed claim could not give its jobs back (%s); the reaper returns them after %s",
                self.describe(),
                _reason(error),
                lease["expiresAt"].isoformat(),
            )
            return
        if given.modified_count:
            logger.info("%s: a failed claim gave %d jobs back", self.describe(), given.modified_count)

    @_serialized
    def renew(
        self,
        held: Sequence[Job],
        *,
        now: datetime,
        lease_seconds: float,
        progress: Mapping[str, dict] | None = None,
    ) -> Renewal:
        """See ``JobStore.renew``: one batch of updates (one per job with progress to
        write, one for the rest) and one read; nothing sent for no jobs."""
        progress = progress or {}
        held = [job for job in held if job.lease]
        if not held:
            return Renewal()
        expires_at = truncate_ms(truncate_ms(now) + timedelta(seconds=lease_seconds))
        plain = [_held(job) for job in held if job.id not in progress]
        operations = [
            UpdateOne(_held(job), {"$set": {"lease.expiresAt": expires_at, "progress": progress[job.id]}})
            for job in held
            if job.id in progress
        ]
        if plain:
            operations.append(UpdateMany({"$or": plain}, {"$set": {"lease.expiresAt": expires_at}}))
        self._jobs.bulk_write(operations, ordered=False)
        found = list(self._jobs.find({"$or": [_held(job) for job in held]}, {"_id": 1, "cancelRequested": 1}))
        return Renewal(
            kept={str(document["_id"]) for document in found},
            cancel_requested={str(document["_id"]) for document in found if document.get("cancelRequested")},
        )

    @_serialized
    def record_results(
        self, results: Sequence[JobResult], *, now: datetime, expired_before: datetime | None = None
    ) -> list[bool]:
        """See ``JobStore.record_results``: one unordered ``bulk_write`` of updates, each
        fenced on ``_id`` and the lease token.

        The server reports only how many updates matched. When that is all of them (the
        usual case) every result applied; otherwise one read of the ``resultId`` each
        update stamps tells which ones did.
        """
        now = truncate_ms(now)
        fence = {} if expired_before is None else {"lease.expiresAt": {"$lt": truncate_ms(expired_before)}}
        markers = [secrets.token_hex(8) if result.job.lease else None for result in results]
        operations = [
            UpdateOne({**_held(result.job), **fence}, _record_update(result, now, marker))
            for result, marker in zip(results, markers, strict=True)
            if marker is not None
        ]
        if not operations:
            return [False] * len(results)
        if self._jobs.bulk_write(operations, ordered=False).matched_count == len(results):
            return [True] * len(results)
        ids = [ObjectId(result.job.id) for result in results]
        stamped = {document.get("resultId") for document in self._jobs.find({"_id": {"$in": ids}}, {"resultId": 1})}
        return [marker is not None and marker in stamped for marker in markers]

    @_serialized
    def reap(self, *, now: datetime, retry_strategy: RetryStrategy, max_clock_skew: float = 0.0) -> int:
        """See ``JobStore.reap``: one read, then one batch of fenced updates."""
        return super().reap(now=now, retry_strategy=retry_strategy, max_clock_skew=max_clock_skew)

    def _expired_leases(self, *, now: datetime) -> list[Job]:
        expired = self._jobs.find({"status": Status.PROCESSING.value, "lease.expiresAt": {"$lt": now}})
        return [_job(document) for document in expired]

    # -- operator actions -----------------------------------------------------------
    @_serialized
    def cancel(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        update = {"$set": {"status": Status.CANCELLED.value, "finishedAt": now, "updatedAt": now}}
        return self._update_job(job_id, {"status": Status.PENDING.value}, update)

    @_serialized
    def request_cancel(self, job_id: str, *, now: datetime) -> Job | None:
        update = {"$set": {"cancelRequested": True, "updatedAt": truncate_ms(now)}}
        return self._update_job(job_id, {"status": Status.PROCESSING.value}, update)

    @_serialized
    def retry_cancelled(self, job_id: str, *, now: datetime) -> Job | None:
        now = truncate_ms(now)
        update = {
            "$set": {
                "status": Status.PENDING.value,
                "runAt": now,
                "finishedAt": None,
                "cancelRequested": False,
                "updatedAt": now,
            }
        }
        return self._update_job(job_id, {"status": Status.CANCELLED.value}, update)

    @_serialized
    def retry_now(self, job_id: str, *, now: datetime) -> Job | None:
        """See ``JobStore.retry_now``. A pending job's runAt only moves earlier ($min), so
        a job already due keeps its place in the queue."""
        now = truncate_ms(now)
        try:
            retried = self._update_job(job_id, {"status": Status.FAILED.value}, self._rerun_update(now))
        except DuplicateKeyError:  # a live job of its type holds its unique key: it stays failed
            return None
        if retried is not None:
            return retried
        hurried = {"$min": {"runAt": now}, "$set": {"updatedAt": now}}
        return self._update_job(job_id, {"status": Status.PENDING.value}, hurried)

    @staticmethod
    def _rerun_update(now: datetime) -> dict:
        """Failed → pending, due now, with one more attempt allowed; history kept."""
        return {
            "$set": {"status": Status.PENDING.value, "runAt": now, "finishedAt": None, "updatedAt": now},
            "$inc": {"retryCount": 1, "maxRetries": 1},
        }

    def _update_job(self, job_id: str, state: dict, update: dict) -> Job | None:
        """Apply ``update`` to the job if it matches ``state``; the job after, or ``None``."""
        object_id = _object_id(job_id)
        if object_id is None:
            return None
        document = self._jobs.find_one_and_update(
            {"_id": object_id, **state}, update, return_document=ReturnDocument.AFTER
        )
        return _job(document) if document else None

    @_serialized
    def retry_failed(self, *, type: str, now: datetime) -> int:
        result = self._jobs.update_many(
            {"type": type, "status": Status.FAILED.value}, self._rerun_update(truncate_ms(now))
        )
        return result.modified_count

    @_serialized
    def delete_finished(self, *, finished_before: datetime) -> int:
        result = self._jobs.delete_many(
            {"status": {"$in": FINISHED}, "finishedAt": {"$lt": truncate_ms(finished_before)}}
        )
        return result.deleted_count

    @_serialized
    def purge_finished(self, *, status: str, finished_before: datetime, limit: int) -> int:
        """See ``JobStore.purge_finished``: ids read from the ``finished`` index, then one
        ``delete_many`` re-checking the condition, so concurrent purges are harmless."""
        match = {"status": status, "finishedAt": {"$lt": truncate_ms(finished_before)}}
        ids = [doc["_id"] for doc in self._jobs.find(match, {"_id": 1}, sort=[("finishedAt", 1)], limit=limit)]
        if not ids:
            return 0
        return self._jobs.delete_many({"_id": {"$in": ids}, **match}).deleted_count

    @_serialized
    def fill_finished(self, count: int, *, finished_at: datetime, type: str) -> None:
        """See ``JobStore.fill_finished``: unordered ``insert_many`` of 10,000 documents a time."""
        at = truncate_ms(finished_at)
        for start in range(0, count, 10_000):
            documents = []
            for _ in range(min(10_000, count - start)):
                document = _new_document(NewJob(type=type, payload={}, max_retries=0), at)
                document.update(status=Status.COMPLETED.value, attemptCount=1, finishedAt=at)
                documents.append(document)
            self._jobs.insert_many(documents, ordered=False)

    # -- named queues ---------------------------------------------------------------
    @_serialized
    def pause_queue(self, name: str, *, now: datetime) -> None:
        self._paused.update_one({"name": name}, {"$setOnInsert": {"pausedAt": truncate_ms(now)}}, upsert=True)

    @_serialized
    def resume_queue(self, name: str) -> None:
        self._paused.delete_many({"name": name})

    @_serialized
    def paused_queues(self) -> set[str]:
        return {document["name"] for document in self._paused.find({}, {"_id": 0, "name": 1})}

    @_serialized
    def count_by_queue_and_status(self) -> dict[tuple[str, str], int]:
        groups = self._jobs.aggregate(
            [
                {
                    "$group": {
                        "_id": {"queue": {"$ifNull": ["$queue", DEFAULT_QUEUE]}, "status": "$status"},
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
        return {(group["_id"]["queue"], group["_id"]["status"]): group["n"] for group in groups}

    @_serialized
    def oldest_due_by_queue(self, *, now: datetime) -> dict[str, datetime]:
        groups = self._jobs.aggregate(
            [
                {"$match": _due(truncate_ms(now))},
                {"$group": {"_id": {"$ifNull": ["$queue", DEFAULT_QUEUE]}, "oldest": {"$min": "$runAt"}}},
            ]
        )
        return {group["_id"]: _utc(group["oldest"]) for group in groups}

    # -- statistics -----------------------------------------------------------------
    @_serialized
    def recently_finished(self, *, limit: int) -> list[Job]:
        jobs: list[Job] = []
        for status in FINISHED[:2]:
            found = self._jobs.find({"status": status}, sort=[("finishedAt", -1)], limit=limit)
            jobs += [_job(document) for document in found]
        jobs.sort(key=lambda job: job.finished_at, reverse=True)
        return jobs[:limit]

    @_serialized
    def count_by_type_and_status(self) -> dict[tuple[str, str], int]:
        groups = self._jobs.aggregate(
            [{"$group": {"_id": {"type": "$type", "status": "$status"}, "count": {"$sum": 1}}}]
        )
        return {(group["_id"]["type"], group["_id"]["status"]): group["count"] for group in groups}

    @_serialized
    def oldest_due_pending(self, *, now: datetime) -> datetime | None:
        document = self._jobs.find_one(_due(truncate_ms(now)), {"_id": 0, "runAt": 1}, sort=[("runAt", 1)])
        return _utc(document["runAt"]) if document else None

    @_serialized
    def count_delayed(self, *, now: datetime) -> int:
        return self._jobs.count_documents({"status": Status.PENDING.value, "runAt": {"$gt": truncate_ms(now)}})

    @_serialized
    def throughput(self, *, since: datetime, bucket_seconds: int) -> list[Throughput]:
        """See ``JobStore.throughput``: one aggregation over the attempts, bucketed by the server.

        Only jobs that can hold an attempt finished since ``since`` are unwound, each set
        found by an index: an attempt finishes before its job's ``finishedAt`` (finished
        jobs) and before its ``runAt`` (a pending job is due at or after its last attempt
        ended). Epoch milliseconds are ``finishedAt - EPOCH`` rather than ``$toLong``:
        the server gives the same number, and mongomock (which has no ``$toLong`` for
        dates) can run it too.
        """
        since = truncate_ms(since)
        bucket_ms = int(bucket_seconds * 1000)
        epoch_ms = {"$subtract": ["$attempts.finishedAt", EPOCH]}
        is_completed = {"$eq": ["$attempts.outcome", Outcome.COMPLETED.value]}
        pipeline = [
            {
                "$match": {
                    "$or": [
                        {"status": {"$in": FINISHED}, "finishedAt": {"$gte": since}},
                        {"status": Status.PENDING.value, "runAt": {"$gte": since}, "attemptCount": {"$gt": 0}},
                        {"status": Status.PROCESSING.value, "attemptCount": {"$gt": 0}},
                    ]
                }
            },
            {"$project": {"_id": 0, "attempts": 1}},
            {"$unwind": "$attempts"},
            {"$match": {"attempts.finishedAt": {"$gte": since}, "attempts.outcome": {"$nin": NOT_COUNTED}}},
            {
                "$group": {
                    "_id": {"$subtract": [epoch_ms, {"$mod": [epoch_ms, bucket_ms]}]},
                    "completed": {"$sum": {"$cond": [is_completed, 1, 0]}},
                    "failed": {"$sum": {"$cond": [is_completed, 0, 1]}},
                }
            },
            {"$sort": {"_id": 1}},
        ]
        return [
            Throughput(
                start=datetime.fromtimestamp(int(bucket["_id"]) / 1000, UTC),
                completed=bucket["completed"],
                failed=bucket["failed"],
            )
            for bucket in self._jobs.aggregate(pipeline)
        ]

    # -- worker-pool registry -------------------------------------------------------
    @_serialized
    def register_pool(self, pool: PoolInfo) -> None:
        self._pools.replace_one({"poolId": pool.id}, _pool_document(pool), upsert=True)

    @_serialized
    def heartbeat_pool(self, pool_id: str, *, running: int, now: datetime) -> None:
        self._pools.update_one({"poolId": pool_id}, {"$set": {"running": running, "heartbeatAt": truncate_ms(now)}})

    @_serialized
    def unregister_pool(self, pool_id: str) -> None:
        self._pools.delete_one({"poolId": pool_id})

    @_serialized
    def live_pools(self, *, heartbeat_since: datetime) -> list[PoolInfo]:
        documents = self._pools.find(
            {"heartbeatAt": {"$gte": truncate_ms(heartbeat_since)}, "poolId": {"$exists": True}},
            sort=[("startedAt", 1), ("poolId", 1)],
        )
        return [_pool(document) for document in documents]

    # -- push wake-ups --------------------------------------------------------------
    def watch_inserts(self, callback: Callable[[], None], stop_event: threading.Event) -> bool:
        """Call ``callback()`` for each job inserted, until ``stop_event`` is set.

        Returns ``True`` once stopped by ``stop_event``, and ``False`` at once when the
        server cannot stream changes at all (a standalone server; a client without
        ``watch``, like the tests' in-memory fake), so the
        caller polls instead. Raises ``StoreUnavailable`` when the server cannot be
        reached or the stream breaks: the caller may watch again later. Not serialized:
        it blocks.
        """
        if not hasattr(type(self._jobs), "watch"):
            logger.info("%s: the client cannot watch changes; workers poll for new jobs", self.describe())
            return False
        try:
            stream = self._jobs.watch(
                [{"$match": {"operationType": "insert"}}, {"$project": {"_id": 1}}],
                max_await_time_ms=WATCH_MAX_AWAIT_MS,
            )
        except OperationFailure as error:
            # 40573 on a standalone server: change streams need a replica set.
            logger.info("%s: no change streams (%s); workers poll for new jobs", self.describe(), _reason(error))
            return False
        except PyMongoError as error:
            raise StoreUnavailable(f"cannot watch {self.describe()} for new jobs: {_reason(error)}") from None
        logger.info("%s: workers wake on inserts through a change stream", self.describe())
        with stream:
            while not stop_event.is_set():
                try:
                    change = stream.try_next()
                except PyMongoError as error:
                    raise StoreUnavailable(f"change stream on {self.describe()} broke: {_reason(error)}") from None
                if change is not None:
                    callback()
        return True

    # -- periodic schedules ---------------------------------------------------------------
    @_serialized
    def insert_schedule(self, schedule: Schedule) -> bool:
        try:
            self._schedules.insert_one(_schedule_document(schedule))
        except DuplicateKeyError:
            return False
        return True

    @_serialized
    def replace_schedule(self, schedule: Schedule) -> bool:
        document = _schedule_document(schedule)
        return self._schedules.update_one({"name": schedule.name}, {"$set": document}).matched_count == 1

    @_serialized
    def get_schedule(self, name: str) -> Schedule | None:
        document = self._schedules.find_one({"name": name})
        return _schedule(document) if document else None

    @_serialized
    def list_schedules(self) -> list[Schedule]:
        return [_schedule(document) for document in self._schedules.find({}).sort("name", pymongo.ASCENDING)]

    @_serialized
    def delete_schedule(self, name: str) -> bool:
        return self._schedules.delete_one({"name": name}).deleted_count == 1

    @_serialized
    def advance_schedule(
        self, name: str, *, expected_next_run: datetime, next_run: datetime, last_run: datetime
    ) -> bool:
        moved = self._schedules.update_one(
            {"name": name, "nextRunAt": truncate_ms(expected_next_run)},
            {"$set": {"nextRunAt": truncate_ms(next_run), "lastRunAt": truncate_ms(last_run)}},
        )
        return moved.modified_count == 1
