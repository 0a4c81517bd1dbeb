"""Instruments the benchmarks measure with: time spent in store methods, the resident
size sampled over a run, and percentiles. They only observe: nothing here changes what
the code measured does."""

import math
import resource
import threading
import time
from pathlib import Path

from jobs.stores import JobStore


class StoreTimers:
    """Time spent in some store methods while active (wraps them on the instance)."""

    def __init__(self, store: JobStore, names: tuple[str, ...]):
        self.store = store
        self.seconds = dict.fromkeys(names, 0.0)

    def _timed(self, name: str, method):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed

    def __enter__(self):
        for name in self.seconds:
            setattr(self.store, name, self._timed(name, getattr(self.store, name)))
        return self

    def __exit__(self, *exc_info):
        for name in self.seconds:
            delattr(self.store, name)


class RssSampler:
    """The process's resident size (not the peak), sampled on a thread while active,
    so growth over a run shows whether memory is kept per job."""

    def __init__(self, every: float = 0.1):
        self.every = every
        self.samples: list[float] = []  # MiB, oldest first
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="benchqueue-rss", daemon=True)

    @staticmethod
    def current_mib() -> float:
        """Resident size now (Linux ``/proc/self/statm``; the peak where that is missing)."""
        try:
            resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return resident_pages * resource.getpagesize() / 2**20

    def _sample(self):
        while not self._done.wait(self.every):
            self.samples.append(self.current_mib())

    def __enter__(self):
        self.samples.append(self.current_mib())
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        self._thread.join()
        self.samples.append(self.current_mib())

    def start_middle_end(self) -> tuple[float, float, float]:
        return self.samples[0], self.samples[len(self.samples) // 2], self.samples[-1]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in (0, 1])."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
