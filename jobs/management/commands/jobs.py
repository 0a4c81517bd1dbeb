"""``manage.py jobs``: the operator's command line, with the API's filters and validation.

    manage.py jobs list [--status S] [--type T] [--has-error true|false] [--limit N] [--cursor C]
    manage.py jobs show ID
    manage.py jobs enqueue TYPE [--payload JSON] [--priority N] [--max-retries N]
                               [--run-at ISO8601 | --delay-seconds S]
    manage.py jobs retry ID | --failed-type TYPE
    manage.py jobs cancel ID
    manage.py jobs stats
    manage.py jobs purge --older-than-days D

Every action takes ``--json`` (the API's JSON instead of a table). Input goes through the
API's serializers and ``jobs.services``, so it is refused exactly as the API refuses it.

Exit codes: 0 done; 1 not found or refused (wrong state); 2 bad usage or invalid input;
3 the job store is unavailable.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import ValidationError

from jobs import services
from jobs.serializers import (
    JobListQuerySerializer,
    JobOutputSerializer,
    QueueStatsOutputSerializer,
)
from jobs.stores import StoreUnavailable

EXIT_REFUSED = 1
EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3


class Command(BaseCommand):
    help = "List, show, enqueue, retry, cancel and purge jobs, and show queue statistics."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        listing = actions.add_parser("list", help="Jobs newest first, filtered like GET /jobs.")
        listing.add_argument("--status")
        listing.add_argument("--type")
        listing.add_argument("--has-error", choices=["true", "false"])
        listing.add_argument("--limit", help="1 to 500 (default 50).")
        listing.add_argument("--cursor", help="Continue after this cursor (printed under a full page).")

        show = actions.add_parser("show", help="One job with its attempts.")
        show.add_argument("id")

        enqueue = actions.add_parser("enqueue", help="Enqueue a job, validated like POST /jobs.")
        enqueue.add_argument("type")
        enqueue.add_argument("--payload", default="{}", help="A JSON object (default {}).")
        enqueue.add_argument("--priority", type=int)
        enqueue.add_argument("--max-retries", type=int)
        enqueue.add_argument("--run-at", help="ISO 8601 with a timezone.")
        enqueue.add_argument("--delay-seconds", type=float)

        retry = actions.add_parser("retry", help="Retry a failed (or delayed) job now, or every failed job of a type.")
        retry.add_argument("id", nargs="?")
        retry.add_argument("--failed-type", help="Retry every failed job of this type.")

        cancel = actions.add_parser("cancel", help="Cancel a pending job.")
        cancel.add_argument("id")

        actions.add_parser("stats", help="Counts per status and type, oldest pending age, delayed jobs.")

        purge = actions.add_parser("purge", help="Delete finished jobs older than N days.")
        purge.add_argument("--older-than-days", type=float, required=True)

        for action in actions.choices.values():
            action.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args, action, **options):
        self.as_json = options["json"]
        try:
            getattr(self, f"_{action}")(**options)
        except (services.JobValidationError, ValidationError) as error:
            detail = error.errors if isinstance(error, services.JobValidationError) else error.detail
            raise CommandError(f"invalid: {json.dumps(detail)}", returncode=EXIT_INVALID) from None
        except (services.InvalidJobId, services.PayloadTooLarge) as error:
            raise CommandError(str(error), returncode=EXIT_INVALID) from None
        except (services.JobNotFound, services.InvalidTransition) as error:
            raise CommandError(str(error), returncode=EXIT_REFUSED) from None
        except StoreUnavailable as error:
            raise CommandError(f"job store unavailable: {error}", returncode=EXIT_UNAVAILABLE) from None

    # -- actions -------------------------------------------------------------------------
    def _list(self, *, status, type, has_error, limit, cursor, **options):
        given = {"status": status, "type": type, "hasError": has_error, "limit": limit, "cursor": cursor}
        query = JobListQuerySerializer(data={key: value for key, value in given.items() if value is not None})
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        page = services.list_jobs_query_page(params)
        jobs = page.jobs
        if self.as_json:
            return self._print_json(JobOutputSerializer(jobs, many=True).data)
        rows = [
            (
                job.id,
                job.type,
                job.status,
                str(job.attempt_count),
                str(job.priority),
                _when(job.created_at),
                _first(job),
            )
            for job in jobs
        ]
        self._table(("ID", "TYPE", "STATUS", "ATTEMPTS", "PRIORITY", "CREATED", "LAST ERROR"), rows)
        if page.has_next:
            self.stdout.write(f"more: --cursor {services.encode_list_cursor(jobs[-1])}")

    def _show(self, *, id, **options):
        job = services.get_job(id)
        data = JobOutputSerializer(job).data
        if self.as_json:
            return self._print_json(data)
        for key in ("id", "type", "status", "priority", "retryCount", "maxRetries", "runAt", "createdAt", "finishedAt"):
            self.stdout.write(f"{key + ':':<12} {data[key] if data[key] is not None else '-'}")
        self.stdout.write(f"{'payload:':<12} {json.dumps(data['payload'])}")
        if data["lease"]:
            self.stdout.write(f"{'lease:':<12} {data['lease']['owner']} until {data['lease']['expiresAt']}")
        self.stdout.write(f"attempts ({data['attemptCount']}):")
        for attempt in data["attempts"]:
            error = (attempt["error"] or "").splitlines()[:1]
            line = f"  {attempt['startedAt']}  {attempt['outcome']:<10} {attempt['worker']}"
            self.stdout.write(f"{line}  {error[0]}" if error else line)

    def _enqueue(self, *, type, payload, priority, max_retries, run_at, delay_seconds, **options):
        try:
            payload_value = json.loads(payload)
        except ValueError as error:
            raise services.JobValidationError({"payload": [f"Malformed JSON: {error}"]}) from None
        body = {"type": type, "payload": payload_value}
        for key, value in (
            ("priority", priority),
            ("maxRetries", max_retries),
            ("runAt", run_at),
            ("delaySeconds", delay_seconds),
        ):
            if value is not None:
                body[key] = value
        job = services.enqueue_request(body)
        self._print_job(job, "enqueued")

    def _retry(self, *, id, failed_type, **options):
        if (id is None) == (failed_type is None):
            raise CommandError("give a job id or --failed-type TYPE (one of them)", returncode=EXIT_INVALID)
        if failed_type is not None:
            count = services.retry_failed_jobs(type=failed_type)
            return self._print_json({"retried": count}) if self.as_json else self.stdout.write(f"retried {count} jobs")
        self._print_job(services.retry_job_now(id), "retried")

    def _cancel(self, *, id, **options):
        self._print_job(services.cancel_job(id), "cancelled")

    def _stats(self, **options):
        stats = services.queue_stats()
        if self.as_json:
            return self._print_json(QueueStatsOutputSerializer(stats).data)
        statuses = list(stats.by_status)
        rows = [(job_type, *(str(counts.get(s, 0)) for s in statuses)) for job_type, counts in stats.by_type.items()]
        rows.append(("(all)", *(str(stats.by_status[s]) for s in statuses)))
        self._table(("TYPE", *(s.upper() for s in statuses)), rows)
        age = stats.oldest_pending_age_seconds
        self.stdout.write(f"oldest pending: {'-' if age is None else f'{age:.1f} s'}; delayed: {stats.delayed}")

    def _purge(self, *, older_than_days, **options):
        count = services.delete_finished_jobs(older_than_days=older_than_days)
        if self.as_json:
            return self._print_json({"deleted": count})
        self.stdout.write(f"deleted {count} finished jobs older than {older_than_days:g} days")

    # -- output --------------------------------------------------------------------------
    def _print_job(self, job, verb: str) -> None:
        if self.as_json:
            return self._print_json(JobOutputSerializer(job).data)
        self.stdout.write(f"{verb} {job.type} job {job.id} ({job.status})")

    def _print_json(self, data) -> None:
        self.stdout.write(json.dumps(data, indent=2))

    def _table(self, header: tuple, rows: list[tuple]) -> None:
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _first(job, width: int = 60) -> str:
    line = (job.last_error or "").splitlines()[0] if job.last_error else ""
    return line if len(line) <= width else line[: width - 1] + "…"
