"""Driver errors as the store's own: every public operation runs under ``serialized``,
so callers see ``StoreUnavailable`` or ``StoreRejectedValue`` and never need pymongo."""

from __future__ import annotations

import functools

from pymongo.errors import ConnectionFailure, PyMongoError

from jobs.stores.base import JobStore, StoreRejectedValue, StoreUnavailable


def reason(error: Exception, *, secret: str | None = None) -> str:
    """The useful part of a driver error: its first line, without the topology dump."""
    lines = str(error).splitlines()
    text = lines[0].split(", Timeout: ")[0] if lines else type(error).__name__
    return text.replace(secret, "***") if secret else text


def serialized(method):
    """Run a public operation inside the store's ``operation_guard``, and report driver
    errors as the store's own (see ``translated``) so callers need not know pymongo."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.operation_guard:
            try:
                return method(self, *args, **kwargs)
            except (OverflowError, PyMongoError) as error:
                raise translated(self, error) from error

    return run


def translated(store: JobStore, error: Exception) -> Exception:
    """An integer BSON cannot hold is bad input (nothing was sent); any other driver error
    (lost connection, timeout, write-concern timeout, a refused command) is an outage
    the caller may retry."""
    if isinstance(error, OverflowError):
        return StoreRejectedValue(f"MongoDB cannot store this value: {error}")
    if isinstance(error, ConnectionFailure):
        return StoreUnavailable(f"lost connection to {store.describe()}: {reason(error)}")
    return StoreUnavailable(f"{store.describe()} failed: {reason(error)}")
