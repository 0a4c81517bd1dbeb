"""``benchqueue``'s passes after the timed one: the same workload again, once with the
driver hooked to count round trips, once (SQLite) with SQLite's calls timed to split an
enqueue's CPU. Passes of their own, so that neither hook's cost is timed as ours."""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from django.db import connections

from jobs.management.roundtrips import OTHER, RoundTripCounter
from jobs.management.sqlitetime import EnqueueSplit, SqliteCallTimer, measure_enqueue_split
from jobs.management.tablegrowth import enqueue_noops, until_idle_pool
from jobs.stores import JobStore

#: The phases whose round trips per job are printed; store methods that get their own.
PHASES = ("enqueue", "claim", "record", "upkeep")
METHOD_PHASES = {"claim": "claim", "record_results": "record"}
MONGOMOCK_UNMEASURED = "not measured: mongomock is no driver and fires no CommandListener events"


@dataclass
class RoundTrips:
    """How this run counts round trips: a counter and the hook that feeds it (active only
    during the counted pass, after the timed one), or why they cannot be counted here."""

    counter: RoundTripCounter | None
    hook: AbstractContextManager = field(default_factory=nullcontext)
    unit: str = ""
    unmeasured: str = ""


def _run_pool(store: JobStore, options) -> None:
    until_idle_pool(store, options["concurrency"]).run()


def split_enqueue(store: JobStore, options, write: Callable[[str], object]) -> EnqueueSplit | None:
    """On SQLite, enqueue the workload again with SQLite's calls timed, ``write`` how an
    enqueue's CPU splits between SQLite and the Python around it, and run the jobs
    (untimed); ``None`` elsewhere."""
    using = getattr(store, "using", None)
    if using is None or connections[using].vendor != "sqlite":
        return None
    count = options["jobs"]
    timer = SqliteCallTimer(using)
    with timer.installed():
        split = measure_enqueue_split(lambda: enqueue_noops(count, options["bulk"]), count, timer)
    write(f"Split:       {split.describe()}")
    _run_pool(store, options)
    return split


def count_round_trips(store: JobStore, options, round_trips: RoundTrips, write: Callable[[str], object]) -> dict | None:
    """Run the same workload again with the driver hooked and ``write`` the round trips per
    job of each phase, as the driver counted them (and what of each kind); the figures by
    phase, or ``None`` when they cannot be counted.

    The hook costs a Python call per statement (one per row of an ``executemany``), which
    would be timed as ours in the timed pass.
    """
    if round_trips.counter is None:
        write(f"Round trips: {round_trips.unmeasured}")
        return None
    counter = round_trips.counter
    count = options["jobs"]
    with round_trips.hook:
        counter.phase = "enqueue"
        enqueue_noops(count, options["bulk"])
        counter.phase = "upkeep"
        with counter.attribute_methods(store, METHOD_PHASES):
            _run_pool(store, options)
        counter.phase = OTHER
    per_job = {phase: counter.total(phase) / count for phase in PHASES}
    write(
        f"Round trips: {sum(per_job.values()):8.2f} per job  ("
        + ", ".join(f"{phase} {figure:.2f}" for phase, figure in per_job.items())
        + f"; {round_trips.unit})"
    )
    for phase in PHASES:
        kinds = counter.by_kind(phase).most_common()
        if kinds:
            write(f"             {phase}, for {count} jobs: " + ", ".join(f"{n} {kind}" for kind, n in kinds))
    return per_job
