"""Which job store serves this process.

The ``JOBQUEUE_STORE`` setting chooses it the way ``DATABASES`` and ``CACHES`` choose
Django's backends: ``{"BACKEND": "<dotted path of a JobStore class>", "OPTIONS": {...}}``.
``get_store()`` imports that class by its path and builds it once with
``from_options(**OPTIONS)``, so a new store is a new module named in the setting, with no
change here or in the other stores. Tests swap the store with ``use_store``.
"""

import logging
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from jobs.stores.base import JobStore
from jobs.stores.errors import StoreRejectedValue, StoreUnavailable
from jobs.stores.values import ListCursor, Renewal

__all__ = [
    "JobStore",
    "ListCursor",
    "Renewal",
    "StoreRejectedValue",
    "StoreUnavailable",
    "build_store",
    "get_store",
    "store_backend",
    "use_store",
]

logger = logging.getLogger(__name__)

_store: JobStore | None = None
_store_lock = threading.Lock()


def store_backend(config: dict | None = None) -> type[JobStore]:
    """The ``JobStore`` class named by ``config["BACKEND"]`` (default: ``JOBQUEUE_STORE``).

    Raises ``ImproperlyConfigured`` naming the path when it cannot be imported or is not
    a ``JobStore``.
    """
    config = settings.JOBQUEUE_STORE if config is None else config
    path = config.get("BACKEND", "")
    try:
        backend = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"JOBQUEUE_STORE BACKEND {path!r} cannot be imported: {error}") from error
    if not (isinstance(backend, type) and issubclass(backend, JobStore)):
        raise ImproperlyConfigured(f"JOBQUEUE_STORE BACKEND {path!r} is not a JobStore class")
    return backend


def build_store(config: dict | None = None) -> JobStore:
    """A new store as ``config`` (default: the ``JOBQUEUE_STORE`` setting) describes it,
    not yet checked for reachability."""
    config = settings.JOBQUEUE_STORE if config is None else config
    return store_backend(config).from_options(**config.get("OPTIONS", {}))


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
