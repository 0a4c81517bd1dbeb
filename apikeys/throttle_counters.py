"""Where the API's rate-limit counters live: one count per client, scope and window.

Two backends, chosen by ``JOBQUEUE_THROTTLE_SQLITE``:

* a path (the default when the main database is SQLite): a small SQLite file of its own,
  in WAL mode with ``synchronous=OFF``. Counting is one UPSERT under SQLite's write lock,
  so every process on the machine counts together and none is lost, but no request
  waits for an fsync: a count lost to a power cut only lets a client a few requests more.
  Keeping it apart from the job database keeps these writes out of the jobs' lock too.
* ``None`` (a server database from ``DATABASE_URL``): ``ThrottleWindow`` rows in the
  main database, incremented with one UPDATE, so that every machine counts together.
"""

import sqlite3
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from apikeys.models import ThrottleWindow

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS throttle_window ("
    " key TEXT NOT NULL, window_start INTEGER NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY (key, window_start)) WITHOUT ROWID"
)
_COUNT = (
    "INSERT INTO throttle_window (key, window_start, count) VALUES (?, ?, 1)"
    " ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count"
)
_connections = threading.local()
# One thread of this process at a time opens a counters file for the first time: two
# connections switching a new file to WAL at once can deadlock on the lock upgrade, and
# SQLite then fails one of them at once ("database is locked") instead of waiting.
_first_open = threading.Lock()
#: How often opening waits for another process that is switching the file to WAL.
_WAL_RETRY_SECONDS = 0.01


def count_request(key: str, window_start: int) -> int:
    """Count one more request of ``key`` in the window starting at ``window_start``
    (UNIX seconds); return the window's count, this request included. Earlier windows
    of ``key`` are dropped when a new one starts."""
    path = settings.JOBQUEUE_THROTTLE_SQLITE
    if path:
        return _count_in_side_file(str(path), key, window_start)
    return _count_in_database(key, window_start)


def _side_file(path: str) -> sqlite3.Connection:
    """This thread's connection to the counters file (made, with its table, on first use)."""
    open_files = getattr(_connections, "by_path", None)
    if open_files is None:
        open_files = _connections.by_path = {}
    connection = open_files.get(path)
    if connection is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with _first_open:
            connection = sqlite3.connect(path, timeout=settings.JOBQUEUE_STORE_TIMEOUT, isolation_level=None)
            _switch_to_wal(connection)
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute(_SCHEMA)
        open_files[path] = connection
    return connection


def _switch_to_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode (kept in the file: later opens find it done), waiting at
    most the store timeout for another process doing the same (the same upgrade deadlock
    as between threads, across processes)."""
    deadline = time.monotonic() + settings.JOBQUEUE_STORE_TIMEOUT
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        if connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return  # the other process switched it
        time.sleep(_WAL_RETRY_SECONDS)


def _count_in_side_file(path: str, key: str, window_start: int) -> int:
    connection = _side_file(path)
    (count,) = connection.execute(_COUNT, (key, window_start)).fetchone()
    if count == 1:
        connection.execute("DELETE FROM throttle_window WHERE key = ? AND window_start < ?", (key, window_start))
    return count


def _count_in_database(key: str, window_start: int) -> int:
    windows = ThrottleWindow.objects.filter(key=key, window_start=window_start)
    with transaction.atomic():
        if not windows.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    ThrottleWindow.objects.create(key=key, window_start=window_start, count=1)
            except IntegrityError:  # another request made the window first
                windows.update(count=F("count") + 1)
            else:
                ThrottleWindow.objects.filter(key=key, window_start__lt=window_start).delete()
        return windows.values_list("count", flat=True).get()
