"""The MongoDB job store: jobs in the ``jobs`` collection, worker pools in ``worker_pools``.

This package is the only code that imports pymongo or bson; ``JOBQUEUE_STORE`` names
``jobs.stores.mongo.MongoJobStore``, so nothing imports it unless MongoDB is chosen.
Documents use the camelCase fields of the job document in docs/ARCHITECTURE.md
(``documents``). ``MongoJobStore`` (``store``) is made of one part per concern on a
shared connection (``connection``): enqueue and read, claims, held jobs, operator
actions, retention, named queues, statistics, the pool registry, schedules and the
change-stream watch.

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

from jobs.stores.mongo.store import MongoJobStore
from jobs.stores.mongo.uri import redact_uri

__all__ = ["MongoJobStore", "redact_uri"]
