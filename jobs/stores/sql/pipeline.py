"""One transaction in few round trips on PostgreSQL: psycopg's pipeline mode.

A worker turn records a batch of results and claims the next jobs in one transaction.
Sent one by one, that is four round trips (``BEGIN``, the record, the claim, ``COMMIT``),
each a wait for the server and, on a busy machine, for the scheduler. In pipeline mode
the ``BEGIN`` and the record are queued and travel with the claim, whose rows the
dispatcher needs at once; the ``COMMIT`` goes with the pipeline's closing sync: two round
trips, and still one durable commit.

``BEGIN`` and ``COMMIT`` are sent as statements through Django's cursor (so they are
seen, and counted, like any other) while the connection stays in autocommit: psycopg
would otherwise follow its own ``BEGIN`` with a sync, a round trip of its own. Django
therefore does not know of this transaction; code inside it must not open an ``atomic``
block (``in_pipelined_transaction`` tells the store's own code).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

from django.db import DatabaseError, Error

_state = threading.local()


def in_pipelined_transaction(connection) -> bool:
    """Whether this thread runs inside ``pipelined_transaction`` on ``connection``."""
    return getattr(_state, "connection", None) is connection


def wait_for_results(connection) -> None:
    """Inside ``pipelined_transaction``: send what is queued and wait for every result
    (one round trip), so a statement's rows, description and row count are known."""
    with connection.wrap_database_errors:
        _state.pipeline.sync()


@contextlib.contextmanager
def pipelined_transaction(connection) -> Iterator[None]:
    """A transaction on ``connection`` (Django's PostgreSQL wrapper, in autocommit and
    outside any ``atomic`` block) whose statements are pipelined: committed when the block
    exits normally, rolled back when it raises. Raises Django's ``DatabaseError`` when the
    commit failed or the server rolled the transaction back instead."""
    connection.ensure_connection()
    raw = connection.connection
    try:
        with connection.wrap_database_errors, raw.pipeline() as pipeline:
            _state.connection, _state.pipeline = connection, pipeline
            with connection.cursor() as cursor:
                cursor.execute("BEGIN")
            yield
            commit = connection.cursor()
            commit.execute("COMMIT")
        # A transaction that failed earlier answers COMMIT with ROLLBACK, and no error.
        outcome = commit.cursor.statusmessage
        commit.close()
        if outcome != "COMMIT":
            raise DatabaseError(f"the transaction was rolled back (the server answered {outcome})")
    except BaseException:
        _roll_back(connection)
        raise
    finally:
        _state.connection = _state.pipeline = None


def _roll_back(connection) -> None:
    """End a failed pipelined transaction; a connection that cannot is closed (Django
    opens a new one on next use), as Django's ``atomic`` does."""
    _state.connection = _state.pipeline = None
    try:
        if not connection.is_usable():
            raise DatabaseError("connection lost")
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK")
    except Error:
        connection.close()


class ReturnedLater(Sequence):
    """The rows of a statement queued in a pipeline, fetched on first use: by then a later
    statement's wait (or the commit) has usually brought them, at no round trip of their own."""

    def __init__(self, cursor, convert):
        self._cursor, self._convert, self._value = cursor, convert, None

    def _resolved(self):
        if self._value is None:
            try:
                self._value = self._convert(self._cursor.fetchall())
            finally:
                self._cursor.close()
        return self._value

    def __getitem__(self, index):
        return self._resolved()[index]

    def __len__(self) -> int:
        return len(self._resolved())
