"""The retry strategy on its own: capped exponential backoff with full jitter."""

import random

import pytest

from jobs.retry import RetryStrategy


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


def test_the_strategy_is_the_callable_the_reaper_takes():
    strategy = RetryStrategy(base_delay=3, max_delay=10, random=lambda: 0.5)
    assert strategy(0) == 1.5
    assert strategy(4) == 5.0  # capped at 10, half of it


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
