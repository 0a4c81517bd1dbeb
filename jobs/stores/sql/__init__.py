"""The embedded job store: jobs in Django's own database (SQLite under var/ by default).

The only package that queries the jobs table. Hot paths (insert, claim, finish) use
one raw SQL statement each, because the ORM adds more Python per call than SQLite
spends on the statement, and because an atomic batch claim needs ``UPDATE … RETURNING``,
which the ORM cannot express. Everything else goes through the ORM.

Durability and concurrency come from the connection settings (``jobqueue.settings``):
WAL with ``synchronous=FULL`` and ``BEGIN IMMEDIATE`` transactions with a busy timeout,
queued for the writer lock of ``jobqueue.db.sqlite3``, so several processes share the
file safely and take turns writing it. On PostgreSQL the claim picks its rows
with ``FOR UPDATE SKIP LOCKED``. Supported: SQLite ≥ 3.35 and PostgreSQL (both have
``UPDATE … RETURNING``); other databases are refused at start.

Modules: ``statements`` (the raw SQL texts and the column list), ``rows`` (row ↔ ``Job``),
``connection`` (running a statement, adapting values, transactions, supported databases),
and one part of ``SqlJobStore`` per concern, composed in ``store``: ``enqueue``,
``claims``, ``leases``, ``actions``, ``retention``, ``queues``, ``statistics``, ``pools``
and ``schedules``. Settings name the store ``jobs.stores.sql.SqlJobStore``.
"""

from jobs.stores.sql.statements import COLUMNS, TABLE
from jobs.stores.sql.store import SqlJobStore

__all__ = ["COLUMNS", "TABLE", "SqlJobStore"]
