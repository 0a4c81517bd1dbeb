"""Time the admin's job pages on a large embedded store.

``python manage.py benchadmin --jobs 100000`` creates a fresh SQLite database in a new
temporary directory, never the configured one: the command re-runs itself in a child
process whose ``DATABASE_URL`` points there (``jobs.management.scratch``), migrates it, fills it with a mix of jobs
(statuses, types, finish times over the last two days), then requests each admin page
through Django's test client as a logged-in superuser and prints the median time of a
few runs. The directory is deleted afterwards.

The fill goes through the store's own API (``insert_many``, ``claim``,
``record_results``), so the rows look exactly as workers would leave them.
"""

import logging
import random
import secrets
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from jobs.management.scratch import in_scratch_database, run_in_scratch_database

logger = logging.getLogger(__name__)

#: Answer time every page must stay under (milliseconds).
BUDGET_MS = 300.0

JOB_TYPES = ["email", "noop", "thumbnail", "webhook", "report"]
ERROR_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/handlers.py", line 88, in deliver\n'
    "    response.raise_for_status()\n"
    "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://hooks.example.com/{n}"
)


@dataclass(frozen=True)
class FillReport:
    """How many jobs ``fill_store`` left in each status."""

    by_status: dict[str, int]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def fill_store(store, *, jobs: int, now, seed: int = 7, chunk_size: int = 200) -> FillReport:
    """Fill ``store`` (assumed empty) with ``jobs`` jobs created over the 48 hours before
    ``now``: about 55% completed, 8% failed, 5% cancelled, 2% processing and 30% pending
    (a third of them delayed). Completed and failed jobs finish a few seconds after they
    are created, so the throughput charts have data for the whole last day.

    Every job goes through the store's API: ``insert_many``, then ``claim`` and
    ``record_results`` for the finished ones, ``cancel`` for the cancelled ones. Jobs that
    stay pending are inserted last (with their original creation time), so that no claim
    takes them. Deterministic for a given ``seed``.
    """
    from jobs.domain import Attempt, NewJob, Outcome, Status
    from jobs.results import Completed, Failed

    started = time.perf_counter()
    rng = random.Random(seed)
    chunks = max(1, -(-jobs // chunk_size))
    span = timedelta(hours=48)
    counts = {status.value: 0 for status in Status}
    later: list[tuple] = []  # (created_at, kind, count) inserted after every finished job

    def new_job(index: int, **changes) -> NewJob:
        job_type = rng.choices(JOB_TYPES, weights=[5, 3, 2, 2, 1])[0]
        return NewJob(
            type=job_type,
            payload={"n": index, "to": f"user{index}@example.com"} if job_type == "email" else {"n": index},
            max_retries=3,
            priority=rng.choice([0, 0, 0, 0, 5, 10]),
            **changes,
        )

    made = 0
    for chunk in range(chunks):
        size = min(chunk_size, jobs - made)
        if size <= 0:
            break
        created_at = now - span + span * (chunk + 0.5) / chunks
        kinds = rng.choices(
            ["completed", "failed", "cancelled", "processing", "pending", "delayed"],
            weights=[55, 8, 5, 2, 20, 10],
            k=size,
        )
        finishing = kinds.count("completed") + kinds.count("failed")
        if finishing:
            inserted = store.insert_many([new_job(made + i) for i in range(finishing)], now=created_at)
            claimed = store.claim(
                owner="bench-host:4242", limit=finishing, now=created_at + timedelta(seconds=1), lease_seconds=60
            )
            assert {job.id for job in claimed} == {job.id for job in inserted}, "the fill expects an empty store"
            finished_at = created_at + timedelta(seconds=rng.uniform(1.5, 20))
            results = []
            failures = kinds.count("failed")
            for index, job in enumerate(claimed):
                failed = index < failures
                attempt = Attempt(
                    started_at=created_at + timedelta(seconds=1),
                    finished_at=finished_at,
                    worker="bench-host:4242/worker-3",
                    outcome=(Outcome.FAILED if failed else Outcome.COMPLETED).value,
                    error=ERROR_TRACEBACK.format(n=made + index) if failed else None,
                )
                results.append((Failed if failed else Completed)(job, attempt))
            store.record_results(results, now=finished_at)
            counts["failed"] += failures
            counts["completed"] += finishing - failures
        for kind in ("cancelled", "processing", "pending", "delayed"):
            if kinds.count(kind):
                later.append((created_at, kind, kinds.count(kind), made))
        made += size

    # Processing jobs first, each batch claimed while it is the only pending one; then the
    # cancelled ones (one transaction per batch: a commit per job would be slow for nothing);
    # the jobs that stay pending last.
    order = {"processing": 0, "cancelled": 1, "pending": 2, "delayed": 3}
    for created_at, kind, count, first_index in sorted(later, key=lambda item: order[item[1]]):
        run_at = now + timedelta(minutes=rng.uniform(5, 600)) if kind == "delayed" else None
        inserted = store.insert_many([new_job(first_index + i, run_at=run_at) for i in range(count)], now=created_at)
        if kind == "processing":
            claimed = store.claim(owner="bench-host:4242", limit=count, now=now, lease_seconds=3600)
            assert len(claimed) == count, "the fill expects an empty store"
        elif kind == "cancelled":
            with transaction.atomic():
                for job in inserted:
                    store.cancel(job.id, now=created_at + timedelta(seconds=30))
        counts[{"delayed": "pending"}.get(kind, kind)] += count

    return FillReport(by_status=counts, seconds=time.perf_counter() - started)


class Command(BaseCommand):
    help = (
        "Fill a fresh temporary SQLite job store (never the configured database) and time the "
        "admin's dashboard, job list (first page and deep), job page and the /metrics scrape through the test client."
    )

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=100_000, help="Jobs to create (default: 100000).")
        parser.add_argument("--runs", type=int, default=5, help="Timed requests per page (default: 5).")
        parser.add_argument(
            "--depth", type=int, default=1000, help="Rows deep for the deep job-list page (default: 1000)."
        )
        parser.add_argument("--in-temporary-database", action="store_true", help="Internal: the child process.")

    def handle(self, *args, jobs, runs, depth, in_temporary_database, **options):
        if jobs < 1 or runs < 1 or depth < 0:
            raise CommandError("--jobs and --runs must be 1 or more, --depth 0 or more")
        if in_temporary_database:
            self._bench_in_child(jobs=jobs, runs=runs, depth=depth)
        else:
            self._run_child(jobs=jobs, runs=runs, depth=depth)

    # -- parent: a temporary directory and a child process pointed at it ---------------------
    def _run_child(self, *, jobs: int, runs: int, depth: int) -> None:
        arguments = ["benchadmin", "--in-temporary-database", "--jobs", str(jobs), "--runs", str(runs)]
        arguments += ["--depth", str(depth)]
        database = run_in_scratch_database(arguments, stdout=self.stdout, extra_env={"JOBQUEUE_LOG_LEVEL": "WARNING"})
        self.stdout.write(f"Temporary database: {database} (deleted)")

    # -- child: fill, then time ----------------------------------------------------------------
    def _bench_in_child(self, *, jobs: int, runs: int, depth: int) -> None:
        from jobs import services
        from jobs.stores import get_store
        from jobs.timeutil import utc_now

        database_name = str(settings.DATABASES["default"]["NAME"])
        if not in_scratch_database():
            raise CommandError("--in-temporary-database is for the child process that benchadmin starts itself")
        call_command("migrate", verbosity=0, interactive=False)
        if services.queue_stats().total:
            raise CommandError(f"refusing to fill {database_name}: it already holds jobs")

        store = get_store()
        self.stdout.write(f"Store: {services.store_description()}")
        self.stdout.write(f"Filling it with {jobs:,} jobs…")
        report = fill_store(store, jobs=jobs, now=utc_now())
        mix = ", ".join(f"{count:,} {status}" for status, count in report.by_status.items())
        self.stdout.write(f"Filled in {report.seconds:.1f} s: {mix}.")
        self._time_pages(runs=runs, depth=depth)

    def _time_pages(self, *, runs: int, depth: int) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client, override_settings

        from jobs import services
        from jobs.admin import job_list as jobs_admin
        from jobs.domain import JobFilter

        pages = [("dashboard", "/admin/jobs/"), ("job list, first page", "/admin/jobs/jobrecord/")]
        deep = _cursor_at(depth)
        if deep:
            pages.append((f"job list, {depth:,} rows deep", f"/admin/jobs/jobrecord/?after={deep}"))
        pages.append(("job list, failed only", "/admin/jobs/jobrecord/?status=failed"))
        # The Prometheus scrape reads the same store figures as the dashboard (and more).
        pages.append(("metrics scrape", "/metrics"))
        failed = services.list_jobs(JobFilter(status="failed"), limit=1)
        if failed:
            pages.append(("job page (failed job)", f"/admin/jobs/jobrecord/{failed[0].id}/change/"))

        user = get_user_model().objects.create_superuser("bench", "bench@example.com", secrets.token_urlsafe(16))
        client = Client()
        client.force_login(user)
        # No collectstatic here: serve static URLs unhashed. "testserver" is the test client's host.
        storages = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        self.stdout.write(
            f"\nEach page: one warm-up request, then the median of {runs} timed requests "
            f"(Django test client, logged-in superuser; page size {jobs_admin.PAGE_SIZE})."
        )
        self.stdout.write(f"{'page':<28} {'median':>9} {'min':>9} {'max':>9}  url")
        slowest = 0.0
        medians: dict[str, float] = {}
        with override_settings(STORAGES=storages, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
            for name, url in pages:
                timings = []
                for attempt in range(runs + 1):
                    started = time.perf_counter()
                    response = client.get(url)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise CommandError(f"{url} answered {response.status_code}")
                    if attempt:
                        timings.append(elapsed)
                median = statistics.median(timings)
                medians[name] = median
                slowest = max(slowest, median)
                self.stdout.write(
                    f"{name:<28} {median:>6.1f} ms {min(timings):>6.1f} ms {max(timings):>6.1f} ms  {_short(url)}"
                )
        scrape, dashboard = medians["metrics scrape"], medians["dashboard"]
        self.stdout.write(
            f"Metrics scrape {scrape:.1f} ms vs dashboard {dashboard:.1f} ms: "
            f"{'no more than' if scrape <= dashboard else 'MORE than'} the dashboard ({scrape / dashboard:.2f}x)."
        )
        verdict = "within" if slowest < BUDGET_MS else "OVER"
        style = self.style.SUCCESS if slowest < BUDGET_MS else self.style.ERROR
        self.stdout.write(style(f"Slowest median {slowest:.1f} ms: {verdict} the {BUDGET_MS:.0f} ms budget."))


def _cursor_at(depth: int) -> str | None:
    """The job list's cursor after the first ``depth`` jobs (what "Older" links carry)."""
    from jobs import services
    from jobs.services import encode_list_cursor

    if depth <= 0:
        return None
    last, seen, after = None, 0, None
    while seen < depth:
        page = services.list_jobs(limit=min(services.MAX_LIST_LIMIT, depth - seen), after=after)
        if not page:
            return None
        last = page[-1]
        seen += len(page)
        after = (last.created_at, last.id)
    return encode_list_cursor(last)


def _short(url: str, width: int = 60) -> str:
    return url if len(url) <= width else url[: width - 1] + "…"
