"""The inbox: on SQLite a job enqueued one by one is written to ``jobs_inbox`` and moved
into ``jobs_job`` later, in batches.

Why: with ``synchronous=FULL`` each page an insert changes goes to the WAL before the
commit's fsync, and a row of ``jobs_job`` is ten B-trees (the table and nine indexes of
pending jobs, lists and counts). This disk takes about 2,800 such inserts a second, and
5,500 into a table with only its primary key (``jobs_inbox`` is one B-tree: a ``WITHOUT
ROWID`` table). The inbox keeps only the columns a new job sets (migration 0007; the
others are the same for every new job and are written by the move): its insert and
commit take about 12 µs of CPU, not 17. Moving a thousand rows in one statement updates each
index page once for many rows: the batch costs about 8 µs a job.

The rules that keep the two tables one store:

- A job is in exactly one of them: the move and the delete are one transaction, under
  SQLite's write lock, so no enqueue lands between them.
- Reading one job (``get``) reads both tables in one statement: it never writes.
- Everything else that reads or changes pending jobs (the claim, the job list, counts,
  the operator's actions) first moves the inbox (``_settle_inbox``); the claim does it in
  its own transaction, so a worker's turn still commits once.
- Every ``MOVE_EVERY``-th enqueue of a process first moves the inbox. So the inbox stays
  small while no worker runs and nobody reads, and enqueues pay for indexing most of the
  jobs they add (a benchmark that enqueues, then processes, finds in the processing only
  the move of the last thousand or fewer). With workers running, their claims keep the
  inbox smaller still.
- Only plain jobs go through it: a job with a unique key or an idempotency key is
  inserted into ``jobs_job`` directly, where the unique indexes refuse a duplicate. So
  do batches (``insert_many``: one transaction already shares the index pages).

PostgreSQL does not use it: its WAL logs an index entry as a small record, not the whole
page, so the indexes add little to what a commit flushes.
"""

from __future__ import annotations

import contextlib
import functools

from django.db import transaction

from jobs.stores.sql.connection import SqlConnection
from jobs.stores.sql.statements import EMPTY_INBOX, INBOX_HAS_JOBS, INSERT_INTO_INBOX, MOVE_INBOX

#: How often an enqueue moves the inbox first (a move of 1,000 jobs takes about 8 ms of CPU).
MOVE_EVERY = 1000


class Inbox(SqlConnection):
    """Moving ``jobs_inbox`` into ``jobs_job``: the base of the parts that read pending jobs."""

    _enqueues_until_move = MOVE_EVERY

    @functools.cached_property
    def _uses_inbox(self) -> bool:
        return self._connection.vendor == "sqlite"

    def _inbox_has_jobs(self) -> bool:
        return self._uses_inbox and bool(self._execute(INBOX_HAS_JOBS))

    def _move_inbox(self) -> None:
        """Inside a transaction: every inbox row into the jobs table, in the order they came."""
        if self._execute(MOVE_INBOX)[0][0]:
            # Under the write lock since the move began: the rows left are the rows moved.
            self._execute(EMPTY_INBOX)

    def _settle_inbox(self) -> None:
        """Move the inbox in a transaction of its own (or the caller's), if it holds jobs."""
        with self._settled():
            pass

    @contextlib.contextmanager
    def _settled(self):
        """Run the block with the inbox moved: in one transaction with the move when there
        was something to move (the claim: one commit per turn), as it is otherwise."""
        if not self._inbox_has_jobs():
            yield
            return
        with transaction.atomic(using=self.using, savepoint=False):
            self._move_inbox()
            yield

    def _insert_into_inbox(self, params) -> None:
        """Insert a job's row (``statements.INSERT_INTO_INBOX`` parameters) into the inbox, on every
        ``MOVE_EVERY``-th call after moving the inbox (first, so that a failed move fails
        the enqueue with nothing stored). The count is per store object and approximate
        across threads, which is all a bound needs."""
        self._enqueues_until_move -= 1
        if self._enqueues_until_move <= 0:
            self._enqueues_until_move = MOVE_EVERY
            self._settle_inbox()
        self._execute(INSERT_INTO_INBOX, params)
