"""Group commit: concurrent enqueues of one process share a transaction and its fsync.

On SQLite with ``synchronous=FULL`` every commit waits for the disk, and the web server's
threads would each wait their turn for the write lock and then the disk. With group
commit enabled (the web server enables it), a request thread hands its validated job to
one committer thread and waits; the committer stores everything waiting in one
``insert_many`` (one transaction), then answers each thread. So each request returns
only after its own job is durable, and when the commit fails every request of that
group gets the same error (a ``StoreUnavailable`` becomes a 503). On the SQL stores none
of its jobs is stored, because ``insert_many`` is one transaction; on MongoDB a
write-concern error may come after the batch landed, so a client that retries without an
``Idempotency-Key`` can store its job twice (README, "What the MongoDB store needs from
the server").
"""

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime

from django.db import close_old_connections, connections

from jobs.domain import Job, NewJob
from jobs.stores import JobStore, get_store
from jobs.timeutil import utc_now

logger = logging.getLogger(__name__)

#: Most jobs one transaction takes; more wait for the next one.
MAX_GROUP = 256


class _Waiter:
    """One request's wait for its group's commit: a lock held until the committer hands
    over the stored job or the commit's error.

    A ``concurrent.futures.Future`` does the same with a condition variable and its
    locks; making and resolving one per request was a fiftieth of the web server's CPU.
    """

    __slots__ = ("_committed", "_error", "_job")

    def __init__(self):
        self._committed = threading.Lock()
        self._committed.acquire()
        self._job: Job | None = None
        self._error: BaseException | None = None

    def result(self) -> Job:
        """The stored job, once committed; raises the commit's error if it failed."""
        self._committed.acquire()
        if self._error is not None:
            raise self._error
        return self._job

    def set_result(self, job: Job) -> None:
        self._job = job
        self._committed.release()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._committed.release()


class GroupCommitter:
    """A committer thread storing the jobs handed to ``insert`` in shared transactions."""

    def __init__(
        self,
        *,
        store: Callable[[], JobStore] = get_store,
        clock: Callable[[], datetime] = utc_now,
        max_group: int = MAX_GROUP,
        waiting: queue.SimpleQueue | None = None,
    ):
        self._store = store
        self._clock = clock
        self._max_group = max_group
        self._waiting = queue.SimpleQueue() if waiting is None else waiting
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def insert(self, new_job: NewJob) -> Job:
        """Store ``new_job`` in the next group's transaction and return it once committed;
        raises the commit's error (nothing of the group stored) if it failed."""
        waiter = _Waiter()
        self._waiting.put((new_job, waiter))
        return waiter.result()

    def close(self) -> None:
        """Commit what is waiting, then stop the thread."""
        self._waiting.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._waiting.get()
            if first is None:
                break
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._commit(group)
        connections.close_all()  # this thread's connections only

    def _commit(self, group: list[tuple[NewJob, _Waiter]]) -> None:
        try:
            jobs = self._store().insert_many([new_job for new_job, _ in group], now=self._clock())
        except BaseException as error:  # every waiting request must hear of it
            logger.warning("group commit of %d jobs failed: %s", len(group), error)
            for _, waiter in group:
                waiter.set_exception(error)
            close_old_connections()  # a broken connection is replaced before the next group
            return
        for (_, waiter), job in zip(group, jobs, strict=True):
            waiter.set_result(job)


_committer: GroupCommitter | None = None


def enable(**options) -> GroupCommitter:
    """Route this process's enqueues through a group committer (the web server calls it)."""
    global _committer
    if _committer is None:
        _committer = GroupCommitter(**options)
    return _committer


def enabled() -> bool:
    """Whether this process's enqueues go through a group committer."""
    return _committer is not None


def disable() -> None:
    """Stop group commit: enqueues commit one by one again."""
    global _committer
    committer, _committer = _committer, None
    if committer is not None:
        committer.close()


def insert(new_job: NewJob, *, now: datetime) -> Job:
    """Store ``new_job``: in a shared transaction when group commit is enabled, else alone."""
    committer = _committer
    # A job with an idempotency key may meet its twin in the unique index: it is stored
    # alone, so that the refusal replays that job instead of failing a whole group.
    if committer is not None and new_job.idempotency_key is None:
        return committer.insert(new_job)
    return get_store().insert(new_job, now=now)
