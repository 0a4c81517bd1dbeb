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


def timed(function) -> tuple[float, float]:
    """Seconds ``function()`` took: wall clock, and CPU time of this process (user + system)."""
    cpu_at_start = time.process_time()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started, time.process_time() - cpu_at_start


def report(
    *,
    jobs: int,
    enqueue: tuple[float, float],
    process_seconds: float,
    completed: int,
    python_cpu_us: float | None = None,
) -> None:
    """The one machine-readable line ``bench/peers.py`` reads (``enqueue`` as ``timed`` gives
    it; ``python_cpu_us``: an enqueue's CPU outside SQLite's calls, if measured)."""
    enqueue_seconds, enqueue_cpu_seconds = enqueue
    print(
        json.dumps(
            {
                "jobs": jobs,
                "enqueue_per_second": jobs / enqueue_seconds,
                "enqueue_cpu_us_per_job": enqueue_cpu_seconds / jobs * 1e6,
                "process_per_second": completed / process_seconds,
                "completed": completed,
                "enqueue_python_cpu_us_per_job": python_cpu_us,
            }
        ),
        flush=True,
    )
