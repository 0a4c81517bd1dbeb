"""Whether a failed attempt is retried, and when.

One small object owns the decision and the backoff formula, so the worker, the reaper
and ``DoNotRetry`` go through the same place and the tests agree with them.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from jobs.timeutil import truncate_ms

if TYPE_CHECKING:
    from jobs.domain import Job


class DoNotRetry(Exception):
    """Raise from a handler to fail the job at once, whatever retries remain."""


class LeaseExpired(Exception):
    """The job's worker was lost: its lease expired before it recorded a result."""


@dataclass(frozen=True)
class RetryAt:
    """Decision: run the job again at ``run_at``."""

    run_at: datetime


@dataclass(frozen=True)
class GiveUp:
    """Decision: the job has failed for good."""


Decision = RetryAt | GiveUp

# 2 ** 64 seconds is beyond any cap anyone would set; stopping there keeps the
# arithmetic in floats without overflow for absurd retry counts.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class RetryStrategy:
    """Capped exponential backoff with full jitter.

    After a failed attempt of a job that had already been retried ``retry_count`` times,
    the next attempt waits::

        ceiling = min(max_delay, base_delay * 2 ** retry_count)
        delay   = uniform(0, ceiling)          # "full jitter"

    so with the defaults (base 2 s, cap 600 s) the first retry waits up to 2 s, the
    second up to 4 s, the third up to 8 s, and no retry ever waits more than 10 minutes.
    Full jitter spreads out jobs that failed together (an outage) so they do not all
    come back at the same instant.

    ``random`` returns a float in [0, 1); inject one to make delays predictable in tests.
    ``decide`` is the one place that chooses between retrying and failing for good.
    """

    base_delay: float = 2.0
    max_delay: float = 600.0
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    def __post_init__(self):
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays cannot be negative")

    @classmethod
    def from_settings(cls, **overrides) -> RetryStrategy:
        """The strategy configured by ``JOBQUEUE_RETRY_BASE_DELAY`` and ``JOBQUEUE_RETRY_MAX_DELAY``."""
        options = {
            "base_delay": settings.JOBQUEUE_RETRY_BASE_DELAY,
            "max_delay": settings.JOBQUEUE_RETRY_MAX_DELAY,
        }
        options.update(overrides)
        return cls(**options)

    def ceiling(self, retry_count: int) -> float:
        """The longest wait after a failure of a job retried ``retry_count`` times so far."""
        exponent = min(max(retry_count, 0), _MAX_EXPONENT)
        return min(self.max_delay, self.base_delay * 2.0**exponent)

    def delay(self, retry_count: int) -> float:
        """Seconds to wait before the next attempt: uniform in [0, ceiling(retry_count))."""
        return self.ceiling(retry_count) * self.random()

    def decide(self, job: Job, error: BaseException, now: datetime) -> Decision:
        """After ``job``'s attempt failed with ``error`` at ``now``: retry at a time, or give up.

        Gives up on ``DoNotRetry`` and when the job's retries are spent; otherwise the
        next attempt is due ``delay(job.retry_count)`` after ``now`` (whole milliseconds).
        """
        if isinstance(error, DoNotRetry) or job.retry_count >= job.max_retries:
            return GiveUp()
        return RetryAt(truncate_ms(now + timedelta(seconds=self.delay(job.retry_count))))
