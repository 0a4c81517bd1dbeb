"""Pushed inserts: a store that can report new jobs (MongoDB change streams) wakes the
pool at once instead of at its next poll."""

import logging
import threading
from collections.abc import Callable

from django.db import connections

from jobs.stores import JobStore

logger = logging.getLogger(__name__)

#: Longest wait before watching again after the watch failed.
_MAX_BACKOFF = 30.0


class InsertWatcher:
    """Calls ``on_insert()`` whenever ``store.watch_inserts`` reports a new job."""

    def __init__(self, store: JobStore, *, on_insert: Callable[[], None], poll_interval: float):
        self.store = store
        self.on_insert = on_insert
        self.poll_interval = poll_interval

    def run(self, closed: threading.Event) -> None:
        """The watcher thread's loop, until ``closed`` is set or the store cannot push."""
        backoff = self.poll_interval
        try:
            while not closed.is_set():
                try:
                    supported = self.store.watch_inserts(self.on_insert, closed)
                except Exception as error:
                    logger.warning("watching for new jobs failed (%s); polling meanwhile", error)
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                    closed.wait(backoff)
                    continue
                if not supported:
                    logger.info("the store cannot push new jobs; polling every %g s", self.poll_interval)
                    return
        finally:
            connections.close_all()
