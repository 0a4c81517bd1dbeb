"""How a worker pool is configured: one frozen object, defaults from settings."""

from dataclasses import dataclass, field, replace

from django.conf import settings

from jobs.retry import RetryStrategy

#: Longest gap between two lease renewals or two reaper runs, whatever the lease.
_MAX_REAP_INTERVAL = 5.0


@dataclass(frozen=True)
class PoolOptions:
    """Everything a ``WorkerPool`` is told; build it with ``from_settings(**overrides)``.

    ``max_jobs`` (claim that many jobs, finish them, return) and ``run_until_idle``
    (return once no job is due and none is running) are for scripts and tests.
    ``renew_interval`` and ``reap_interval`` default to a third of the lease (the reaper
    at most every 5 s). ``max_clock_skew`` is how far (seconds) another host's clock may
    run behind this one's: the reaper waits that long past a lease's expiry.
    ``max_abandoned_threads`` makes a supervised process ask to be replaced;
    ``parent_pid`` makes it stop when its supervisor is gone.

    ``queues`` (``runworkers --queue emails=4``) gives named queues their own threads:
    ``(("emails", 4), ("reports", 1))`` runs only those queues, each with at most that
    many jobs at once, and ``concurrency`` becomes their sum. ``None``: every queue, on
    ``concurrency`` threads. ``retention_interval``: seconds between two purges of
    finished jobs past their retention (``jobs.retention``). ``prefetch``: at most how
    many jobs to claim beyond the idle threads, when jobs are shorter than a turn
    (``prefetch.ClaimAhead``; never with named queues).
    """

    concurrency: int = 4
    lease_seconds: float = 30.0
    max_clock_skew: float = 60.0
    poll_interval: float = 0.25
    grace_period: float = 30.0
    retry_strategy: RetryStrategy = field(default_factory=RetryStrategy)
    max_jobs: int | None = None
    run_until_idle: bool = False
    renew_interval: float | None = None
    reap_interval: float | None = None
    watch_inserts: bool = True
    max_abandoned_threads: int | None = None
    parent_pid: int | None = None
    pool_id: str | None = None
    queues: tuple[tuple[str, int], ...] | None = None
    retention_interval: float = 60.0
    prefetch: int = 0

    def __post_init__(self):
        if self.queues is not None:
            if not self.queues or any(threads < 1 for _, threads in self.queues):
                raise ValueError("every named queue needs at least one worker thread")
            if len({name for name, _ in self.queues}) != len(self.queues):
                raise ValueError("a queue is named twice")
            # Frozen: the one place concurrency is derived rather than given.
            object.__setattr__(self, "concurrency", sum(threads for _, threads in self.queues))
        if self.concurrency < 1:
            raise ValueError("a pool needs at least one worker thread")
        if self.lease_seconds <= 0 or self.poll_interval <= 0:
            raise ValueError("the lease and the poll interval must be positive")
        if self.prefetch < 0:
            raise ValueError("prefetch cannot be negative")
        if self.max_clock_skew < 0:
            raise ValueError("the maximum clock skew cannot be negative")

    @classmethod
    def from_settings(cls, **overrides) -> "PoolOptions":
        """Options from ``JOBQUEUE_WORKERS``, ``JOBQUEUE_LEASE_SECONDS``,
        ``JOBQUEUE_MAX_CLOCK_SKEW``, ``JOBQUEUE_POLL_INTERVAL``, ``JOBQUEUE_PREFETCH`` and
        ``JOBQUEUE_RETRY_*``; ``overrides`` win (``None`` values are ignored, so
        command-line options can be passed straight through)."""
        options = cls(
            concurrency=settings.JOBQUEUE_WORKERS,
            lease_seconds=settings.JOBQUEUE_LEASE_SECONDS,
            max_clock_skew=settings.JOBQUEUE_MAX_CLOCK_SKEW,
            poll_interval=settings.JOBQUEUE_POLL_INTERVAL,
            prefetch=settings.JOBQUEUE_PREFETCH,
            retry_strategy=RetryStrategy.from_settings(),
        )
        return replace(options, **{name: value for name, value in overrides.items() if value is not None})

    @property
    def renew_every(self) -> float:
        # Renew well before expiry, so one slow or failed renewal does not lose a lease.
        return self.renew_interval or self.lease_seconds / 3

    @property
    def reap_every(self) -> float:
        return self.reap_interval or min(self.lease_seconds / 3, _MAX_REAP_INTERVAL)
