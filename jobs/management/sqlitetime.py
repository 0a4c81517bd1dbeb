"""``benchqueue`` on SQLite: how much of an enqueue's CPU is SQLite's and how much is the
Python around it.

The split is measured on a pass of its own, after the timed ones (as the round trips
are): while it runs, this process's connections are ``sqlite3.Connection`` subclasses
that add up the calling thread's CPU time inside every call into the sqlite3 module
(statements, fetches, commits and rollbacks). The rest of the enqueue loop's CPU is the
Python around those calls: ours, Django's and the driver's argument handling. CPU time,
not wall time, so neither an fsync's wait nor another process's turn on the CPU counts.
The timer's own cost (two clock reads per call) falls on both sides.

``bench/peer_huey.py`` splits Huey's enqueue with the same class (``connection_class``),
in the peers' environment: so this module imports Django only where it reopens Django's
connection.
"""

import functools
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

_TIMED_CONNECTION_METHODS = ("execute", "executemany", "executescript", "commit", "rollback")
_TIMED_CURSOR_METHODS = ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall")


class SqliteCallTimer:
    """Adds up the CPU time the calling threads spend inside sqlite3 calls, on the
    connections of Django's database ``using`` opened while ``installed`` (or on any
    connection made with ``connection_class``)."""

    def __init__(self, using: str = "default"):
        self.using = using
        self.seconds = 0.0

    def _timed(self, method: Callable) -> Callable:
        timer = self

        @functools.wraps(method)
        def call(*args, **kwargs):
            started = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                timer.seconds += time.thread_time() - started

        return call

    def connection_class(self) -> type[sqlite3.Connection]:
        """A ``sqlite3.Connection`` subclass (``sqlite3.connect(factory=...)``) whose calls,
        and its cursors' (of any cursor factory), add to ``seconds``."""
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
        from django.db import connections  # here, not above: Huey's peer uses the class without Django

        connection = connections[self.using]
        if connection.vendor != "sqlite":
            raise ValueError("SqliteCallTimer times SQLite connections only")
        options = connection.settings_dict["OPTIONS"]
        connection.close()
        options["factory"] = self.connection_class()
        try:
            yield self
        finally:
            connection.close()
            del options["factory"]


@dataclass(frozen=True)
class EnqueueSplit:
    """Per enqueued job: the loop's CPU time, and the part of it inside SQLite's calls."""

    cpu_us: float
    sqlite_us: float

    @property
    def python_us(self) -> float:
        """The CPU outside SQLite's calls: the Python around them."""
        return self.cpu_us - self.sqlite_us

    def describe(self) -> str:
        return (
            f"{self.cpu_us:.0f} µs of CPU per enqueue on a pass of its own: {self.sqlite_us:.0f} µs inside "
            f"SQLite's calls (statements and commits), {self.python_us:.0f} µs outside them (the Python: ours, "
            "Django's, the driver's)"
        )


def measure_enqueue_split(enqueue: Callable[[], None], count: int, timer: SqliteCallTimer) -> EnqueueSplit:
    """Run ``enqueue``, which enqueues ``count`` jobs from this thread on connections
    ``timer`` times, and split the thread's CPU time per job."""
    timer.seconds = 0.0
    started = time.thread_time()
    enqueue()
    cpu = time.thread_time() - started
    return EnqueueSplit(cpu_us=cpu / count * 1e6, sqlite_us=timer.seconds / count * 1e6)
