"""``manage.py benchqueue``: throughput, pickup latency and round trips of the queue.

Enqueues no-op jobs, runs them on a worker pool of this process, and prints the enqueue
rate and CPU, the processing rate, the pickup latency of a job enqueued in this process
(woken through ``jobs.wakeups``) and of one inserted as another process would (found by
polling); then, on passes of their own (``jobs.management.extrapasses``), the round trips
per job of each phase as the driver sent them and, on SQLite, an enqueue's CPU split
between SQLite's calls and the Python around them.

``--tmpfs`` puts the SQLite file in /dev/shm, where fsync costs nothing. ``--finished N``
first compares the speeds on an empty table with those on a second database pre-filled
with N finished jobs, in ``--rounds`` interleaved rounds (``jobs.management.tablegrowth``).
``--json`` adds the figures as one JSON line (``bench/peers.py`` parses it); ``--probes
0`` skips the pickup latencies.

It never touches the service's own jobs: the SQL store runs on a fresh temporary SQLite
file (or ``--database PATH``, or a throwaway database on the PostgreSQL server of
``--database-url``, dropped afterwards) in a child process whose ``DATABASE_URL`` points
there; the MongoDB store on mongomock (``--store mongomock``, which reports no commands,
so no round trips) or, with ``MONGODB_URI`` set, in a throwaway database on that server.
"""

import json
import resource
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from jobs import handlers, services
from jobs.domain import Status
from jobs.management.extrapasses import MONGOMOCK_UNMEASURED, RoundTrips, count_round_trips, split_enqueue
from jobs.management.measures import RssSampler
from jobs.management.pickup import PickupLatency
from jobs.management.roundtrips import MongoCommands, RoundTripCounter, SqlStatements
from jobs.management.scratch import TMPFS_DIR, in_scratch_database, run_on_scratch_sql
from jobs.management.secondstore import second_mongo_store, second_mongomock_store, second_sql_store
from jobs.management.tablegrowth import NOOP_TYPE, FinishedJobsComparison, timed_enqueue, timed_processing
from jobs.stores import JobStore, StoreUnavailable, build_store, store_backend, use_store

#: Interleaved rounds of ``--finished`` unless told.
DEFAULT_ROUNDS = 3


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
            help="Compare enqueue, claim and processing speed on the empty table with those on a second database "
            "pre-filled with this many finished jobs (default: 0, skip). With --database PATH the second is "
            "PATH's sibling NAME-finished.SUFFIX, replaced each run and kept.",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=None,
            help=f"Interleaved rounds of --finished, each measuring both tables, the order alternating "
            f"(default: {DEFAULT_ROUNDS}).",
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
        if options["rounds"] is not None and (options["rounds"] < 1 or not options["finished"]):
            raise CommandError("--rounds must be 1 or more, and goes with --finished")
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
            round_trips = RoundTrips(None, unmeasured=MONGOMOCK_UNMEASURED)
            self._bench(MongomockJobStore("jobqueue_bench"), options, round_trips, second_mongomock_store)
        elif kind != "mongodb":
            raise CommandError(f"benchqueue measures the sql and mongodb stores, not {kind!r}")
        else:
            # The configured server, in a throwaway database dropped afterwards.
            config = settings.JOBQUEUE_STORE
            counter = RoundTripCounter()
            commands = MongoCommands(counter)
            listeners = [commands.listener()]
            name = f"jobqueue_bench_{uuid.uuid4().hex[:8]}"
            bench_options = {**config.get("OPTIONS", {}), "database_name": name, "event_listeners": listeners}
            store = build_store({**config, "OPTIONS": bench_options})
            try:
                round_trips = RoundTrips(counter, commands, MongoCommands.unit)
                self._bench(store, options, round_trips, lambda: second_mongo_store(f"{name}_finished", listeners))
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
            round_trips = RoundTrips(counter, statements, statements.unit)
            self._bench(store, options, round_trips, lambda: second_sql_store(store.using))
            return
        arguments = ["benchqueue", "--store=sql", f"--jobs={options['jobs']}"]
        arguments += [f"--concurrency={options['concurrency']}", f"--probes={options['probes']}"]
        arguments += [f"--bulk={options['bulk']}"]
        arguments += [f"--finished={options['finished']}"]
        arguments += [f"--rounds={options['rounds']}"] if options["rounds"] else []
        arguments += ["--json"] if options["json"] else []
        database, url, tmpfs = Path(target) if target else None, options["database_url"], options["tmpfs"]
        run_on_scratch_sql(arguments, stdout=self.stdout, database=database, database_url=url, tmpfs=tmpfs)

    # -- the measurements -----------------------------------------------------------------------
    def _bench(
        self,
        store: JobStore,
        options,
        round_trips: RoundTrips,
        second_store: Callable[[], AbstractContextManager[JobStore]],
    ):
        """Measure on ``store``; ``second_store`` makes the one ``--finished`` fills."""
        try:
            store.ensure_ready()
        except StoreUnavailable as error:
            raise CommandError(str(error)) from error
        previous = use_store(store)
        handlers.handler(NOOP_TYPE)(lambda payload, context: None)
        try:
            self._run(store, options, round_trips, second_store)
        finally:
            handlers.unregister(NOOP_TYPE)
            use_store(previous)

    def _run(self, store: JobStore, options, round_trips: RoundTrips, second_store):
        count, concurrency = options["jobs"], options["concurrency"]
        poll = settings.JOBQUEUE_POLL_INTERVAL
        write = self.stdout.write
        write(f"Store: {store.describe()}")
        write(f"{count} no-op jobs, {concurrency} worker threads, poll interval {poll:g} s")
        if options["finished"]:
            try:
                with second_store() as full:
                    FinishedJobsComparison(
                        store,
                        full,
                        jobs=count,
                        bulk=options["bulk"],
                        concurrency=concurrency,
                        finished=options["finished"],
                        rounds=options["rounds"] or DEFAULT_ROUNDS,
                    ).run(write)
            except StoreUnavailable as error:
                raise CommandError(f"--finished: {error}") from error

        enqueued = timed_enqueue(count, options["bulk"])
        how = f"in batches of {options['bulk']} (enqueue_many)" if options["bulk"] else "one by one"
        write(f"Enqueue:     {enqueued.rate:8.0f} jobs/s  ({count} enqueued {how} in {enqueued.seconds:.2f} s)")
        write(
            f"             {enqueued.seconds / count * 1e6:.0f} µs per enqueue, of which CPU {enqueued.user_us:.0f} µs "
            f"user + {enqueued.system_us:.0f} µs system (the rest is waiting: fsync, locks, other processes)"
        )

        rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        completed_before = store.count_by_type_and_status().get((NOOP_TYPE, Status.COMPLETED.value), 0)
        with RssSampler() as rss:
            processing = timed_processing(store, concurrency, ("claim", "record_results"))
        process_seconds, process_cpu_us = processing.seconds, processing.cpu_us
        done = store.count_by_type_and_status().get((NOOP_TYPE, Status.COMPLETED.value), 0) - completed_before
        write(
            f"Processing:  {done / process_seconds:8.0f} jobs/s  ({done} of {count} completed in "
            f"{process_seconds:.2f} s, every status kept)"
        )
        write(
            "             the dispatcher spent "
            + ", ".join(f"{spent / process_seconds:.0%} in store.{name}" for name, spent in processing.in_store.items())
            + " (the rest: commits, handing jobs to threads, Python, waiting)"
        )
        write(f"             {process_cpu_us / max(done, 1):.0f} µs of CPU per job (every thread of this process)")
        per_job = count_round_trips(store, options, round_trips, write)
        split = split_enqueue(store, options, write)
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
            "enqueue_per_second": enqueued.rate,
            "enqueue_batch": options["bulk"] or 1,
            "enqueue_us_per_job": enqueued.seconds / count * 1e6,
            "enqueue_cpu_us_per_job": enqueued.cpu_us,
            "process_per_second": done / process_seconds,
            "process_cpu_us_per_job": process_cpu_us / max(done, 1),
            "completed": done,
            "peak_rss_mib_before": rss_before_kib / 1024,
            "peak_rss_mib_after": rss_after_kib / 1024,
            "round_trips_per_job": per_job,
            "rss_mib_start_middle_end": [rss_start, rss_middle, rss_end],
        }
        if split is not None:
            figures["enqueue_sqlite_cpu_us_per_job"] = split.sqlite_us
            figures["enqueue_python_cpu_us_per_job"] = split.python_us
        if options["probes"]:
            pickup = PickupLatency(store, concurrency=concurrency, samples=options["probes"])
            for line in pickup.measure():
                write(line)
        if options["json"]:
            write(json.dumps(figures))
