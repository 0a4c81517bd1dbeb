"""Use cases of periodic schedules, for the API, the admin, settings and the workers.

Ticking is safe with any number of worker pools: a pool enqueues a tick's job only
after moving the schedule's ``next_run_at`` on with a conditional write
(``JobStore.advance_schedule``), which exactly one pool wins; the job also carries the
unique key ``schedule:<name>@<tick>``. Ticks missed while no pool ran collapse into
one job: the latest missed tick's, at the next start.
"""

import logging
from collections.abc import Mapping
from dataclasses import replace

from django.conf import settings

from jobs.domain import Schedule
from jobs.errors import JobValidationError, ScheduleExists, ScheduleNotFound, plain_errors
from jobs.schedules import ScheduleInputSerializer, latest_tick, next_tick
from jobs.services import submit_job
from jobs.stores import get_store
from jobs.timeutil import Clock, isoformat_z, utc_now

logger = logging.getLogger(__name__)

# The fields a PATCH may change; a schedule's name is its identity.
_CHANGEABLE = ("type", "payload", "cron", "timezone", "queue", "priority", "enabled")


def _validated(data: Mapping) -> dict:
    given = ScheduleInputSerializer(data=data)
    if not given.is_valid():
        raise JobValidationError(plain_errors(given.errors))
    return dict(given.validated_data)


def _as_input(schedule: Schedule) -> dict:
    return {"name": schedule.name, **{field: getattr(schedule, field) for field in _CHANGEABLE}}


def create_schedule(data: Mapping, *, clock: Clock = utc_now) -> Schedule:
    """Validate and store a new schedule (``POST /schedules`` names); its first run is the
    first tick after now. ``JobValidationError`` naming the field at fault (``cron``,
    ``timezone``, ``payload.to``...) or ``ScheduleExists``; nothing is stored then."""
    fields = _validated(data)
    schedule = Schedule(**fields, next_run_at=next_tick(fields["cron"], fields["timezone"], clock()))
    if not get_store().insert_schedule(schedule):
        raise ScheduleExists(f"a schedule named {schedule.name!r} exists already")
    logger.info("created schedule %s (%s, %s %s)", schedule.name, schedule.type, schedule.cron, schedule.timezone)
    return schedule


def update_schedule(name: str, changes: Mapping, *, clock: Clock = utc_now) -> Schedule:
    """Apply a ``PATCH /schedules/<name>``: the given fields change, the rest stay. A new
    ``cron`` or ``timezone``, or enabling a disabled schedule, restarts its ticks from now
    (a disabled spell is not made up for). Refusals as ``create_schedule``; unknown name:
    ``ScheduleNotFound``."""
    current = get_schedule(name)
    if "name" in changes and changes["name"] != name:
        raise JobValidationError({"name": ["A schedule cannot be renamed: create a new one and delete this one."]})
    fields = _validated({**_as_input(current), **changes})
    updated = replace(current, **fields)
    restarts = (updated.cron, updated.timezone) != (current.cron, current.timezone) or (
        updated.enabled and not current.enabled
    )
    if restarts:
        updated = replace(updated, next_run_at=next_tick(updated.cron, updated.timezone, clock()))
    if not get_store().replace_schedule(updated):
        raise ScheduleNotFound(f"no schedule named {name!r}")
    logger.info("updated schedule %s", name)
    return updated


def get_schedule(name: str) -> Schedule:
    """The schedule of that name; ``ScheduleNotFound`` otherwise."""
    schedule = get_store().get_schedule(name)
    if schedule is None:
        raise ScheduleNotFound(f"no schedule named {name!r}")
    return schedule


def list_schedules() -> list[Schedule]:
    """Every schedule, by name."""
    return get_store().list_schedules()


def delete_schedule(name: str) -> None:
    """Forget a schedule (jobs it enqueued stay); ``ScheduleNotFound`` if there is none."""
    if not get_store().delete_schedule(name):
        raise ScheduleNotFound(f"no schedule named {name!r}")
    logger.info("deleted schedule %s", name)


def sync_schedules_from_settings(*, clock: Clock = utc_now) -> int:
    """Create or update, by name, each schedule of ``JOBQUEUE_SCHEDULES`` (a list of
    dicts as ``POST /schedules`` takes them); schedules not listed are left alone. How
    many it wrote. A bad entry raises ``JobValidationError`` naming it; the entries
    before it stay written."""
    written = 0
    for index, entry in enumerate(getattr(settings, "JOBQUEUE_SCHEDULES", [])):
        try:
            fields = _validated(entry)
            existing = get_store().get_schedule(fields["name"])
            if existing is None:
                create_schedule(entry, clock=clock)
                written += 1
            elif _as_input(existing) != fields:
                update_schedule(fields["name"], entry, clock=clock)
                written += 1
        except JobValidationError as error:
            raise JobValidationError({f"JOBQUEUE_SCHEDULES[{index}]": [str(error)]}) from error
    return written


def tick_schedules(*, clock: Clock = utc_now) -> int:
    """Enqueue one job for each enabled schedule whose next run has come (any number of
    missed ticks make one job, the latest's) and move its run times on. How many jobs
    this call enqueued; a tick another pool took first is not counted."""
    now = clock()
    enqueued = 0
    for schedule in get_store().list_schedules():
        if not schedule.enabled or schedule.next_run_at is None or schedule.next_run_at > now:
            continue
        tick = max(schedule.next_run_at, latest_tick(schedule.cron, schedule.timezone, now))
        following = next_tick(schedule.cron, schedule.timezone, now)
        won = get_store().advance_schedule(
            schedule.name, expected_next_run=schedule.next_run_at, next_run=following, last_run=tick
        )
        if won and _enqueue_tick(schedule, tick, clock):
            enqueued += 1
    return enqueued


def _enqueue_tick(schedule: Schedule, tick, clock: Clock) -> bool:
    request = {
        "type": schedule.type,
        "payload": schedule.payload,
        "priority": schedule.priority,
        "queue": schedule.queue,
        "uniqueKey": f"schedule:{schedule.name}@{isoformat_z(tick)}",
    }
    try:
        submitted = submit_job(request, clock=clock, schedule=schedule.name)
    except JobValidationError as error:  # its type's handler or payload rules changed since
        logger.error("schedule %s: tick %s not enqueued: %s", schedule.name, isoformat_z(tick), error)
        return False
    logger.info("schedule %s: enqueued %s job %s for %s", schedule.name, schedule.type, submitted.job.id, tick)
    return submitted.created
