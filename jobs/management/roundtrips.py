"""Round trips counted where the database drivers send them, for ``benchqueue`` and tests.

Nothing in the service imports this: it hooks the drivers only while a benchmark or a
test asks it to, so the stores' hot paths carry no bookkeeping of their own.

What one count is, per database:

* **SQLite**: one SQL statement SQLite ran, seen by the sqlite3 module's
  ``set_trace_callback`` on the raw connection. That sees every path alike: Django's
  cursor, the SQL store's raw-cursor fast path, ``executemany`` (one count *per row*,
  since SQLite runs the statement once per row), and transaction control: ``BEGIN``,
  ``COMMIT``, ``ROLLBACK``, ``SAVEPOINT`` and ``RELEASE`` are counted like any statement.
  The pragmas Django runs while opening a connection come before the hook and are not.
* **Other SQL databases (PostgreSQL)**: one ``execute``/``executemany`` call through
  Django's cursor, seen by ``connection.execute_wrapper``. Transaction control that
  Django sends as SQL (savepoints) is counted; the ``BEGIN`` the driver adds on its own
  and ``COMMIT``/``ROLLBACK`` through ``connection.commit()`` are *not* (Django does not
  route them through its cursor), so these figures are a floor.
* **MongoDB**: one command the driver started (``insert``, ``update``, ``find``,
  ``getMore``, ``findAndModify``, ...), seen by a ``pymongo.monitoring.CommandListener``
  on the store's client. A bulk write split into several batches counts each batch.
  mongomock is not a driver and fires no events: it cannot be measured this way.

Counts are kept per *phase*: the store methods named in ``attribute_methods`` count in
their own phase, in whatever thread runs them; everything else counts in the counter's
current ``phase``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from contextlib import contextmanager, suppress

from django.db import connections
from django.db.backends.signals import connection_created

OTHER = "other"


class RoundTripCounter:
    """Statements or commands, by phase and by kind (``SELECT``, ``COMMIT``, ``update``...)."""

    def __init__(self):
        self.phase = OTHER
        self._counts: dict[str, Counter] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def record(self, kind: str) -> None:
        """Count one statement or command of ``kind`` in the calling thread's phase."""
        phase = getattr(self._local, "phase", None) or self.phase
        with self._lock:
            self._counts.setdefault(phase, Counter())[kind] += 1

    def total(self, phase: str | None = None) -> int:
        """Everything counted in ``phase`` (every phase when ``None``)."""
        with self._lock:
            counters = [self._counts.get(phase, Counter())] if phase else list(self._counts.values())
            return sum(sum(counter.values()) for counter in counters)

    def by_kind(self, phase: str | None = None) -> Counter:
        """How many of each kind were counted in ``phase`` (every phase when ``None``)."""
        with self._lock:
            counters = [self._counts.get(phase, Counter())] if phase else list(self._counts.values())
            return sum(counters, Counter())

    @contextmanager
    def in_phase(self, phase: str):
        """Count what the calling thread sends inside the block in ``phase``."""
        previous = getattr(self._local, "phase", None)
        self._local.phase = phase
        try:
            yield
        finally:
            self._local.phase = previous

    @contextmanager
    def attribute_methods(self, store, phases: dict[str, str]):
        """While active, each store method named in ``phases`` counts in its phase
        (wraps them on the instance, and puts back exactly what was there before)."""
        missing = object()
        before = {name: store.__dict__.get(name, missing) for name in phases}
        for name, phase in phases.items():
            setattr(store, name, self._in_phase_of(getattr(store, name), phase))
        try:
            yield self
        finally:
            for name, previous in before.items():
                if previous is missing:
                    store.__dict__.pop(name, None)
                else:
                    setattr(store, name, previous)

    def _in_phase_of(self, method, phase: str):
        def counted(*args, **kwargs):
            with self.in_phase(phase):
                return method(*args, **kwargs)

        return counted


def _statement_kind(sql: str) -> str:
    words = sql.split(None, 1)
    return words[0].upper() if words else ""


class SqlStatements:
    """Counts the statements Django's connection ``using`` sends, in every thread
    (see the module docstring for what one count is on SQLite and elsewhere).

    Hooks the connection already open in the calling thread, and every connection opened
    (in any thread) while active, through Django's ``connection_created`` signal.
    Connections other threads opened before ``start`` are not seen.
    """

    def __init__(self, counter: RoundTripCounter, using: str = "default"):
        self.counter = counter
        self.using = using
        self._active = False
        self._hooked: list = []  # the raw sqlite3 connections or Django wrappers hooked

    @property
    def unit(self) -> str:
        """What one count is, in a few words, for printing beside the figures."""
        if connections[self.using].vendor == "sqlite":
            return "SQLite statements, BEGIN and COMMIT included"
        # A worker's turn sends its BEGIN and COMMIT through the cursor (``jobs.stores.sql.pipeline``).
        return "statements through Django's cursor, a worker turn's BEGIN and COMMIT included; the driver's not seen"

    def __enter__(self):
        self._active = True
        connection_created.connect(self._on_connection_created, weak=False)
        connection = connections[self.using]
        if connection.connection is not None:
            self._hook(connection)
        return self

    def __exit__(self, *exc_info):
        self._active = False
        connection_created.disconnect(self._on_connection_created)
        for hooked in self._hooked:
            if isinstance(hooked, sqlite3.Connection):
                with suppress(sqlite3.ProgrammingError):  # closed since: nothing left to unhook
                    hooked.set_trace_callback(None)
            elif self._wrapper in hooked.execute_wrappers:
                hooked.execute_wrappers.remove(self._wrapper)
        self._hooked.clear()

    def _on_connection_created(self, sender, connection, **kwargs):
        if connection.alias == self.using:
            self._hook(connection)

    def _hook(self, connection) -> None:
        if connection.vendor == "sqlite":
            raw = connection.connection
            raw.set_trace_callback(self._traced)
            self._hooked.append(raw)
        elif self._wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.append(self._wrapper)
            self._hooked.append(connection)

    def _traced(self, sql: str) -> None:
        # Statements a trigger runs arrive as "-- TRIGGER ..." comments: part of their statement.
        if self._active and not sql.startswith("--"):
            self.counter.record(_statement_kind(sql))

    def _wrapper(self, execute, sql, params, many, context):
        if self._active:
            self.counter.record(_statement_kind(sql))
        return execute(sql, params, many, context)


class MongoCommands:
    """A pymongo ``CommandListener`` factory: pass ``listener()`` as one of the client's
    ``event_listeners``; every command started on that client while this is active (inside
    ``with``) is counted by name. A client's listeners are fixed when it is made, so the
    listener stays and counts nothing outside the block."""

    #: What one count is, in a few words, for printing beside the figures.
    unit = "MongoDB commands the driver started"

    def __init__(self, counter: RoundTripCounter):
        self.counter = counter
        self._active = False

    def __enter__(self):
        self._active = True
        return self

    def __exit__(self, *exc_info):
        self._active = False

    def listener(self):
        """A listener for ``MongoClient(event_listeners=[...])``."""
        # Imported here: only a MongoDB measurement needs the driver.
        from pymongo import monitoring

        commands = self

        class CommandCounter(monitoring.CommandListener):
            def started(self, event):
                if commands._active:
                    commands.counter.record(event.command_name)

            def succeeded(self, event):
                pass

            def failed(self, event):
                pass

        return CommandCounter()
