"""The embedded database's writer queue (``jobqueue.db.sqlite3``): every transaction takes
a cross-process ``flock`` before ``BEGIN IMMEDIATE`` and gives it back when it ends, so
writers take turns instead of polling in SQLite's busy handler; a writer kept waiting
past the store timeout still hears "locked" in time."""

import fcntl
import os
import threading

import pytest
from django.db import connections, transaction

from jobqueue.db.sqlite3 import writerlock
from jobqueue.db.sqlite3.writerlock import WriterLock
from jobs import services
from jobs.stores import StoreUnavailable

pytestmark = pytest.mark.sqlite_only

EMAIL = {"to": "user@example.com", "subject": "Hi", "body": "Hello"}


def lock_path() -> str:
    return f"{connections['default'].settings_dict['NAME']}-writer.lock"


def taken_by_someone(path: str) -> bool:
    """Whether another holder has the lock (tried from a descriptor of our own)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock it took
    return False


@pytest.fixture
def other_writer():
    """The writer lock held as another process's transaction would hold it."""
    lock = WriterLock(lock_path())
    assert lock.acquire(timeout=1)
    yield lock
    lock.close()


def test_a_transaction_holds_the_writer_lock_until_it_commits(sql_store):
    with transaction.atomic():
        services.enqueue("email", EMAIL)
        assert taken_by_someone(lock_path())
    assert not taken_by_someone(lock_path())


def test_a_rolled_back_transaction_gives_the_lock_back(sql_store):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.enqueue("email", EMAIL)
        raise RuntimeError("changed my mind")
    assert not taken_by_someone(lock_path())
    assert services.list_jobs() == []


def test_a_writer_waits_for_its_turn_and_goes_on_when_the_holder_lets_go(sql_store, other_writer):
    started, done = threading.Event(), threading.Event()

    def write():
        started.set()
        services.enqueue_many([{"type": "email", "payload": EMAIL}])  # one transaction
        connections.close_all()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert started.wait(5)
    assert not done.wait(0.2)  # queued behind the holder: nothing written yet
    assert services.list_jobs() == []
    other_writer.release()
    assert done.wait(10)
    writer.join()
    assert len(services.list_jobs()) == 1


def test_a_writer_kept_waiting_past_the_store_timeout_hears_locked_and_stores_nothing(
    sql_store, short_busy_timeout, other_writer
):
    with pytest.raises(StoreUnavailable, match="locked"):
        services.enqueue_many([{"type": "email", "payload": EMAIL}])

    other_writer.release()
    assert services.list_jobs() == []
    # The wait given up passed the lock on: the next writer gets in.
    services.enqueue_many([{"type": "email", "payload": EMAIL}])
    assert len(services.list_jobs()) == 1


def test_a_wait_given_up_hands_the_lock_on_once_it_is_granted(tmp_path):
    path = str(tmp_path / "db-writer.lock")
    holder, quitter, next_writer = WriterLock(path), WriterLock(path), WriterLock(path)
    assert holder.acquire(timeout=1)
    assert not quitter.acquire(timeout=0.05)  # gives up; its thread still waits in flock
    holder.release()
    assert next_writer.acquire(timeout=5)
    assert not quitter.held
    for lock in (holder, quitter, next_writer):
        lock.close()


def test_while_given_up_waits_still_block_a_contended_acquire_polls_instead_of_adding_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(writerlock, "MAX_ABANDONED_WAITS", 1)
    path = str(tmp_path / "db-writer.lock")
    holder, first, second = WriterLock(path), WriterLock(path), WriterLock(path)
    assert holder.acquire(timeout=1)
    assert not first.acquire(timeout=0.05)  # its thread stays blocked: the holder is stuck
    blocked = [thread for thread in threading.enumerate() if thread.name == "sqlite-writer-lock"]

    assert not second.acquire(timeout=0.05)
    assert [thread for thread in threading.enumerate() if thread.name == "sqlite-writer-lock"] == blocked

    holder.release()
    for thread in blocked:
        thread.join(timeout=5)
    assert second.acquire(timeout=5)
    for lock in (holder, first, second):
        lock.close()
