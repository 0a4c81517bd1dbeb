"""The retry strategy on its own: capped exponential backoff with full jitter."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from jobs.domain import Job, Status
from jobs.handlers import DoNotRetry
from jobs.retry import GiveUp, LeaseExpired, RetryAt, RetryStrategy
from jobs.worker import JobTimedOut


def lowest(strategy_kwargs=None):
    return RetryStrategy(**(strategy_kwargs or {}), random=lambda: 0.0)


def highest(strategy_kwargs=None):
    # random() is in [0, 1): just below 1 gives the largest possible delay.
    return RetryStrategy(**(strategy_kwargs or {}), random=lambda: 1.0 - 2**-53)


@pytest.mark.parametrize(
    ("retry_count", "ceiling"),
    [(0, 2.0), (1, 4.0), (2, 8.0), (3, 16.0), (5, 64.0), (8, 512.0), (9, 600.0), (50, 600.0), (10_000, 600.0)],
)
def test_ceiling_doubles_per_retry_from_the_base_up_to_the_cap(retry_count, ceiling):
    assert RetryStrategy(base_delay=2, max_delay=600).ceiling(retry_count) == ceiling


@pytest.mark.parametrize("retry_count", [0, 1, 2, 3, 7, 20])
def test_delay_spans_zero_to_the_ceiling_with_full_jitter(retry_count):
    ceiling = RetryStrategy(base_delay=2, max_delay=600).ceiling(retry_count)

    assert lowest({"base_delay": 2, "max_delay": 600}).delay(retry_count) == 0.0
    assert highest({"base_delay": 2, "max_delay": 600}).delay(retry_count) == pytest.approx(ceiling)
    assert highest({"base_delay": 2, "max_delay": 600}).delay(retry_count) < ceiling


def test_delays_from_a_real_random_source_stay_in_range_and_spread_out():
    strategy = RetryStrategy(base_delay=2, max_delay=600, random=random.Random(42).random)
    for retry_count in range(12):
        delays = [strategy.delay(retry_count) for _ in range(500)]
        ceiling = strategy.ceiling(retry_count)
        assert all(0 <= delay < ceiling for delay in delays)
        # Full jitter: the delays cover the range, not a narrow band near the ceiling.
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_delay_scales_the_capped_ceiling_by_the_random_draw():
    strategy = RetryStrategy(base_delay=3, max_delay=10, random=lambda: 0.5)
    assert strategy.delay(0) == 1.5
    assert strategy.delay(4) == 5.0  # capped at 10, half of it


NOW = datetime(2026, 2, 2, 5, 30, 0, 123000, tzinfo=UTC)


def held_job(*, retry_count: int, max_retries: int) -> Job:
    return Job(
        id="0" * 24,
        type="noop",
        payload={},
        status=Status.PROCESSING,
        retry_count=retry_count,
        max_retries=max_retries,
        priority=0,
        run_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize("error", [RuntimeError("boom"), LeaseExpired("lease expired"), JobTimedOut("too slow")])
def test_decide_retries_after_the_backoff_while_retries_remain(error):
    strategy = RetryStrategy(base_delay=3, max_delay=10, random=lambda: 0.5)

    decision = strategy.decide(held_job(retry_count=1, max_retries=2), error, NOW)

    assert decision == RetryAt(NOW + timedelta(seconds=3))  # ceiling 6, half of it


@pytest.mark.parametrize("error", [RuntimeError("boom"), LeaseExpired("lease expired")])
def test_decide_gives_up_when_the_retries_are_spent(error):
    assert RetryStrategy().decide(held_job(retry_count=2, max_retries=2), error, NOW) == GiveUp()


def test_decide_gives_up_at_once_on_do_not_retry():
    assert RetryStrategy().decide(held_job(retry_count=0, max_retries=5), DoNotRetry("bad input"), NOW) == GiveUp()


def test_decide_keeps_whole_milliseconds():
    strategy = RetryStrategy(base_delay=1, max_delay=1, random=lambda: 0.0004567)

    decision = strategy.decide(held_job(retry_count=0, max_retries=1), RuntimeError(), NOW)

    assert decision == RetryAt(NOW)  # 0.4567 ms rounds down to the millisecond


def test_zero_base_delay_retries_at_once():
    assert highest({"base_delay": 0, "max_delay": 600}).delay(7) == 0.0


def test_negative_delays_are_refused():
    with pytest.raises(ValueError, match="negative"):
        RetryStrategy(base_delay=-1)


def test_from_settings_reads_the_configured_delays(settings):
    settings.JOBQUEUE_RETRY_BASE_DELAY = 0.5
    settings.JOBQUEUE_RETRY_MAX_DELAY = 3.0
    strategy = RetryStrategy.from_settings()
    assert (strategy.base_delay, strategy.max_delay) == (0.5, 3.0)
    assert strategy.ceiling(10) == 3.0


def test_defaults_are_two_seconds_base_and_ten_minutes_cap():
    strategy = RetryStrategy()
    assert (strategy.base_delay, strategy.max_delay) == (2.0, 600.0)
