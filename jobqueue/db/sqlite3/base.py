"""Django's SQLite backend, with every transaction queued for the writer lock first.

``ENGINE: "jobqueue.db.sqlite3"`` (the settings choose it for the embedded database and
for ``sqlite://`` URLs). Every transaction Django starts (``BEGIN IMMEDIATE``, so every
``atomic`` block) first takes the cross-process writer lock of ``writerlock``, and
gives it back when it commits, rolls back or closes, so concurrent writers take turns
instead of polling in SQLite's busy handler. The whole wait, for the lock and then for
SQLite, stays within the connection's ``timeout`` (``JOBQUEUE_STORE_TIMEOUT``); past it
the transaction fails with "database is locked", as it would without the queue.
Statements run in autocommit outside a transaction do not queue: SQLite's own lock still
orders them.
"""

import time

from django.db.backends.sqlite3 import base

from jobqueue.db.sqlite3.writerlock import WriterLock

#: Waits shorter than this left the busy timeout as it was (not worth a statement).
_NOTICEABLE_WAIT_SECONDS = 0.001


class DatabaseWrapper(base.DatabaseWrapper):
    _writer_lock: WriterLock | None = None

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        self._close_writer_lock()
        self._busy_timeout = float(conn_params.get("timeout", 5.0))
        if not self.is_in_memory_db():
            self._writer_lock = WriterLock(f"{self.settings_dict['NAME']}-writer.lock")
        return connection

    def _start_transaction_under_autocommit(self):
        lock = self._writer_lock
        if lock is None:
            return super()._start_transaction_under_autocommit()
        started = time.monotonic()
        if not lock.acquire(self._busy_timeout):
            with self.wrap_database_errors:
                raise base.Database.OperationalError("database is locked (no turn at the writer lock in time)")
        try:
            waited = time.monotonic() - started
            if waited < _NOTICEABLE_WAIT_SECONDS:
                return super()._start_transaction_under_autocommit()
            # What is left of the timeout, so the whole wait stays within it.
            self._set_busy_timeout(max(self._busy_timeout - waited, 0.0))
            try:
                return super()._start_transaction_under_autocommit()
            finally:
                self._set_busy_timeout(self._busy_timeout)
        except BaseException:
            lock.release()
            raise

    def _set_busy_timeout(self, seconds: float) -> None:
        self.connection.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._close_writer_lock()

    def _release_writer_lock(self) -> None:
        if self._writer_lock is not None:
            self._writer_lock.release()

    def _close_writer_lock(self) -> None:
        lock, self._writer_lock = self._writer_lock, None
        if lock is not None:
            lock.close()
