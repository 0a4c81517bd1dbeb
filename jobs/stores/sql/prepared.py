"""Server-side prepared statements for the hot path on PostgreSQL.

A worker's turn sends the same two statement texts over and over: the claim, and the
record of a batch (one text per shape of transition and batch size). Planning them was
a third of their server time (about 0.2 ms each, on a table with this many indexes);
prepared, PostgreSQL settles on their generic plan after five runs and plans them no
more. The claim's limit is part of its text for that reason (an integer the store
chose, never user input): with ``LIMIT $n`` the generic plan looks dearer than the
custom ones and PostgreSQL keeps planning every call.

Django binds parameters client-side and prepares nothing (its ``prepare_threshold`` is
None, so that transaction poolers keep working); psycopg then refuses even an explicit
``prepare=True``. The store therefore raises the connection's threshold out of reach,
so that only the statements it executes through ``prepared_cursor`` are prepared.
Behind a transaction pooler that cannot carry prepared statements (PgBouncer before
1.21, or without ``max_prepared_statements``), set ``"prepare_threshold": None`` in the
database's ``OPTIONS`` explicitly: the store then prepares nothing either.
"""

from __future__ import annotations

import functools

#: A threshold no statement reaches: psycopg prepares only what asks for it.
_ONLY_WHEN_ASKED = 2**31


@functools.cache
def _preparing_cursor_class():
    """psycopg's server-side binding cursor, preparing every statement it executes
    (imported on first use: SQLite-only installs never need psycopg)."""
    import psycopg

    class PreparingCursor(psycopg.Cursor):
        def execute(self, query, params=None, **options):
            options.setdefault("prepare", True)
            return super().execute(query, params, **options)

    return PreparingCursor


def prepares_statements(connection) -> bool:
    """Whether the store may prepare statements on ``connection`` (PostgreSQL): yes,
    unless the database's ``OPTIONS`` set ``prepare_threshold`` to None explicitly."""
    options = connection.settings_dict.get("OPTIONS") or {}
    return not ("prepare_threshold" in options and options["prepare_threshold"] is None)


def prepared_cursor(connection):
    """A Django cursor on ``connection`` (PostgreSQL) whose statements are prepared on
    the server at their first execution and run by name afterwards. Django's execute
    wrappers see its statements like any other cursor's."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _ONLY_WHEN_ASKED
        cursor = _preparing_cursor_class()(raw)
    return connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
