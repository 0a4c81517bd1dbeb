"""What the peer scripts share: the command line and the one JSON line they print.

Kept free of third-party imports: it runs in the throw-away peers environment and in the
project's own.
"""

import argparse
import json
import threading
import time


def parse_arguments(description: str) -> argparse.Namespace:
    """``--jobs``, ``--threads`` and ``--directory`` (where the SQLite file goes)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--directory", required=True, help="An empty directory for the SQLite database.")
    return parser.parse_args()


class Countdown:
    """Counts finished jobs from any thread; ``wait`` returns once ``total`` are done."""

    def __init__(self, total: int):
        self.remaining = total
        self._lock = threading.Lock()
        self._done = threading.Event()

    def one_done(self, *_args, **_kwargs) -> None:
        with self._lock:
            self.remaining -= 1
            if self.remaining <= 0:
                self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)


def timed(function) -> float:
    """Seconds ``function()`` took."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def report(*, jobs: int, enqueue_seconds: float, process_seconds: float, completed: int) -> None:
    """The one machine-readable line ``bench/peers.py`` reads."""
    print(
        json.dumps(
            {
                "jobs": jobs,
                "enqueue_per_second": jobs / enqueue_seconds,
                "process_per_second": completed / process_seconds,
                "completed": completed,
            }
        ),
        flush=True,
    )
