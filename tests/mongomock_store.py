"""The MongoDB store on mongomock, an in-memory MongoDB: the tests' and ``benchqueue
--store mongomock``'s stand-in for a server. Test-only; production code never imports it.
"""

import threading

import mongomock

from jobs.stores.mongo import MongoJobStore
from tests.mongomock_compat import allow_bulk_updates, keep_partial_indexes

# mongomock reads and writes plain Python structures without locking, so a claim in one
# thread could interleave with another's. One lock for the whole process, not one per
# store, because tests build several stores on one mongomock client to play several
# processes.
_MONGOMOCK_LOCK = threading.RLock()


class MongomockJobStore(MongoJobStore):
    """``MongoJobStore`` on a mongomock client, each operation under one process-wide lock."""

    operation_guard = _MONGOMOCK_LOCK

    def __init__(self, database_name: str = "jobqueue_test", client: mongomock.MongoClient | None = None):
        allow_bulk_updates()
        keep_partial_indexes()
        super().__init__(client or mongomock.MongoClient(), database_name)

    def _where(self) -> str:
        return "mongomock (in memory)"
