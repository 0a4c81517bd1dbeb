"""A worker pool closes the database connections it opened, on every thread it used.

The thread that calls ``WorkerPool.run()`` is the pool's dispatcher. A connection it
left open would outlive the pool when that thread ends (``benchqueue``, the tests'
``PoolThread``): Django keeps connections per thread, and a dead thread's connection is
closed only when the garbage collector breaks its reference cycles. On PostgreSQL that
session then blocks ``DROP DATABASE`` ("being accessed by other users").
"""

import gc
import threading

import pytest
from django.db import connection, connections

from jobs import services
from jobs.domain import Status
from tests.worker_support import make_pool, run_pool, wait_until


def test_the_thread_that_ran_a_pool_holds_no_database_connection_afterwards(sql_store):
    job = services.enqueue("noop")
    still_open: list[str] = []
    raised: list[BaseException] = []

    def run_the_pool_then_look():
        try:
            make_pool(sql_store).run()
        except BaseException as error:
            raised.append(error)
        still_open.extend(c.alias for c in connections.all(initialized_only=True) if c.connection is not None)

    dispatcher = threading.Thread(target=run_the_pool_then_look)
    dispatcher.start()
    dispatcher.join(60)

    assert not dispatcher.is_alive() and raised == []
    assert sql_store.get(job.id).status == Status.COMPLETED  # the pool did use the database
    assert still_open == []


def _sessions_of_others() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="counts sessions in PostgreSQL's pg_stat_activity")
def test_no_database_session_outlives_a_pool_run_on_a_thread(sql_store):
    before = _sessions_of_others()
    job = services.enqueue("noop")
    # With the collector off, a connection left on the dead thread stays open for sure,
    # instead of until whenever the collector would have run.
    gc.disable()
    try:
        run_pool(make_pool(sql_store, concurrency=4))
        assert sql_store.get(job.id).status == Status.COMPLETED
        # A backend leaves pg_stat_activity a moment after its client hung up.
        wait_until(lambda: _sessions_of_others() <= before, timeout=10, what="the pool's sessions to end")
    finally:
        gc.enable()
