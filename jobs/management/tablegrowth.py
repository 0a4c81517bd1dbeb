"""``benchqueue --finished N``: whether a table full of finished jobs slows the queue.

Two databases side by side (``jobs.management.secondstore``): the benchmark's own, with
an empty table, and a second one pre-filled with N finished jobs (one bulk insert). Each
of R rounds measures both in turn, the empty one first in odd rounds and the full one
first in even rounds, so that a slow spell of the machine falls on both rather than on
one of two phases run one after the other. The medians, their ratios (full ÷ empty) and
each round's ratios show the effect and the spread; the claim's partial indexes should
not notice the finished jobs. Its two timed passes (``timed_enqueue``,
``timed_processing``) are also ``benchqueue``'s main measurement.
"""

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta

from jobs import services
from jobs.domain import NewJob
from jobs.management.measures import StoreTimers
from jobs.stores import JobStore, use_store
from jobs.timeutil import utc_now
from jobs.worker import PoolOptions, WorkerPool

NOOP_TYPE = "benchqueue.noop"


def enqueue_noops(count: int, batch: int) -> None:
    """Enqueue ``count`` no-op jobs one by one, or ``batch`` at a time through ``enqueue_many``
    (the ``NOOP_TYPE`` handler must be registered)."""
    if not batch:
        for _ in range(count):
            services.enqueue(NOOP_TYPE, {})
        return
    for start in range(0, count, batch):
        services.enqueue_many([{"type": NOOP_TYPE, "payload": {}}] * min(batch, count - start))


@dataclass(frozen=True)
class Speeds:
    """One measurement of one table."""

    enqueue_rate: float  # jobs/s
    enqueue_cpu_us: float  # CPU µs per enqueue, every thread of the process
    process_rate: float  # jobs/s
    claim_us: float  # µs in store.claim per job

    def line(self) -> str:
        return (
            f"enqueue {self.enqueue_rate:7.0f} jobs/s, CPU {self.enqueue_cpu_us:4.0f} µs per job; "
            f"processing {self.process_rate:7.0f} jobs/s, {self.claim_us:4.0f} µs in store.claim per job"
        )


#: The ratios printed, each (label, figure): full ÷ empty of that figure.
RATIOS = (
    ("enqueue rate", "enqueue_rate"),
    ("enqueue CPU per job", "enqueue_cpu_us"),
    ("claim time per job", "claim_us"),
    ("processing rate", "process_rate"),
)


def until_idle_pool(store: JobStore, concurrency: int) -> WorkerPool:
    """A pool of ``concurrency`` threads on ``store`` whose ``run()`` returns once no job is left."""
    return WorkerPool(PoolOptions.from_settings(concurrency=concurrency, run_until_idle=True), store=store)


@dataclass(frozen=True)
class EnqueuePass:
    """A timed pass of enqueues: wall seconds, and the process's CPU per job."""

    jobs: int
    seconds: float
    user_us: float
    system_us: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.user_us + self.system_us


def timed_enqueue(count: int, batch: int) -> EnqueuePass:
    """``enqueue_noops(count, batch)`` timed. Nothing else may run in the process meanwhile:
    its CPU time is taken as the enqueues'."""
    cpu_at_start = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    enqueue_noops(count, batch)
    seconds = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    user_us = (cpu.ru_utime - cpu_at_start.ru_utime) / count * 1e6
    return EnqueuePass(count, seconds, user_us, (cpu.ru_stime - cpu_at_start.ru_stime) / count * 1e6)


@dataclass(frozen=True)
class ProcessingPass:
    """A timed run of a pool until no job is left."""

    seconds: float
    cpu_us: float  # the whole run, every thread of the process
    in_store: dict[str, float]  # seconds the dispatcher spent in each timed store method


def timed_processing(store: JobStore, concurrency: int, methods: tuple[str, ...] = ("claim",)) -> ProcessingPass:
    """Run ``until_idle_pool(store, concurrency)``, timing it and ``store``'s ``methods``."""
    pool = until_idle_pool(store, concurrency)
    timers = StoreTimers(store, methods)
    cpu_at_start = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with timers:
        pool.run()
    seconds = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    cpu_us = (cpu.ru_utime + cpu.ru_stime - cpu_at_start.ru_utime - cpu_at_start.ru_stime) * 1e6
    return ProcessingPass(seconds, cpu_us, dict(timers.seconds))


class FinishedJobsComparison:
    """Speeds on ``empty`` and on ``full`` (two stores of one kind, on two databases
    side by side) once ``full`` holds ``finished`` finished jobs, in ``rounds``
    interleaved rounds: ``jobs`` no-op jobs each time, enqueued one by one or ``bulk`` at
    a time, then processed by a pool of ``concurrency`` threads."""

    def __init__(
        self,
        empty: JobStore,
        full: JobStore,
        *,
        jobs: int,
        bulk: int,
        concurrency: int,
        finished: int,
        rounds: int,
    ):
        self.stores = {"empty": empty, "full": full}
        self.jobs = jobs
        self.bulk = bulk
        self.concurrency = concurrency
        self.finished = finished
        self.rounds = rounds
        self._labels = {"empty": "empty table", "full": f"{finished} finished jobs"}

    def run(self, write: Callable[[str], object]) -> None:
        """Pre-fill ``full``, measure both in interleaved rounds, and ``write`` each
        round's figures, the medians, their ratios and each round's ratios."""
        full = self.stores["full"]
        write(f"Finished jobs: the empty table in {self.stores['empty'].describe()}, the full one in {full.describe()}")
        started = time.perf_counter()
        full.fill_finished(self.finished, finished_at=utc_now() - timedelta(hours=1), type=NOOP_TYPE)
        write(f"Pre-filled {self.finished} finished jobs in {time.perf_counter() - started:.1f} s")
        measured = self._interleaved_rounds(write)
        medians = {which: _median(speeds) for which, speeds in measured.items()}
        for which, speeds in medians.items():
            write(f"Median,  {self._label(which)} {speeds.line()}")
        write(
            f"Beside {self.finished} finished jobs (median full ÷ median empty): "
            + ", ".join(f"{label} x{_ratio(medians, name):.2f}" for label, name in RATIOS)
            + " (1.00 = unchanged)"
        )
        pairs = [{"empty": empty, "full": full} for empty, full in zip(*measured.values(), strict=True)]
        per_round = []
        for label, name in RATIOS:
            per_round.append(f"{label} " + " ".join(f"x{_ratio(pair, name):.2f}" for pair in pairs))
        write("Each round (full ÷ empty): " + "; ".join(per_round))
        stored = {which: sum(store.count_by_type_and_status().values()) for which, store in self.stores.items()}
        write(
            f"Jobs stored after the rounds: {stored['empty']} in the empty table's database (the rounds' own), "
            f"{stored['full']} in the full one ({self.finished} pre-filled and the rounds' own)"
        )

    def _interleaved_rounds(self, write: Callable[[str], object]) -> dict[str, list[Speeds]]:
        """Each table's speeds, round by round, each round's written as measured."""
        measured: dict[str, list[Speeds]] = {"empty": [], "full": []}
        previous = use_store(self.stores["empty"])
        try:
            for round_number in range(1, self.rounds + 1):
                # Alternated so that neither table always follows the other (caches, WAL, turbo).
                order = ("empty", "full") if round_number % 2 else ("full", "empty")
                for which in order:
                    speeds = self._measure(self.stores[which])
                    measured[which].append(speeds)
                    write(f"Round {round_number}, {self._label(which)} {speeds.line()}")
        finally:
            use_store(previous)
        return measured

    def _label(self, which: str) -> str:
        width = max(map(len, self._labels.values())) + 1
        return f"{self._labels[which] + ':':{width}}"

    def _measure(self, store: JobStore) -> Speeds:
        """Enqueue ``jobs`` through the services (``store`` being the process's store)
        and run them (untimed), then insert as many at once and time their processing."""
        use_store(store)
        enqueued = timed_enqueue(self.jobs, self.bulk)
        until_idle_pool(store, self.concurrency).run()

        store.insert_many([NewJob(type=NOOP_TYPE, payload={}, max_retries=0) for _ in range(self.jobs)], now=utc_now())
        processing = timed_processing(store, self.concurrency)
        claim_us = processing.in_store["claim"] / self.jobs * 1e6
        return Speeds(enqueued.rate, enqueued.cpu_us, self.jobs / processing.seconds, claim_us)


def _median(measured: list[Speeds]) -> Speeds:
    return Speeds(*(statistics.median(getattr(speeds, field.name) for speeds in measured) for field in fields(Speeds)))


def _ratio(pair: dict[str, Speeds], name: str) -> float:
    return getattr(pair["full"], name) / getattr(pair["empty"], name)
