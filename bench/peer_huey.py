"""Huey on SQLite (WAL, synchronous=FULL): enqueue N no-op tasks one by one, then run
them on a consumer of T worker threads. Prints one JSON line (see ``common.report``).

Huey keeps a pending task as a row and deletes it when a worker takes it: no status,
attempt or result is kept for a task that returns None.
"""

import sys
from pathlib import Path

from huey import SqliteHuey
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import Countdown, parse_arguments, report, timed

from jobs.management.sqlitetime import SqliteCallTimer, measure_enqueue_split  # Django-free, as ours is split


def main() -> None:
    arguments = parse_arguments(__doc__)
    # fsync=True is synchronous=FULL; WAL is Huey's default journal mode.
    huey = SqliteHuey("bench", filename=str(Path(arguments.directory) / "huey.sqlite3"), fsync=True)

    @huey.task()
    def noop():
        return None

    finished = Countdown(arguments.jobs)
    huey.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)(finished.one_done)

    def enqueue_all():
        for _ in range(arguments.jobs):
            noop()

    enqueue = timed(enqueue_all)
    # initial_delay: how long an idle worker sleeps; irrelevant here, the queue is full.
    consumer = huey.create_consumer(workers=arguments.threads, worker_type="thread", periodic=False)

    def process_all():
        consumer.start()
        if not finished.wait(timeout=600):
            raise SystemExit("Huey did not finish the tasks within 600 s")

    process_seconds, _ = timed(process_all)
    consumer.stop(graceful=True)
    left = huey.pending_count()
    if left:
        raise SystemExit(f"{left} Huey tasks still queued")
    report(
        jobs=arguments.jobs,
        enqueue=enqueue,
        process_seconds=process_seconds,
        completed=arguments.jobs - finished.remaining,
        python_cpu_us=python_cpu_us_per_enqueue(arguments),
    )


def python_cpu_us_per_enqueue(arguments) -> float:
    """Enqueue the tasks again, on a pass of its own, with every call into sqlite3 timed (as
    ``benchqueue`` splits ours): the CPU µs per enqueue outside SQLite, Huey's Python."""
    timer = SqliteCallTimer()
    # factory= is passed on to sqlite3.connect.
    huey = SqliteHuey(
        "split", filename=str(Path(arguments.directory) / "huey.sqlite3"), fsync=True, factory=timer.connection_class()
    )

    @huey.task()
    def noop():
        return None

    def enqueue_all():
        for _ in range(arguments.jobs):
            noop()

    return measure_enqueue_split(enqueue_all, arguments.jobs, timer).python_us


if __name__ == "__main__":
    main()
