"""Push wake-ups: a change stream on the jobs collection tells a worker pool of each
insert, so it need not wait for its next poll."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pymongo.errors import OperationFailure, PyMongoError

from jobs.stores.base import StoreUnavailable
from jobs.stores.mongo.connection import MongoConnection
from jobs.stores.mongo.errors import reason

logger = logging.getLogger(__name__)

# How long one wait on a change stream may block, so a stop request is seen promptly.
WATCH_MAX_AWAIT_MS = 1000


class InsertWatch(MongoConnection):
    """``watch_inserts``."""

    def watch_inserts(self, callback: Callable[[], None], stop_event: threading.Event) -> bool:
        """Call ``callback()`` for each job inserted, until ``stop_event`` is set.

        Returns ``True`` once stopped by ``stop_event``, and ``False`` at once when the
        server cannot stream changes at all (a standalone server; a client without
        ``watch``, like the tests' in-memory fake), so the
        caller polls instead. Raises ``StoreUnavailable`` when the server cannot be
        reached or the stream breaks: the caller may watch again later. Not serialized:
        it blocks.
        """
        if not hasattr(type(self._jobs), "watch"):
            logger.info("%s: the client cannot watch changes; workers poll for new jobs", self.describe())
            return False
        try:
            stream = self._jobs.watch(
                [{"$match": {"operationType": "insert"}}, {"$project": {"_id": 1}}],
                max_await_time_ms=WATCH_MAX_AWAIT_MS,
            )
        except OperationFailure as error:
            # 40573 on a standalone server: change streams need a replica set.
            logger.info("%s: no change streams (%s); workers poll for new jobs", self.describe(), reason(error))
            return False
        except PyMongoError as error:
            raise StoreUnavailable(f"cannot watch {self.describe()} for new jobs: {reason(error)}") from None
        logger.info("%s: workers wake on inserts through a change stream", self.describe())
        with stream:
            while not stop_event.is_set():
                try:
                    change = stream.try_next()
                except PyMongoError as error:
                    raise StoreUnavailable(f"change stream on {self.describe()} broke: {reason(error)}") from None
                if change is not None:
                    callback()
        return True
