"""How long a failed job waits before its next attempt.

One small object owns the formula, so the worker, the reaper and the tests agree on it.
"""

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

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
    Instances are callables (``strategy(retry_count)``), which is what ``JobStore.reap``
    takes as ``retry_delay``.
    """

    base_delay: float = 2.0
    max_delay: float = 600.0
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    def __post_init__(self):
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays cannot be negative")

    @classmethod
    def from_settings(cls, **overrides) -> "RetryStrategy":
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

    __call__ = delay
