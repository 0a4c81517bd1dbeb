"""What every part of the MongoDB store shares: the client, the database and its
collections, building all that from a URI with durable writes, naming the server in
messages without a password, and making the database ready (ping, indexes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Self

import pymongo
from pymongo import WriteConcern
from pymongo.errors import PyMongoError

from jobs.stores.base import JobStore, StoreUnavailable
from jobs.stores.mongo.errors import reason, serialized
from jobs.stores.mongo.indexes import create_indexes
from jobs.stores.mongo.uri import hosts_in, password_in, redact_uri

logger = logging.getLogger(__name__)

JOBS_COLLECTION = "jobs"
POOLS_COLLECTION = "worker_pools"
PAUSED_QUEUES_COLLECTION = "paused_queues"
SCHEDULES_COLLECTION = "schedules"
DEFAULT_DATABASE = "jobqueue"


def _durable_write_concern(chosen: WriteConcern, timeout_ms: int | None = None) -> WriteConcern | None:
    """Majority, journaled writes, unless the URI chose its own ``w``/``journal``/``fsync``;
    waiting for the majority at most ``timeout_ms`` unless the URI says ``wtimeoutMS``.

    An acknowledged job must survive a crash or a failover (docs/ARCHITECTURE.md, invariants).
    """
    if {"w", "j", "fsync"} & chosen.document.keys():
        return None
    return WriteConcern(w="majority", j=True, wtimeout=chosen.document.get("wtimeout", timeout_ms))


class MongoConnection(JobStore):
    """The database a MongoDB store works on; every part of ``MongoJobStore`` extends it."""

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
    def from_options(cls, **options) -> Self:
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
    ) -> Self:
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
            raise StoreUnavailable(
                f"invalid MongoDB URI {redact_uri(uri)}: {reason(error, secret=password_in(uri))}"
            ) from None
        name = database_name or client.get_default_database(DEFAULT_DATABASE).name
        write_concern = _durable_write_concern(client.write_concern, operation_ms)
        logger.debug("MongoDB write concern: %s", (write_concern or client.write_concern).document)
        return cls(client, name, write_concern=write_concern, timeout_seconds=timeout_seconds, uri=uri)

    @property
    def database_name(self) -> str:
        return self._database.name

    def describe(self) -> str:
        """e.g. ``MongoDB at db:27017, database jobqueue``; never a password."""
        return f"MongoDB at {self._where()}, database {self.database_name}"

    def _where(self) -> str:
        if self._safe_uri:
            return hosts_in(self._safe_uri)
        seeds = self._client.topology_description.server_descriptions()
        return ",".join(f"{host}:{port}" for host, port in seeds)

    @serialized
    def ensure_ready(self) -> None:
        """Ping the server, then create the indexes (idempotent: existing ones are kept).

        Raises ``StoreUnavailable`` naming the redacted URI within ``timeout_seconds``.
        """
        location = self._safe_uri or self.describe()
        try:
            with pymongo.timeout(self._timeout_seconds):
                self._client.admin.command("ping")
        except PyMongoError as error:
            raise StoreUnavailable(f"cannot reach MongoDB at {location}: {reason(error)}") from error
        try:
            create_indexes(self._jobs, self._pools, self._paused, self._schedules)
        except PyMongoError as error:
            raise StoreUnavailable(f"cannot create indexes on MongoDB at {location}: {reason(error)}") from error

    def close(self) -> None:
        """Close the client's connections; the store is unusable afterwards."""
        self._client.close()

    def drop_database(self) -> None:
        """Drop this store's database (tests against a real server clean up with it)."""
        self._client.drop_database(self.database_name)
