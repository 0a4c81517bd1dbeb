"""``manage.py benchqueue``: throughput, pickup latency and round trips of the queue.

Enqueues no-op jobs, runs them on a worker pool of this process, and prints the enqueue
rate, the processing rate, the pickup latency of a job enqueued in this process (woken
through ``jobs.wakeups``) and of one inserted as another process would (found by
polling), and the round trips per job of each phase (enqueue, claim, record, upkeep) as
the database driver sent them (``jobs.management.roundtrips`` says what one counts).

``--tmpfs`` puts the SQLite file in /dev/shm, where fsync costs nothing, so the enqueue
time left is the Python (and SQLite) cost per job; every run also prints the CPU time per
enqueue. ``--finished N`` first pre-fills N finished jobs (one bulk insert) and prints
the claim and processing speed on the empty table and then beside those N jobs, which
the claim's index should not notice. ``--json`` adds one machine-readable line of the figures at the end, which
``bench/peers.py`` (``make bench-peers``) parses; ``--probes 0`` skips the pickup latencies.

It never touches the service's own jobs: the SQL store runs on a fresh temporary SQLite
file (or ``--database PATH``, or a throwaway database created on the PostgreSQL server
of ``--database-url`` and dropped afterwards) in a child process whose ``DATABASE_URL``
points there; the
MongoDB store runs on mongomock (``--store mongomock``) or, with ``MONGODB_URI`` set, in
a throwaway database on that server that is dropped afterwards. mongomock is no driver
and reports no commands, so its round trips are not measured (and the output says so).
"""

import json
import math
import random
import resource
import statistics
import tempfile
import threading
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from jobs import handlers, services
from jobs.management.roundtrips import OTHER, MongoCommands, RoundTripCounter, SqlStatements
from jobs.management.scratch import in_scratch_database, run_in_scratch_database, throwaway_server_database
from jobs.models import NewJob, Status
from jobs.stores import JobStore, StoreUnavailable, build_store, store_backend, use_store
from jobs.timeutil import utc_now
from jobs.worker import PoolOptions, WorkerPool

NOOP_TYPE = "benchqueue.noop"
#: Where ``--tmpfs`` puts the scratch database: a RAM file system, so fsync is free.
TMPFS_DIR = Path("/dev/shm")
PROBE_TYPE = "benchqueue.probe"
#: The phases whose round trips per job are printed; store methods that get their own.
PHASES = ("enqueue", "claim", "record", "upkeep")
METHOD_PHASES = {"claim": "claim", "record_results": "record"}
MONGOMOCK_UNMEASURED = "not measured: mongomock is no driver and fires no CommandListener events"


@dataclass
class RoundTrips:
    """How this run counts round trips: a counter and the hook that feeds it (installed
    while the benchmark runs), or why they cannot be counted on this store."""

    counter: RoundTripCounter | None
    hook: AbstractContextManager = field(default_factory=nullcontext)
    unit: str = ""
    unmeasured: str = ""


@dataclass
class Probes:
    """When each probe job's handler started (perf_counter), by probe number."""

    started: dict
    event: threading.Event

    def handle(self, payload, context):
        self.started[payload["n"]] = time.perf_counter()
        self.event.set()


class StoreTimers:
    """Time spent in some store methods while active (wraps them on the instance)."""

    def __init__(self, store: JobStore, names: tuple[str, ...]):
        self.store = store
        self.seconds = dict.fromkeys(names, 0.0)

    def _timed(self, name: str, method):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed

    def __enter__(self):
        for name in self.seconds:
            setattr(self.store, name, self._timed(name, getattr(self.store, name)))
        return self

    def __exit__(self, *exc_info):
        for name in self.seconds:
            delattr(self.store, name)


class RssSampler:
    """The process's resident size (not the peak), sampled on a thread while active,
    so growth over a run shows whether memory is kept per job."""

    def __init__(self, every: float = 0.1):
        self.every = every
        self.samples: list[float] = []  # MiB, oldest first
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="benchqueue-rss", daemon=True)

    @staticmethod
    def current_mib() -> float:
        """Resident size now (Linux ``/proc/self/statm``; the peak where that is missing)."""
        try:
            resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return resident_pages * resource.getpagesize() / 2**20

    def _sample(self):
        while not self._done.wait(self.every):
            self.samples.append(self.current_mib())

    def __enter__(self):
        self.samples.append(self.current_mib())
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        self._thread.join()
        self.samples.append(self.current_mib())

    def start_middle_end(self) -> tuple[float, float, float]:
        return self.samples[0], self.samples[len(self.samples) // 2], self.samples[-1]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in (0, 1])."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Command(BaseCommand):
    help = (
        "Benchmark the queue: enqueue and run no-op jobs, measure processing rate, pickup latency "
        "and store round trips per job. Never touches the service's own jobs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=5000, help="No-op jobs to enqueue and run (default: 5000).")
        parser.add_argument(
            "--concurrency", type=int, default=8, help="Worker threads of the benchmark's pool (default: 8)."
        )
        parser.add_argument(
            "--store",
            choices=["configured", "sql", "mongomock"],
            default="configured",
            help="Which store to measure: the configured kind (MongoDB when MONGODB_URI is set, else SQL), "
            "the SQL store on SQLite, or the MongoDB store on mongomock (default: configured).",
        )
        parser.add_argument(
            "--database",
            default=None,
            help="SQLite file for the SQL store (default: a fresh temporary file, deleted afterwards).",
        )
        parser.add_argument(
            "--database-url",
            default=None,
            help="Run the SQL store on this PostgreSQL server (postgres://user:password@host:port/db): the "
            "benchmark creates a throwaway database there (the user needs CREATEDB) and drops it afterwards.",
        )
        parser.add_argument(
            "--tmpfs",
            action="store_true",
            help=f"Put the SQL store's temporary SQLite file in {TMPFS_DIR} (RAM), where fsync is free, so the "
            "enqueue time is the Python and SQLite cost alone.",
        )
        parser.add_argument(
            "--probes",
            type=int,
            default=40,
            help="Jobs per pickup-latency measurement (default: 40; the polling one takes about "
            "probes x poll interval; 0 skips the pickup measurements).",
        )
        parser.add_argument(
            "--bulk",
            type=int,
            default=0,
            help="Enqueue in batches of this many jobs through enqueue_many (POST /jobs/bulk), "
            f"1 to {services.MAX_BULK_JOBS}; default 0: one by one.",
        )
        parser.add_argument(
            "--finished",
            type=int,
            default=0,
            help="Pre-fill this many finished jobs and print enqueue, claim and processing speed on the empty "
            "table and beside them (default: 0, skip).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Also print the figures as one JSON object on the last line (for bench/peers.py).",
        )

    def handle(self, *args, **options):
        if options["jobs"] < 1 or options["concurrency"] < 1:
            raise CommandError("--jobs and --concurrency must be 1 or more")
        if options["probes"] < 0 or options["finished"] < 0:
            raise CommandError("--probes and --finished must be 0 or more")
        if not 0 <= options["bulk"] <= services.MAX_BULK_JOBS:
            raise CommandError(f"--bulk must be from 0 to {services.MAX_BULK_JOBS}")
        kind = options["store"]
        if kind == "configured":
            kind = store_backend().kind
        if options["database_url"]:
            if options["tmpfs"] or options["database"] or options["store"] == "mongomock":
                raise CommandError("--database-url runs the SQL store on that server: not with --tmpfs or --database")
            kind = "sql"
        if options["tmpfs"] and (kind != "sql" or options["database"]):
            raise CommandError("--tmpfs applies to the SQL store's temporary database only (not with --database)")
        if kind == "sql":
            self._bench_sql(options)
        elif kind == "mongomock":
            try:
                # The test suite's stand-in for a server, a dev requirement.
                from tests.mongomock_store import MongomockJobStore
            except ImportError:
                raise CommandError("--store mongomock needs mongomock (pip install -r requirements-dev.txt)") from None
            self._bench(MongomockJobStore("jobqueue_bench"), options, RoundTrips(None, unmeasured=MONGOMOCK_UNMEASURED))
        elif kind != "mongodb":
            raise CommandError(f"benchqueue measures the sql and mongodb stores, not {kind!r}")
        else:
            # The configured server, in a throwaway database dropped afterwards.
            config = settings.JOBQUEUE_STORE
            counter = RoundTripCounter()
            commands = MongoCommands(counter)
            bench_options = {
                **config.get("OPTIONS", {}),
                "database_name": f"jobqueue_bench_{uuid.uuid4().hex[:8]}",
                "event_listeners": [commands.listener()],
            }
            store = build_store({**config, "OPTIONS": bench_options})
            try:
                self._bench(store, options, RoundTrips(counter, commands, MongoCommands.unit))
            finally:
                store.drop_database()

    # -- where the jobs go ----------------------------------------------------------------------
    def _bench_sql(self, options):
        """Run on ``--database`` (or a temporary file): directly when Django's database is
        already that file, else in a child process whose DATABASE_URL points there."""
        connection = connections["default"]
        target = options["database"]
        already_there = in_scratch_database() or (
            target
            and connection.vendor == "sqlite"
            and Path(str(connection.settings_dict["NAME"])).resolve() == Path(target).resolve()
        )
        if already_there:
            call_command("migrate", interactive=False, verbosity=0)
            from jobs.stores.sql import SqlJobStore

            store = SqlJobStore()
            counter = RoundTripCounter()
            statements = SqlStatements(counter, store.using)
            self._bench(store, options, RoundTrips(counter, statements, statements.unit))
            return
        arguments = ["benchqueue", "--store=sql", f"--jobs={options['jobs']}"]
        arguments += [f"--concurrency={options['concurrency']}", f"--probes={options['probes']}"]
        arguments += [f"--bulk={options['bulk']}"]
        arguments += [f"--finished={options['finished']}"]
        arguments += ["--json"] if options["json"] else []
        if options["database_url"]:
            with throwaway_server_database(options["database_url"]) as url:
                run_in_scratch_database(arguments, stdout=self.stdout, database_url=url)
            return
        if not options["tmpfs"]:
            run_in_scratch_database(arguments, stdout=self.stdout, database=Path(target) if target else None)
            return
        if not TMPFS_DIR.is_dir():
            raise CommandError(f"--tmpfs needs {TMPFS_DIR} (a RAM file system), which this machine does not have")
        with tempfile.TemporaryDirectory(prefix="jobqueue-bench-", dir=TMPFS_DIR) as scratch:
            run_in_scratch_database(arguments, stdout=self.stdout, database=Path(scratch) / "bench.sqlite3")

    # -- the measurements -----------------------------------------------------------------------
    def _bench(self, store: JobStore, options, round_trips: RoundTrips):
        try:
            store.ensure_ready()
        except StoreUnavailable as error:
            raise CommandError(str(error)) from error
        previous = use_store(store)
        probes = Probes(started={}, event=threading.Event())
        handlers.handler(NOOP_TYPE)(lambda payload, context: None)
        handlers.handler(PROBE_TYPE)(probes.handle)
        try:
            self._run(store, options, probes, round_trips)
        finally:
            handlers.unregister(NOOP_TYPE)
            handlers.unregister(PROBE_TYPE)
            use_store(previous)

    def _run(self, store: JobStore, options, probes: Probes, round_trips: RoundTrips):
        count, concurrency = options["jobs"], options["concurrency"]
        poll = settings.JOBQUEUE_POLL_INTERVAL
        write = self.stdout.write
        write(f"Store: {store.describe()}")
        write(f"{count} no-op jobs, {concurrency} worker threads, poll interval {poll:g} s")
        if options["finished"]:
            self._compare_with_finished(store, options)

        cpu_at_start = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        self._enqueue(count, options["bulk"])
        enqueue_seconds = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        # Only this thread runs during the loop, so the process's CPU time is the enqueues'.
        user_us = (cpu.ru_utime - cpu_at_start.ru_utime) / count * 1e6
        system_us = (cpu.ru_stime - cpu_at_start.ru_stime) / count * 1e6
        rate = count / enqueue_seconds
        how = f"in batches of {options['bulk']} (enqueue_many)" if options["bulk"] else "one by one"
        write(f"Enqueue:     {rate:8.0f} jobs/s  ({count} enqueued {how} in {enqueue_seconds:.2f} s)")
        write(
            f"             {enqueue_seconds / count * 1e6:.0f} µs per enqueue, of which CPU {user_us:.0f} µs "
            f"user + {system_us:.0f} µs system (the rest is waiting: fsync, locks, other processes)"
        )

        rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        completed_before = store.count_by_type_and_status().get((NOOP_TYPE, Status.COMPLETED.value), 0)
        pool = WorkerPool(PoolOptions.from_settings(concurrency=concurrency, run_until_idle=True), store=store)
        timers = StoreTimers(store, ("claim", "record_results"))
        started = time.perf_counter()
        with timers, RssSampler() as rss:
            pool.run()
        process_seconds = time.perf_counter() - started
        done = store.count_by_type_and_status().get((NOOP_TYPE, Status.COMPLETED.value), 0) - completed_before
        write(
            f"Processing:  {done / process_seconds:8.0f} jobs/s  ({done} of {count} completed in "
            f"{process_seconds:.2f} s, every status kept)"
        )
        write(
            "             the dispatcher spent "
            + ", ".join(f"{seconds / process_seconds:.0%} in store.{name}" for name, seconds in timers.seconds.items())
            + " (the rest: commits, handing jobs to threads, Python, waiting)"
        )
        per_job = self._count_round_trips(store, options, round_trips)
        # Peak resident size (Linux reports KiB): growth over the run is memory kept per job.
        rss_after_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss_start, rss_middle, rss_end = rss.start_middle_end()
        write(
            f"Memory:      RSS while processing {rss_start:.1f} MiB at the start, {rss_middle:.1f} MiB halfway, "
            f"{rss_end:.1f} MiB at the end ({rss_end - rss_start:+.1f} MiB); peak RSS {rss_before_kib / 1024:.1f} "
            f"MiB before processing, {rss_after_kib / 1024:.1f} MiB after"
        )
        figures = {
            "store": store.describe(),
            "jobs": count,
            "concurrency": concurrency,
            "enqueue_per_second": rate,
            "enqueue_batch": options["bulk"] or 1,
            "enqueue_us_per_job": enqueue_seconds / count * 1e6,
            "enqueue_cpu_us_per_job": user_us + system_us,
            "process_per_second": done / process_seconds,
            "completed": done,
            "peak_rss_mib_before": rss_before_kib / 1024,
            "peak_rss_mib_after": rss_after_kib / 1024,
            "round_trips_per_job": per_job,
            "rss_mib_start_middle_end": [rss_start, rss_middle, rss_end],
        }
        if options["probes"]:
            self._measure_pickup(store, options, probes)
        if options["json"]:
            write(json.dumps(figures))

    def _count_round_trips(self, store: JobStore, options, round_trips: RoundTrips) -> dict | None:
        """Run the same workload again with the driver hooked and print the round trips per
        job of each phase, as the driver counted them (and what of each kind); the figures
        by phase, or ``None`` when they cannot be counted.

        A pass of its own, after the timed one: the hook costs a Python call per statement
        (one per row of an ``executemany``), which would otherwise be timed as ours.
        """
        write = self.stdout.write
        if round_trips.counter is None:
            write(f"Round trips: {round_trips.unmeasured}")
            return None
        counter = round_trips.counter
        count = options["jobs"]
        pool = WorkerPool(
            PoolOptions.from_settings(concurrency=options["concurrency"], run_until_idle=True), store=store
        )
        with round_trips.hook:
            counter.phase = "enqueue"
            self._enqueue(count, options["bulk"])
            counter.phase = "upkeep"
            with counter.attribute_methods(store, METHOD_PHASES):
                pool.run()
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

    @staticmethod
    def _enqueue(count: int, batch: int) -> None:
        """Enqueue ``count`` no-op jobs one by one, or ``batch`` at a time through ``enqueue_many``."""
        if not batch:
            for _ in range(count):
                services.enqueue(NOOP_TYPE, {})
            return
        for start in range(0, count, batch):
            services.enqueue_many([{"type": NOOP_TYPE, "payload": {}}] * min(batch, count - start))

    def _compare_with_finished(self, store: JobStore, options):
        """Claim and processing speed on the empty table, then beside ``--finished`` finished jobs."""
        finished = options["finished"]
        enqueue_empty = self._enqueue_speed(store, options)
        self.stdout.write(self._enqueue_line("empty table", enqueue_empty))
        empty = self._claim_speed(store, options)
        self.stdout.write(self._claim_line("empty table", empty))
        started = time.perf_counter()
        store.fill_finished(finished, finished_at=utc_now() - timedelta(hours=1), type=NOOP_TYPE)
        self.stdout.write(f"Pre-filled {finished} finished jobs in {time.perf_counter() - started:.1f} s")
        enqueue_full = self._enqueue_speed(store, options)
        self.stdout.write(self._enqueue_line(f"{finished} finished jobs", enqueue_full))
        full = self._claim_speed(store, options)
        self.stdout.write(self._claim_line(f"{finished} finished jobs", full))
        self.stdout.write(
            f"             beside {finished} finished jobs: enqueue rate x{enqueue_full[0] / enqueue_empty[0]:.2f}, "
            f"claim time per job x{full[1] / empty[1]:.2f}, processing rate x{full[0] / empty[0]:.2f} "
            "(1.00 = unchanged; timings are noisy)"
        )

    def _enqueue_speed(self, store: JobStore, options) -> tuple[float, float]:
        """(jobs/s, CPU µs per job) enqueuing ``--jobs`` no-op jobs as the main measurement
        does; the jobs are then run (untimed), so the table holds only finished jobs again."""
        count = options["jobs"]
        cpu_at_start = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        self._enqueue(count, options["bulk"])
        seconds = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        cpu_us = (cpu.ru_utime - cpu_at_start.ru_utime + cpu.ru_stime - cpu_at_start.ru_stime) / count * 1e6
        drain = PoolOptions.from_settings(concurrency=options["concurrency"], run_until_idle=True)
        WorkerPool(drain, store=store).run()
        return count / seconds, cpu_us

    @staticmethod
    def _enqueue_line(what: str, figures: tuple[float, float]) -> str:
        return f"Enqueue, {what}: {figures[0]:8.0f} jobs/s, CPU {figures[1]:.0f} µs per job"

    def _claim_speed(self, store: JobStore, options) -> tuple[float, float]:
        """(jobs/s processed, µs in ``store.claim`` per job) for ``--jobs`` no-op jobs."""
        count = options["jobs"]
        store.insert_many([NewJob(type=NOOP_TYPE, payload={}, max_retries=0) for _ in range(count)], now=utc_now())
        pool = WorkerPool(
            PoolOptions.from_settings(concurrency=options["concurrency"], run_until_idle=True), store=store
        )
        timers = StoreTimers(store, ("claim",))
        started = time.perf_counter()
        with timers:
            pool.run()
        seconds = time.perf_counter() - started
        return count / seconds, timers.seconds["claim"] / count * 1e6

    @staticmethod
    def _claim_line(what: str, figures: tuple[float, float]) -> str:
        return f"Claim, {what}: {figures[0]:8.0f} jobs/s processed, {figures[1]:.0f} µs in store.claim per job"

    def _measure_pickup(self, store: JobStore, options, probes: Probes):
        write = self.stdout.write
        poll = settings.JOBQUEUE_POLL_INTERVAL
        pool = WorkerPool(PoolOptions.from_settings(concurrency=options["concurrency"]), store=store)
        runner = threading.Thread(target=pool.run, name="benchqueue-pool")
        runner.start()
        try:
            same = self._pickup(pool, probes, options["probes"], lambda n: services.enqueue(PROBE_TYPE, {"n": n}))
            write(self._latency_line("same process (wake-up)", same))
            other = self._pickup(
                pool,
                probes,
                options["probes"],
                # Straight into the store, as another process would: no in-process wake-up.
                lambda n: store.insert(NewJob(type=PROBE_TYPE, payload={"n": n}, max_retries=0), now=utc_now()),
                jitter=poll,
            )
            write(self._latency_line(f"other process (polling every {poll:g} s)", other))
        finally:
            pool.stop()
            runner.join()

    def _pickup(self, pool: WorkerPool, probes: Probes, samples: int, enqueue, *, jitter: float = 0.005):
        """Seconds from enqueue to handler start, one job at a time on an idle pool."""
        latencies = []
        for n in range(samples):
            deadline = time.monotonic() + 10
            while not pool.idle and time.monotonic() < deadline:
                time.sleep(0.001)
            # A random pause, so enqueues land at every phase of the poll timer.
            time.sleep(random.uniform(0, jitter))
            probes.event.clear()
            enqueued_at = time.perf_counter()
            enqueue(n)
            if not probes.event.wait(10):
                raise CommandError("a probe job did not start within 10 s")
            latencies.append(probes.started[n] - enqueued_at)
        return latencies

    @staticmethod
    def _latency_line(what: str, latencies: list[float]) -> str:
        return (
            f"Pickup, {what}: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"mean {statistics.fmean(latencies) * 1000:.1f} ms ({len(latencies)} jobs)"
        )
