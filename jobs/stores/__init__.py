"""Which job store serves this process.

``get_store()`` builds it once from settings: the MongoDB store when ``MONGODB_URI`` is
set, else the embedded SQL store on Django's database. Tests swap it with ``use_store``.
"""

import logging
import threading

from django.conf import settings

from jobs.stores.base import JobStore, ListCursor, StoreUnavailable

__all__ = ["JobStore", "ListCursor", "StoreUnavailable", "build_store", "get_store", "use_store"]

logger = logging.getLogger(__name__)

_store: JobStore | None = None
_store_lock = threading.Lock()


def build_store() -> JobStore:
    """A new store as configured by settings (not yet checked for reachability)."""
    if settings.MONGODB_URI:
        from jobs.stores.mongo import MongoJobStore

        return MongoJobStore.from_uri(settings.MONGODB_URI, timeout_seconds=settings.MONGODB_TIMEOUT_SECONDS)
    from jobs.stores.sql import SqlJobStore

    return SqlJobStore()


def get_store() -> JobStore:
    """The process's job store, built and made ready on first use."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                store = build_store()
                store.ensure_ready()
                logger.info("job store: %s", store.describe())
                _store = store
    return _store


def use_store(store: JobStore | None) -> JobStore | None:
    """Make ``store`` the process's store (``None``: build from settings on next use).

    Returns the store it replaced, so tests and forked children can put it back.
    """
    global _store
    with _store_lock:
        previous, _store = _store, store
    return previous
