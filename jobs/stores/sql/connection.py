"""The store's database connection: which databases it runs on, running one statement,
adapting values for the driver, transactions, and a locked database as an outage.

Durability and concurrency come from the connection settings (``jobqueue.settings``):
WAL with ``synchronous=FULL`` and ``BEGIN IMMEDIATE`` transactions with a busy timeout,
queued for the writer lock of ``jobqueue.db.sqlite3``, so several processes share the
file safely and take turns writing it. Supported: SQLite ≥ 3.35 and PostgreSQL
(both have ``UPDATE … RETURNING``); other databases are refused at start.

``SqlConnection`` is the base of every part of ``SqlJobStore`` (``store.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import DatabaseError, OperationalError, connections, transaction

from jobs.models import JobRecord
from jobs.stores.base import JobStore, StoreUnavailable
from jobs.stores.sql.pipeline import ReturnedLater, in_pipelined_transaction, pipelined_transaction, wait_for_results
from jobs.stores.sql.prepared import prepared_cursor, prepares_statements
from jobs.stores.sql.rows import encode_json
from jobs.stores.sql.statements import TABLE

# What the store needs: UPDATE … RETURNING (SQLite 3.35) and the claim statement.
SUPPORTED_VENDORS = ("sqlite", "postgresql")
MINIMUM_SQLITE = (3, 35)


@functools.cache
def _qmark(sql: str) -> str:
    """``sql`` with Django's ``%s`` placeholders as SQLite's ``?``, converted once per text
    (Django's SQLite cursor runs this regex on every call)."""
    return _FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")


_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")


def _execute_on_sqlite(connection, sql: str, params: Sequence) -> list[tuple]:
    """What ``connection.cursor().execute()`` does on SQLite, minus a wrapper object and a
    regex per call: the same sqlite3 connection (so the same transaction), the same error
    translation (``wrap_database_errors`` raises Django's exceptions and marks the
    connection), skipped only when queries are being logged (DEBUG, test captures).

    ``connection`` must be this thread's own (``SqlConnection._connection``), so Django's
    check that a connection is not used from another thread, which takes a lock, is not
    repeated. ``ensure_connection`` is called only when it has work to do or an error to
    raise (no connection yet, or an event loop running in this thread): its guard against
    async callers looks the loop up by catching an exception, a microsecond a call."""
    connection.close_if_health_check_failed()
    if connection.connection is None or asyncio.events._get_running_loop() is not None:
        connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        cursor = connection.connection.execute(_qmark(sql), params)
        if cursor.description is None:
            return [(cursor.rowcount,)]
        return cursor.fetchall()


def as_unavailable(store: SqlConnection, error: Exception) -> Exception | None:
    """A locked (busy past ``JOBQUEUE_STORE_TIMEOUT``) or unreachable database is an
    outage the caller may retry; the transaction was rolled back, so nothing was written."""
    if isinstance(error, OperationalError):
        return StoreUnavailable(f"{store.describe()} is locked or unreachable: {error}")
    return None


class SqlConnection(JobStore):
    """The connection plumbing every part of the SQL store shares (``using`` names the
    Django database alias)."""

    def __init__(self, using: str = "default"):
        super().__init__()
        self.using = using
        # The last datetime ``_dt`` turned into SQLite text, and the text: see ``_dt``.
        self._last_text: tuple[datetime | None, str] = (None, "")
        self._per_thread = threading.local()

    @property
    def _connection(self):
        """This thread's Django connection of ``using``: ``connections[using]``, looked up
        once per thread. Django keeps one wrapper per alias and thread for the thread's life
        (a live server's override is set when its thread starts, before any request), and
        each lookup goes through asgiref's ``Local``, an event-loop check included: 3 to 4
        µs, a twentieth of an enqueue. Closing the connection keeps the wrapper, which
        reconnects."""
        try:
            return self._per_thread.connection
        except AttributeError:
            connection = self._per_thread.connection = connections[self.using]
            return connection

    def _execute(self, sql: str, params: Sequence = (), *, prepared: bool = False) -> list[tuple]:
        """Run one statement (one round trip); its rows, if it returns any. ``prepared``:
        a hot-path text, prepared on PostgreSQL (``prepared.py``)."""
        connection = self._connection
        if connection.vendor == "sqlite" and not connection.queries_logged:
            return _execute_on_sqlite(connection, sql, params)
        with self._cursor(prepared) as cursor:
            cursor.execute(sql, params)
            if in_pipelined_transaction(connection):
                wait_for_results(connection)
            if cursor.description is None:
                return [(cursor.rowcount,)]
            return cursor.fetchall()

    def _cursor(self, prepared: bool):
        connection = self._connection
        if prepared and connection.vendor == "postgresql" and self._prepares_statements:
            return prepared_cursor(connection)
        return connection.cursor()

    def _execute_later(self, sql: str, params: Sequence, convert, *, prepared: bool = False) -> Sequence:
        """Run one statement that returns rows; ``convert(rows)``. Inside a pipelined
        transaction (PostgreSQL's ``one_transaction``) the statement is only queued and its
        rows are fetched when first used, usually brought by the next statement's round trip."""
        connection = self._connection
        if not in_pipelined_transaction(connection):
            return convert(self._execute(sql, params, prepared=prepared))
        cursor = self._cursor(prepared)
        cursor.execute(sql, params)
        return ReturnedLater(cursor, convert)

    def _in_own_transaction(self) -> bool:
        """Whether this thread's calls run inside a transaction Django does not see (the
        pipelined ``one_transaction``): then no ``atomic`` block may be opened."""
        return in_pipelined_transaction(self._connection)

    def _rowcount(self, sql: str, params: Sequence) -> int:
        return self._execute(sql, params)[0][0]

    def _dt(self, value: datetime | None):
        """A datetime as the database driver wants it (naive UTC text on SQLite)."""
        if value is not None and value.tzinfo is UTC and self._naive_utc_text:
            last_value, last_text = self._last_text  # one read: threads share the store
            if last_value is value:
                return last_text  # the same clock reading (``utc_now``): a burst of enqueues
            # What adapt_datetimefield_value returns for it (str() of the naive datetime),
            # without its connection and settings look-ups (a tenth of an enqueue's
            # Python); isoformat then cutting "+00:00" is a third quicker than replace+str.
            text = value.isoformat(" ")[:-6]
            self._last_text = (value, text)
            return text
        return self._connection.ops.adapt_datetimefield_value(value)

    @functools.cached_property
    def _prepares_statements(self) -> bool:
        return prepares_statements(self._connection)

    @functools.cached_property
    def _naive_utc_text(self) -> bool:
        """Whether the database takes datetimes as naive UTC text (SQLite, with USE_TZ)."""
        connection = self._connection
        return connection.vendor == "sqlite" and connection.timezone is UTC  # None without USE_TZ

    def _json(self, value) -> str:
        return encode_json(value)

    def _jobs(self):
        return JobRecord.objects.using(self.using)

    def describe(self) -> str:
        settings_dict = self._connection.settings_dict
        vendor = self._connection.vendor
        if vendor == "sqlite":
            return f"SQLite at {settings_dict['NAME']}"
        host = settings_dict.get("HOST") or "localhost"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"{self._connection.display_name} at {host}{port}, database {settings_dict['NAME']}"

    def ensure_ready(self) -> None:
        """Refuse, with the reason, a database the store does not support or a missing table."""
        self._check_database_is_supported()
        try:
            self._execute(f"SELECT 1 FROM {TABLE} WHERE 1 = 0")
        except DatabaseError as error:
            raise StoreUnavailable(
                f"the jobs table is not usable in {self.describe()}: {error} (run `python manage.py migrate`)"
            ) from error

    def _check_database_is_supported(self) -> None:
        vendor = self._connection.vendor
        if vendor not in SUPPORTED_VENDORS:
            raise StoreUnavailable(
                f"the embedded job store supports SQLite and PostgreSQL, not {self._connection.display_name} "
                "(set DATABASE_URL to a PostgreSQL database, or MONGODB_URI)"
            )
        if vendor == "sqlite" and self._connection.Database.sqlite_version_info < MINIMUM_SQLITE:
            found = ".".join(map(str, self._connection.Database.sqlite_version_info))
            needed = ".".join(map(str, MINIMUM_SQLITE))
            raise StoreUnavailable(
                f"the embedded job store needs SQLite {needed} or newer (UPDATE … RETURNING); found {found}"
            )

    def close(self) -> None:
        self._connection.close()

    @contextlib.contextmanager
    def _shared_transaction(self):
        try:
            with transaction.atomic(using=self.using):
                yield
        except OperationalError as error:
            # Raised by the commit, after the calls inside (which translate their own errors).
            raise as_unavailable(self, error) from error

    def one_transaction(self):
        """See ``JobStore.one_transaction``: a Django ``atomic`` block on this store's database;
        on PostgreSQL, outside any other transaction, a pipelined one (``pipeline.py``: two
        round trips for a worker's turn instead of four). Inside that one only the calls of a
        worker's turn belong (``record_results``, ``claim``, reads): Django does not see the
        transaction, so a method that opens an ``atomic`` block fails there."""
        connection = self._connection
        if in_pipelined_transaction(connection):
            return contextlib.nullcontext()  # joins it: an inner COMMIT would end the outer one
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            return self._pipelined_transaction()
        return self._shared_transaction()

    @contextlib.contextmanager
    def _pipelined_transaction(self):
        try:
            with pipelined_transaction(self._connection):
                yield
        except OperationalError as error:
            raise as_unavailable(self, error) from error
