"""Claiming ahead: how many jobs a pool claims beyond its idle threads.

Why: on SQLite a worker's turn (record the results, claim the next jobs) ends in a
durable commit, and while it waits for the fsync the threads that finished their jobs
have nothing to run. A few jobs claimed ahead, waiting in the pool's queue, keep them
busy meanwhile and make the next turn record and claim more jobs per commit.

The cost is fairness: a job claimed ahead waits in this pool while another pool may
have an idle thread. So a pool claims ahead only as many jobs as its threads finish
while one turn runs (``threads x turn time / job time``, from moving averages of both),
never more than ``limit``: with jobs shorter than a turn, a job claimed ahead waits
about one turn, which is about what another pool would need to claim it; with jobs as
long as a turn or longer, nothing is claimed ahead. Until a pool has seen a job and a
turn it claims ahead nothing.
"""

import threading

#: Weight of the newest sample in the moving averages.
_SMOOTHING = 0.2


class ClaimAhead:
    """Moving averages of the time a job runs and a turn takes; ``allowance`` is how many
    jobs to claim beyond the idle threads. Safe from any thread."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._job_seconds: float | None = None
        self._turn_seconds: float | None = None

    def job_ran(self, seconds: float) -> None:
        """A worker thread spent ``seconds`` on one job (handler and result)."""
        if self.limit:
            with self._lock:
                self._job_seconds = _averaged(self._job_seconds, seconds)

    def turn_took(self, seconds: float) -> None:
        """A dispatcher turn that claimed jobs took ``seconds`` (its commit included)."""
        if self.limit:
            with self._lock:
                self._turn_seconds = _averaged(self._turn_seconds, seconds)

    def allowance(self, threads: int) -> int:
        """How many jobs ``threads`` threads finish during one turn, at most ``limit``."""
        with self._lock:
            job, turn = self._job_seconds, self._turn_seconds
        if not self.limit or job is None or turn is None:
            return 0
        if job <= 0:
            return self.limit
        return min(self.limit, int(threads * turn / job))


def _averaged(average: float | None, sample: float) -> float:
    return sample if average is None else average + _SMOOTHING * (sample - average)
