"""The web server's pool of threads that run Django."""

import logging
import queue
import threading

from django.db import connections

logger = logging.getLogger(__name__)

# Put on the queue once per thread at shutdown: each thread takes one and stops.
_STOP = None


class CallThreads:
    """``CallThreads(count, name_prefix)``: ``count`` threads running the calls given to
    ``submit`` in order of arrival, ``count`` at a time.

    What ``ThreadPoolExecutor`` does minus its futures: the bridge's calls hand their
    answers to the event loop themselves, and making, running and resolving a future
    nobody waited on (a condition variable and its locks) was a twentieth of the web
    server's CPU per ``POST /jobs``. A call that raises is logged and the thread goes on.
    A thread closes its database connections when it stops.
    """

    def __init__(self, count: int, *, name_prefix: str):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"{name_prefix}_{index}") for index in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, function, *args) -> None:
        """Run ``function(*args)`` on the first free thread."""
        self._calls.put((function, args))

    def shutdown(self) -> None:
        """Drop the calls not started; each thread stops after the call it is running
        (the interpreter waits for those at exit, as for an executor's threads)."""
        try:
            while True:
                self._calls.get_nowait()
        except queue.Empty:
            pass
        for _ in self._threads:
            self._calls.put(_STOP)

    def _run(self) -> None:
        while (call := self._calls.get()) is not _STOP:
            function, args = call
            try:
                function(*args)
            except BaseException:
                logger.exception("a web server thread's call failed")
            del call, function, args  # no reference to the last request kept while idle
        # Django keeps a thread's connection open between requests (CONN_MAX_AGE); a thread
        # that ends would hold it, and its database session, until garbage collection.
        connections.close_all()  # this thread's connections only
