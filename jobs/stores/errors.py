"""What a store raises instead of a driver's error, and the class decorator that makes
every store method do so, whichever database is behind it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.stores.base import JobStore


class StoreUnavailable(Exception):
    """The store's database cannot be reached, is locked or answered too slowly; the
    message says where, without secrets. The operation changed nothing, or (a MongoDB
    write-concern timeout) may have been applied but was not confirmed durable."""


class StoreRejectedValue(ValueError):
    """The database cannot represent a value it was given (an integer over 8 bytes in
    MongoDB): bad input, not an outage. Nothing was written."""


def translate_errors(translate: Callable[[JobStore, Exception], Exception | None]):
    """Class decorator: every public method of the store (inherited ones included) hands
    an exception to ``translate(store, error)`` and raises what it returns instead, so
    callers see only ``StoreUnavailable``/``StoreRejectedValue``, never a driver's error.
    ``translate`` returns ``None`` for an error it leaves alone."""

    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (StoreUnavailable, StoreRejectedValue):
                raise
            except Exception as error:
                translated = translate(self, error)
                if translated is None:
                    raise
                raise translated from error

        return run

    def decorate(cls):
        public = {
            name
            for klass in cls.__mro__[:-1]  # object's methods stay as they are
            for name, member in vars(klass).items()
            if not name.startswith("_") and inspect.isfunction(member)
        }
        for name in public:
            setattr(cls, name, wrap(getattr(cls, name)))
        return cls

    return decorate
