"""``manage.py runworkers``: run the worker pool until stopped.

Only parses options and starts ``jobs.worker``; the loop lives there.
"""

import argparse
import re
from dataclasses import replace

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from jobs.domain import QUEUE_NAME_PATTERN
from jobs.results import Completed, Failed, Released, Retried
from jobs.stores import StoreUnavailable, get_store, use_store
from jobs.worker import PoolOptions, ProcessSupervisor, WorkerPool, run_until_signalled


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return number


def _queue_threads(value: str) -> tuple[str, int]:
    """``NAME=THREADS`` of ``--queue``."""
    name, separator, threads = value.partition("=")
    if not separator or not re.fullmatch(QUEUE_NAME_PATTERN, name):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not NAME=THREADS with a queue name of 1 to 64 of a-z, 0-9, _ and -"
        )
    return name, _positive_int(threads)


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds, 0 or more")
    return number


class Command(BaseCommand):
    help = (
        "Run worker processes that claim jobs and run their handlers until stopped. "
        "SIGTERM or Ctrl-C stops claiming and lets running jobs finish (up to --grace-period); "
        "a second signal exits at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=_positive_int,
            default=None,
            help=f"Worker threads per process (default: JOBQUEUE_WORKERS, {settings.JOBQUEUE_WORKERS}).",
        )
        parser.add_argument(
            "--queue",
            dest="queues",
            type=_queue_threads,
            action="append",
            metavar="NAME=THREADS",
            help="Run only these queues, each with its own threads in one pool, e.g. "
            "--queue emails=4 --queue reports=1 (repeatable; replaces --concurrency). "
            "Default: every queue, on --concurrency threads.",
        )
        parser.add_argument(
            "--processes",
            type=_positive_int,
            default=1,
            help="Worker processes, each with --concurrency threads; a process that dies is restarted "
            "(default: 1, run in this process).",
        )
        parser.add_argument(
            "--grace-period",
            type=_non_negative_float,
            default=30.0,
            help="Seconds to let running jobs finish after SIGTERM/SIGINT before releasing them "
            "back to the queue (default: 30).",
        )
        parser.add_argument(
            "--max-jobs",
            type=_positive_int,
            default=None,
            help="Claim this many jobs (per process), finish them and exit (default: no limit).",
        )
        parser.add_argument(
            "--burst",
            "--until-idle",
            dest="burst",
            action="store_true",
            help="Exit once no job is due and none is running (for scripts and tests).",
        )

    def handle(self, *args, **options):
        named = tuple(options["queues"]) if options["queues"] else None
        if named and options["concurrency"]:
            raise CommandError("give --queue NAME=THREADS or --concurrency, not both")
        if named and len({name for name, _ in named}) != len(named):
            raise CommandError("each --queue may be named once")
        concurrency = (
            sum(threads for _, threads in named) if named else options["concurrency"] or settings.JOBQUEUE_WORKERS
        )
        processes = options["processes"]
        try:
            store = get_store()
        except StoreUnavailable as error:
            raise CommandError(f"cannot start workers: {error}") from error

        queues = ", ".join(f"{name}={threads}" for name, threads in named) if named else "every queue"
        banner = (
            f"Starting {processes} worker process{'es' if processes > 1 else ''} of {concurrency} threads "
            f"({queues}) "
            f"on {store.describe()} (lease {settings.JOBQUEUE_LEASE_SECONDS:g} s, "
            f"poll every {settings.JOBQUEUE_POLL_INTERVAL:g} s)"
        )
        self.stdout.write(banner)
        pool_options = PoolOptions.from_settings(
            concurrency=concurrency,
            queues=named,
            grace_period=options["grace_period"],
            max_jobs=options["max_jobs"],
            run_until_idle=options["burst"],
        )

        if processes == 1:
            pool = WorkerPool(pool_options, store=store)
            try:
                run_until_signalled(pool)
            except StoreUnavailable as error:
                raise CommandError(f"the job store became unreachable: {error}") from error
            done = pool.recorded
            self.stdout.write(
                f"Workers stopped: {done[Completed]} completed, {done[Retried]} retried, "
                f"{done[Failed]} failed, {done[Released]} released."
            )
            return

        # Each process opens its own connections: none may cross the fork.
        store.close()
        connections.close_all()
        use_store(None)
        supervised = replace(pool_options, max_abandoned_threads=concurrency)
        if ProcessSupervisor(processes=processes, options=supervised).run() != 0:
            raise CommandError("some worker processes did not stop cleanly (see the log)")
        self.stdout.write("Workers stopped.")
