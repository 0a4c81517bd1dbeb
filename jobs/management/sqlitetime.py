"""``benchqueue`` on SQLite: how much of an enqueue is SQLite's work and how much is ours.

The split is measured on a pass of its own, after the timed ones (as the round trips
are): while it runs, this process's connections are ``sqlite3.Connection`` subclasses
that time every call into the sqlite3 module (statements, fetches, commits and
rollbacks). What the enqueue loop spends outside those calls is the Python around them:
ours, Django's and the driver's argument handling. The timer's own cost, two clock
reads per call, falls on both sides.
"""

import functools
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections

_TIMED_CONNECTION_METHODS = ("execute", "executemany", "executescript", "commit", "rollback")
_TIMED_CURSOR_METHODS = ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall")


class SqliteCallTimer:
    """Adds up the wall time spent inside sqlite3 calls on the connections of database
    ``using`` opened while ``installed``."""

    def __init__(self, using: str = "default"):
        self.using = using
        self.seconds = 0.0

    def _timed(self, method: Callable) -> Callable:
        timer = self

        @functools.wraps(method)
        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - started

        return call

    def _connection_class(self) -> type[sqlite3.Connection]:
        timed = {name: self._timed(getattr(sqlite3.Connection, name)) for name in _TIMED_CONNECTION_METHODS}
        cursor_class = functools.cache(self._cursor_class)

        def cursor(connection, factory=sqlite3.Cursor):
            return sqlite3.Connection.cursor(connection, cursor_class(factory))

        return type("TimedConnection", (sqlite3.Connection,), {**timed, "cursor": cursor})

    def _cursor_class(self, factory: type[sqlite3.Cursor]) -> type[sqlite3.Cursor]:
        # Connection.execute runs its statement in C, not through the cursor's execute: no
        # call is counted twice.
        timed = {name: self._timed(getattr(factory, name)) for name in _TIMED_CURSOR_METHODS}
        return type(f"Timed{factory.__name__}", (factory,), timed)

    @contextmanager
    def installed(self):
        """Reopen this thread's connection through the timed class, and every connection
        opened meanwhile; close it again at the end, so later ones are plain again."""
        connection = connections[self.using]
        if connection.vendor != "sqlite":
            raise ValueError("SqliteCallTimer times SQLite connections only")
        options = connection.settings_dict["OPTIONS"]
        connection.close()
        options["factory"] = self._connection_class()
        try:
            yield self
        finally:
            connection.close()
            del options["factory"]


@dataclass(frozen=True)
class EnqueueSplit:
    """Per enqueued job: the wall time of the loop, and the part inside SQLite's calls."""

    wall_us: float
    sqlite_us: float

    @property
    def rest_us(self) -> float:
        return self.wall_us - self.sqlite_us

    def describe(self) -> str:
        return (
            f"{self.wall_us:.0f} µs per enqueue on a pass of its own: {self.sqlite_us:.0f} µs inside SQLite's "
            f"calls (statements, fetches, commits: SQLite's work and its fsync), {self.rest_us:.0f} µs outside "
            "them (the Python: ours, Django's, the driver's)"
        )


def measure_enqueue_split(enqueue: Callable[[], None], count: int, using: str = "default") -> EnqueueSplit:
    """Run ``enqueue`` (which enqueues ``count`` jobs from this thread) with SQLite's calls
    timed, and split its wall time per job."""
    timer = SqliteCallTimer(using)
    with timer.installed():
        started = time.perf_counter()
        enqueue()
        wall = time.perf_counter() - started
    return EnqueueSplit(wall_us=wall / count * 1e6, sqlite_us=timer.seconds / count * 1e6)
