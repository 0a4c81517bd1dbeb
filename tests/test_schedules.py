"""Periodic schedules on every store: ticks enqueue one job each however many pools
tick at once, missed ticks make one job, disabled schedules stay quiet. Fake clocks."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from jobs import schedule_services, services
from jobs.errors import JobValidationError, ScheduleExists
from jobs.retry import RetryStrategy
from jobs.worker import PoolOptions, WorkerPool
from tests.worker_support import run_pool

START = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)  # a Monday, 30 s past 10:00
EVERY_5 = {"name": "report", "type": "noop", "cron": "*/5 * * * *"}


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock(START)


def jobs_of(name):
    return [job for job in services.list_jobs(limit=500) if job.schedule == name]


def make_pool(store, clock, **options):
    defaults = {
        "concurrency": 1,
        "lease_seconds": 30.0,
        "poll_interval": 0.01,
        "grace_period": 5.0,
        "retry_strategy": RetryStrategy(base_delay=0, max_delay=0),
        "run_until_idle": True,
    }
    return WorkerPool(PoolOptions(**{**defaults, **options}), store=store, clock=clock)


def test_a_new_schedule_first_runs_at_its_next_tick(store, clock):
    schedule = schedule_services.create_schedule(EVERY_5, clock=clock)

    assert schedule.next_run_at == datetime(2026, 1, 5, 10, 5, tzinfo=UTC)
    assert schedule.last_run_at is None
    assert schedule_services.tick_schedules(clock=clock) == 0
    assert jobs_of("report") == []


def test_each_tick_enqueues_one_job_carrying_the_schedule(store, clock):
    schedule_services.create_schedule({**EVERY_5, "priority": 4}, clock=clock)

    clock.now = datetime(2026, 1, 5, 10, 5, tzinfo=UTC)
    assert schedule_services.tick_schedules(clock=clock) == 1
    assert schedule_services.tick_schedules(clock=clock) == 0
    clock.now = datetime(2026, 1, 5, 10, 10, 1, tzinfo=UTC)
    assert schedule_services.tick_schedules(clock=clock) == 1

    jobs = jobs_of("report")
    assert len(jobs) == 2
    assert {job.unique_key for job in jobs} == {
        "schedule:report@2026-01-05T10:05:00.000Z",
        "schedule:report@2026-01-05T10:10:00.000Z",
    }
    assert all(job.type == "noop" and job.priority == 4 for job in jobs)
    after = schedule_services.get_schedule("report")
    assert after.last_run_at == datetime(2026, 1, 5, 10, 10, tzinfo=UTC)
    assert after.next_run_at == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)


def test_two_pools_ticking_at_once_enqueue_one_job_per_tick(store, clock):
    schedule_services.create_schedule(EVERY_5, clock=clock)
    pools = [make_pool(store, clock) for _ in range(2)]
    ticks = 5
    for tick in range(1, ticks + 1):
        clock.now = START + timedelta(minutes=5 * tick)
        start = threading.Barrier(len(pools))
        counts = []

        def tick_pool(pool, start=start, counts=counts):
            start.wait(timeout=30)
            try:
                counts.append(pool.tick_schedules())
            finally:
                connections.close_all()  # this thread's, kept open by CONN_MAX_AGE otherwise

        threads = [threading.Thread(target=tick_pool, args=(pool,)) for pool in pools]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(counts) == [0, 1]

    assert len(jobs_of("report")) == ticks


def test_many_missed_ticks_make_one_job_at_the_next_start(store, clock, settings):
    schedule_services.create_schedule(EVERY_5, clock=clock)
    clock.now = START + timedelta(days=2)  # nothing ran for two days: 576 ticks missed

    run_pool(make_pool(store, clock))

    jobs = jobs_of("report")
    assert len(jobs) == 1
    assert jobs[0].unique_key == "schedule:report@2026-01-07T10:00:00.000Z"
    assert jobs[0].status == "completed"
    assert schedule_services.get_schedule("report").next_run_at == datetime(2026, 1, 7, 10, 5, tzinfo=UTC)
    assert schedule_services.tick_schedules(clock=clock) == 0


def test_a_disabled_schedule_does_not_tick_and_resumes_from_now(store, clock):
    schedule_services.create_schedule({**EVERY_5, "enabled": False}, clock=clock)
    clock.now = START + timedelta(hours=1)
    assert schedule_services.tick_schedules(clock=clock) == 0

    schedule_services.update_schedule("report", {"enabled": True}, clock=clock)

    assert schedule_services.tick_schedules(clock=clock) == 0  # the disabled hour is not made up for
    clock.now = START + timedelta(hours=1, minutes=5)
    assert schedule_services.tick_schedules(clock=clock) == 1
    assert len(jobs_of("report")) == 1


def test_ticks_follow_the_schedules_time_zone(store, clock):
    schedule_services.create_schedule(
        {"name": "morning", "type": "noop", "cron": "0 9 * * *", "timezone": "Europe/Paris"}, clock=clock
    )
    assert schedule_services.get_schedule("morning").next_run_at == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)


def test_settings_schedules_are_created_then_updated_by_name_at_pool_start(store, clock, settings):
    settings.JOBQUEUE_SCHEDULES = [EVERY_5]
    run_pool(make_pool(store, clock))
    assert schedule_services.get_schedule("report").cron == "*/5 * * * *"

    settings.JOBQUEUE_SCHEDULES = [{**EVERY_5, "cron": "0 * * * *"}]
    run_pool(make_pool(store, clock))

    [schedule] = schedule_services.list_schedules()
    assert schedule.cron == "0 * * * *"
    assert schedule.next_run_at == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


def test_a_bad_settings_schedule_is_named(store, clock, settings):
    settings.JOBQUEUE_SCHEDULES = [EVERY_5, {**EVERY_5, "name": "bad", "cron": "every day"}]
    with pytest.raises(JobValidationError) as refused:
        schedule_services.sync_schedules_from_settings(clock=clock)
    assert "JOBQUEUE_SCHEDULES[1]" in refused.value.errors


@pytest.mark.not_on_congodb("unique indexes")
def test_a_taken_name_is_refused(store, clock):
    schedule_services.create_schedule(EVERY_5, clock=clock)
    with pytest.raises(ScheduleExists):
        schedule_services.create_schedule({**EVERY_5, "cron": "@daily"}, clock=clock)
    assert schedule_services.get_schedule("report").cron == "*/5 * * * *"


def test_of_two_advances_from_the_same_run_only_the_first_applies(store, clock):
    schedule = schedule_services.create_schedule(EVERY_5, clock=clock)
    later = schedule.next_run_at + timedelta(minutes=5)

    first = store.advance_schedule(
        "report", expected_next_run=schedule.next_run_at, next_run=later, last_run=schedule.next_run_at
    )
    second = store.advance_schedule(
        "report", expected_next_run=schedule.next_run_at, next_run=later, last_run=schedule.next_run_at
    )

    assert (first, second) == (True, False)
