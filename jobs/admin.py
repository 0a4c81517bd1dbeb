"""The operator dashboard, job list, job page and actions in the Django admin.

Everything here reads and acts through ``jobs.services``, so it works the same on
MongoDB and on the embedded SQL store. ``JobRecord`` is registered only to give the
jobs a place in the admin (index entry, URLs, permissions ``jobs.view_jobrecord`` and
``jobs.change_jobrecord``, the admin log's content type); its views never query that
table.

Pages:

* ``/admin/jobs/`` — the dashboard (routed in ``jobqueue/urls.py`` through
  ``dashboard_urls()``, ahead of the admin's own app index for "jobs").
* ``/admin/jobs/jobrecord/`` — the job list: newest first, filters, search by id,
  cursor pagination.
* ``/admin/jobs/jobrecord/<id>/change/`` — the job page.
* POST-only actions: ``<id>/retry/``, ``<id>/cancel/``, ``bulk/retry-failed/``,
  ``bulk/delete-finished/`` (a GET shows its confirmation page).
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import mark_safe

from jobs import charts, redaction, services
from jobs.handlers import known_types
from jobs.models import Job, JobRecord, Status
from jobs.services import InvalidJobId, InvalidTransition, JobNotFound, JobValidationError
from jobs.stores import ListCursor
from jobs.timeutil import utc_now

logger = logging.getLogger(__name__)

#: Rows per page of the job list.
PAGE_SIZE = 100
#: Days offered by default when deleting finished jobs.
DEFAULT_PURGE_DAYS = 30

STATUS_ORDER = [status.value for status in Status]


# --- small formatting helpers (pure, tested) ---------------------------------------------


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``"850 ms"``, ``"42 s"``, ``"3 min 5 s"``, ``"2 h 10 min"``,
    ``"3 d 4 h"``; ``"—"`` for ``None``."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def first_line(text: str | None, *, limit: int = 160) -> str:
    """The first non-blank line of ``text``, cut to ``limit`` characters with "…"; ``""`` for none.

    For a Python traceback the useful line is the last one (the exception), so when the
    text starts with "Traceback" that line is used instead.
    """
    if not text:
        return ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def format_list_time(moment: datetime, *, now: datetime) -> str:
    """A compact UTC time for the job list: ``"04:59:37"`` on ``now``'s day,
    ``"Nov 28, 23:10"`` before; the full time goes in the cell's tooltip."""
    moment = moment.astimezone(UTC)
    if moment.date() == now.astimezone(UTC).date():
        return moment.strftime("%H:%M:%S")
    return f"{moment:%b} {moment.day}, {moment:%H:%M}"


# --- views' data -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    """The job list's filters, as read from the query string."""

    status: str | None = None
    type: str | None = None
    has_error: bool | None = None

    @property
    def active(self) -> bool:
        return self.status is not None or self.type is not None or self.has_error is not None

    def params(self, **changes) -> dict[str, str]:
        """Query parameters for these filters with ``changes`` applied (``None`` removes one)."""
        values = {"status": self.status, "type": self.type, "has_error": self.has_error, **changes}
        params = {}
        for name, value in values.items():
            if value is None:
                continue
            params[name] = ("yes" if value else "no") if name == "has_error" else value
        return params


def _query_string(params: dict[str, str]) -> str:
    return "?" + urlencode(params) if params else "?"


@dataclass(frozen=True)
class FilterChoice:
    display: str
    query_string: str
    selected: bool


class JobRecordAdmin(admin.ModelAdmin):
    """Admin pages for jobs, reading and acting only through ``jobs.services``.

    Viewing needs ``jobs.view_jobrecord`` (or ``change``, as everywhere in the admin);
    actions need ``jobs.change_jobrecord``. Jobs are never added or deleted one by one
    here: they come from the API, and finished ones are purged in bulk.
    """

    # -- permissions ----------------------------------------------------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _require_view(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _require_change(self, request: HttpRequest) -> None:
        if not self.has_change_permission(request):
            raise PermissionDenied

    # -- URLs -----------------------------------------------------------------------------
    def get_urls(self):
        """Only this admin's own views: no add, delete or history pages on the table."""
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("", wrap(self.changelist_view), name=f"{prefix}_changelist"),
            path("bulk/retry-failed/", wrap(self.retry_failed_view), name=f"{prefix}_retry_failed"),
            path("bulk/delete-finished/", wrap(self.delete_finished_view), name=f"{prefix}_delete_finished"),
            path("<str:object_id>/change/", wrap(self.change_view), name=f"{prefix}_change"),
            path("<str:object_id>/retry/", wrap(self.retry_view), name=f"{prefix}_retry"),
            path("<str:object_id>/cancel/", wrap(self.cancel_view), name=f"{prefix}_cancel"),
            path("<str:object_id>/", wrap(self.redirect_to_change_view)),
        ]

    def _url(self, name: str, *args) -> str:
        return reverse(f"{self.admin_site.name}:jobs_jobrecord_{name}", args=args)

    def _dashboard_url(self) -> str:
        return reverse(f"{self.admin_site.name}:app_list", kwargs={"app_label": self.opts.app_label})

    def _context(self, request: HttpRequest, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "dashboard_url": self._dashboard_url(),
            "list_url": self._url("changelist"),
            "has_view_permission": self.has_view_permission(request),
            "has_change_permission": self.has_change_permission(request),
            **extra,
        }

    # -- dashboard ------------------------------------------------------------------------
    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Counts, queue latency, throughput charts, live worker pools, the store in use."""
        self._require_view(request)
        now = utc_now()
        stats = services.queue_stats(clock=lambda: now)
        last_hour = services.throughput(window=timedelta(hours=1), bucket_seconds=60, clock=lambda: now)
        last_day = services.throughput(window=timedelta(days=1), bucket_seconds=3600, clock=lambda: now)
        pools = services.live_worker_pools(clock=lambda: now)
        list_url = self._url("changelist")

        status_cards = [
            {
                "status": status,
                "count": stats.by_status.get(status, 0),
                "url": list_url + _query_string({"status": status}),
            }
            for status in STATUS_ORDER
        ]
        type_rows = []
        for job_type, counts in sorted(stats.by_type.items()):
            type_rows.append(
                {
                    "type": job_type,
                    "url": list_url + _query_string({"type": job_type}),
                    "total": sum(counts.values()),
                    "failed": counts.get(Status.FAILED, 0),
                    "cells": [
                        {
                            "status": status,
                            "count": counts.get(status, 0),
                            "url": list_url + _query_string({"type": job_type, "status": status}),
                        }
                        for status in STATUS_ORDER
                    ],
                }
            )
        pool_rows = [
            {
                "pool": pool,
                "heartbeat_age": format_duration((now - pool.heartbeat_at).total_seconds()),
                "uptime": format_duration((now - pool.started_at).total_seconds()),
                "busy_percent": round(100 * pool.running / pool.concurrency) if pool.concurrency else 0,
            }
            for pool in pools
        ]
        context = self._context(
            request,
            title="Job queue",
            now=now,
            stats=stats,
            total=stats.total,
            status_cards=status_cards,
            type_rows=type_rows,
            statuses=STATUS_ORDER,
            oldest_pending_age=format_duration(stats.oldest_pending_age_seconds)
            if stats.oldest_pending_age_seconds is not None
            else None,
            hour_chart=self._chart(last_hour, title="Jobs finished per minute, last hour", every=10, fmt="%H:%M"),
            day_chart=self._chart(last_day, title="Jobs finished per hour, last 24 hours", every=3, fmt="%H:00"),
            hour_totals=_totals(last_hour),
            day_totals=_totals(last_day),
            pool_rows=pool_rows,
            lease_seconds=settings.JOBQUEUE_LEASE_SECONDS,
            store_description=services.store_description(),
            recent_actions=self._recent_actions(limit=10),
            retry_failed_url=self._url("retry_failed"),
            delete_finished_url=self._url("delete_finished"),
            default_purge_days=DEFAULT_PURGE_DAYS,
        )
        return TemplateResponse(request, "admin/jobs/dashboard.html", context)

    @staticmethod
    def _chart(buckets, *, title: str, every: int, fmt: str) -> str:
        # charts.throughput_chart escapes every piece of text it writes.
        return mark_safe(
            charts.throughput_chart(
                buckets, title=title, label_format=fmt, tooltip_format="%Y-%m-%d %H:%M UTC", label_every=every
            )
        )

    def _recent_actions(self, *, limit: int):
        content_type = ContentType.objects.get_for_model(JobRecord)
        return LogEntry.objects.filter(content_type=content_type).select_related("user")[:limit]

    # -- job list ---------------------------------------------------------------------------
    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Newest first, filtered by status / type / has error, searchable by id, paged
        by cursor: ``after`` a page's last job towards older ones, ``before`` its first
        towards newer ones, so every page is one indexed query however deep it is."""
        self._require_view(request)
        filters = self._read_filters(request)
        search = request.GET.get("q", "").strip()
        now = utc_now()
        stats = services.queue_stats(clock=lambda: now)
        after, before = self._read_cursors(request)

        has_older = has_newer = False
        if search:
            jobs = self._search(request, search)
        else:
            jobs = services.list_jobs(
                status=filters.status,
                type=filters.type,
                has_error=filters.has_error,
                limit=PAGE_SIZE + 1,
                after=after,
                before=before,
            )
            # One job more than a page tells whether there is a page beyond, on the side
            # the cursor reads towards; the side it came from always has one.
            if before is not None:
                has_newer, has_older = len(jobs) > PAGE_SIZE, True
                jobs = jobs[-PAGE_SIZE:]
            else:
                has_older, has_newer = len(jobs) > PAGE_SIZE, after is not None
                jobs = jobs[:PAGE_SIZE]

        base = filters.params()
        next_url = (
            _query_string({**base, "after": services.encode_list_cursor(jobs[-1])}) if has_older and jobs else None
        )
        previous_url = (
            _query_string({**base, "before": services.encode_list_cursor(jobs[0])}) if has_newer and jobs else None
        )

        context = self._context(
            request,
            title="Jobs",
            jobs=[self._row(job, now=now) for job in jobs],
            filters=filters,
            search=search,
            filter_groups=self._filter_groups(filters, stats),
            clear_filters_url=_query_string({}),
            matching_count=self._matching_count(filters, stats) if not search else len(jobs),
            next_url=next_url,
            previous_url=previous_url,
            first_url=_query_string(base) if has_newer else None,
            page_size=PAGE_SIZE,
            is_first_page=not has_newer,
        )
        return TemplateResponse(request, "admin/jobs/job_list.html", context)

    def _read_filters(self, request: HttpRequest) -> ListFilters:
        status = request.GET.get("status") or None
        if status is not None and status not in STATUS_ORDER:
            self.message_user(request, f"Unknown status “{status}”: that filter was ignored.", messages.WARNING)
            status = None
        has_error_text = request.GET.get("has_error")
        has_error = {"yes": True, "no": False}.get(has_error_text or "")
        if has_error_text and has_error is None:
            self.message_user(request, "“Has error” takes yes or no: that filter was ignored.", messages.WARNING)
        return ListFilters(status=status, type=request.GET.get("type") or None, has_error=has_error)

    def _read_cursors(self, request: HttpRequest) -> tuple[ListCursor | None, ListCursor | None]:
        """The page's ``after`` and ``before`` cursors; none (the first page) for a bad one."""
        try:
            after, before = (
                services.decode_list_cursor(request.GET[name]) if request.GET.get(name) else None
                for name in ("after", "before")
            )
        except ValueError:
            self.message_user(request, "That page link is not valid; here is the first page.", messages.WARNING)
            return None, None
        if after is not None and before is not None:
            return after, None
        return after, before

    def _search(self, request: HttpRequest, search: str) -> list[Job]:
        try:
            return [services.get_job(search)]
        except InvalidJobId:
            self.message_user(
                request, f"“{search}” is not a job id: search takes a whole id of 24 hex digits.", messages.WARNING
            )
        except JobNotFound:
            pass
        return []

    def _row(self, job: Job, *, now: datetime) -> dict:
        return {
            "job": job,
            "url": self._url("change", job.id),
            "error_line": first_line(job.last_error),
            "run_at": format_list_time(job.run_at, now=now),
            "created_at": format_list_time(job.created_at, now=now),
            "updated_at": format_list_time(job.updated_at, now=now),
        }

    def _filter_groups(self, filters: ListFilters, stats: services.QueueStats) -> list[dict]:
        """The filter sidebar, with counts where the statistics give them cheaply."""

        def status_count(status: str) -> int:
            if filters.type is not None:
                return stats.by_type.get(filters.type, {}).get(status, 0)
            return stats.by_status.get(status, 0)

        def type_count(job_type: str) -> int:
            counts = stats.by_type.get(job_type, {})
            return counts.get(filters.status, 0) if filters.status else sum(counts.values())

        types = sorted(set(stats.by_type) | set(known_types()) | ({filters.type} if filters.type else set()))

        def group(title: str, field: str, options: list[tuple[str, object]]) -> dict:
            """The choices of the filter ``field``: all, then one per (label, value)."""
            current = getattr(filters, field)
            choices = [FilterChoice("All", _query_string(filters.params(**{field: None})), current is None)]
            choices += [
                FilterChoice(label, _query_string(filters.params(**{field: value})), current == value)
                for label, value in options
            ]
            return {"title": title, "choices": choices}

        return [
            group("status", "status", [(f"{status} ({status_count(status):,})", status) for status in STATUS_ORDER]),
            group("type", "type", [(f"{job_type} ({type_count(job_type):,})", job_type) for job_type in types]),
            group("has error", "has_error", [("Yes", True), ("No", False)]),
        ]

    @staticmethod
    def _matching_count(filters: ListFilters, stats: services.QueueStats) -> int | None:
        """How many jobs the filters match, when the per type and status counts tell."""
        if filters.has_error is not None:
            return None
        if filters.type is not None:
            counts = stats.by_type.get(filters.type, {})
            return counts.get(filters.status, 0) if filters.status else sum(counts.values())
        return stats.by_status.get(filters.status, 0) if filters.status else stats.total

    # -- job page ---------------------------------------------------------------------------
    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None) -> HttpResponse:
        """Every field of one job, its payload, its attempts and the actions it allows."""
        self._require_view(request)
        try:
            job = services.get_job(object_id)
        except (InvalidJobId, JobNotFound):
            return self._job_missing(request, object_id)
        now = utc_now()
        first_number = job.attempt_count - len(job.attempts) + 1
        attempts = [
            {
                "number": first_number + index,
                "attempt": attempt,
                "duration": format_duration((attempt.finished_at - attempt.started_at).total_seconds()),
                "error_line": first_line(attempt.error),
                "outcome_class": _outcome_class(attempt.outcome),
            }
            for index, attempt in enumerate(job.attempts)
        ]
        is_delayed = job.status == Status.PENDING and job.run_at > now
        content_type = ContentType.objects.get_for_model(JobRecord)
        context = self._context(
            request,
            title=f"{job.type} job {job.id}",
            job=job,
            attempts=attempts,
            dropped_attempts=job.attempt_count - len(job.attempts),
            last_error_line=first_line(job.last_error),
            payload_json=json.dumps(
                redaction.masked_payload(job.type, job.payload), indent=2, ensure_ascii=False, sort_keys=True
            ),
            is_delayed=is_delayed,
            due_in=format_duration((job.run_at - now).total_seconds()) if is_delayed else None,
            can_retry=job.status == Status.FAILED or is_delayed,
            can_cancel=job.status == Status.PENDING,
            retry_url=self._url("retry", job.id),
            cancel_url=self._url("cancel", job.id),
            status_list_url=self._url("changelist") + _query_string({"status": job.status}),
            type_list_url=self._url("changelist") + _query_string({"type": job.type}),
            history=LogEntry.objects.filter(content_type=content_type, object_id=job.id).select_related("user")[:20],
        )
        return TemplateResponse(request, "admin/jobs/job_detail.html", context)

    def redirect_to_change_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return HttpResponseRedirect(self._url("change", object_id))

    def _job_missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self.message_user(
            request, f"Job with ID “{object_id}” does not exist. Perhaps it was deleted?", messages.WARNING
        )
        return HttpResponseRedirect(self._url("changelist"))

    # -- actions ----------------------------------------------------------------------------
    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: retry a failed job now, or make a delayed pending job due now."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_change(request)
        try:
            before = services.get_job(object_id)
            job = services.retry_job_now(object_id)
        except (InvalidJobId, JobNotFound):
            return self._job_missing(request, object_id)
        except InvalidTransition as refusal:
            return self._refuse(request, object_id, refusal)
        if before.status == Status.FAILED:
            change = f"Retried now (was failed): attempt {job.retry_count + 1} of {job.max_retries + 1}."
        else:
            change = "Made due now (was delayed)."
        self._log(request, job_id=job.id, repr=_job_repr(job), flag=CHANGE, message=change)
        self.message_user(request, f"The {job.type} job {job.id} is pending and due now. {change}", messages.SUCCESS)
        return HttpResponseRedirect(self._url("change", job.id))

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: cancel a pending job, so that no worker ever claims it."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_change(request)
        try:
            job = services.cancel_job(object_id)
        except (InvalidJobId, JobNotFound):
            return self._job_missing(request, object_id)
        except InvalidTransition as refusal:
            return self._refuse(request, object_id, refusal)
        self._log(request, job_id=job.id, repr=_job_repr(job), flag=CHANGE, message="Cancelled (was pending).")
        self.message_user(request, f"The {job.type} job {job.id} was cancelled; it will not run.", messages.SUCCESS)
        return HttpResponseRedirect(self._url("change", job.id))

    def _refuse(self, request: HttpRequest, object_id: str, refusal: InvalidTransition) -> HttpResponse:
        # The job changed since the page was drawn: say so, change nothing, show it as it is now.
        logger.info("admin action refused for job %s: %s", object_id, refusal)
        self.message_user(request, f"Nothing was changed: {refusal}.", messages.ERROR)
        return HttpResponseRedirect(self._url("change", object_id))

    def retry_failed_view(self, request: HttpRequest) -> HttpResponse:
        """POST ``type``: retry now every failed job of that type."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_change(request)
        job_type = request.POST.get("type", "").strip()
        if not job_type:
            self.message_user(request, "Choose a job type to retry.", messages.ERROR)
            return HttpResponseRedirect(self._dashboard_url())
        count = services.retry_failed_jobs(type=job_type)
        noun = "job" if count == 1 else "jobs"
        change = f"Retried {count} failed {job_type} {noun} now."
        self._log(request, job_id=None, repr=f"{count} failed {job_type} {noun}", flag=CHANGE, message=change)
        if count:
            self.message_user(request, f"{change} They are pending and due now.", messages.SUCCESS)
        else:
            self.message_user(request, f"No failed {job_type} job to retry.", messages.WARNING)
        return HttpResponseRedirect(self._dashboard_url())

    def delete_finished_view(self, request: HttpRequest) -> HttpResponse:
        """GET ``days``: the confirmation page. POST ``days``: delete completed, failed and
        cancelled jobs that finished over that many days ago."""
        self._require_change(request)
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        data = request.POST if request.method == "POST" else request.GET
        days_text = data.get("days", str(DEFAULT_PURGE_DAYS)).strip()
        try:
            days = float(days_text)
            if not days >= 0 or days == float("inf"):
                raise ValueError(days_text)
        except ValueError:
            self.message_user(request, f"“{days_text}” is not a number of days (0 or more).", messages.ERROR)
            return HttpResponseRedirect(self._dashboard_url())
        days_display = f"{days:g}"
        if request.method == "GET":
            context = self._context(
                request,
                title="Are you sure?",
                days=days_display,
                cutoff=utc_now() - timedelta(days=days),
                delete_finished_url=self._url("delete_finished"),
            )
            return TemplateResponse(request, "admin/jobs/delete_finished_confirmation.html", context)
        try:
            count = services.delete_finished_jobs(older_than_days=days)
        except JobValidationError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(self._dashboard_url())
        noun = "job" if count == 1 else "jobs"
        change = f"Deleted {count} finished {noun} (completed, failed or cancelled over {days_display} days ago)."
        self._log(request, job_id=None, repr=f"{count} finished {noun}", flag=DELETION, message=change)
        self.message_user(request, change, messages.SUCCESS if count else messages.WARNING)
        return HttpResponseRedirect(self._dashboard_url())

    def _log(self, request: HttpRequest, *, job_id: str | None, repr: str, flag: int, message: str) -> None:
        """Record an operator action in the admin log (who, when, which job, what)."""
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=ContentType.objects.get_for_model(JobRecord),
            object_id=job_id,
            object_repr=repr[:200],
            action_flag=flag,
            change_message=message,
        )


def _job_repr(job: Job) -> str:
    return f"{job.type} job {job.id}"


def _outcome_class(outcome: str) -> str:
    """A CSS modifier for an attempt's outcome: completed, released or failed (the rest)."""
    if outcome == "completed":
        return "completed"
    if outcome == "released":
        return "released"
    return "failed"


def _totals(buckets) -> dict[str, int]:
    return {
        "completed": sum(bucket.completed for bucket in buckets),
        "failed": sum(bucket.failed for bucket in buckets),
    }


admin.site.register(JobRecord, JobRecordAdmin)


def dashboard_urls(site: admin.AdminSite = admin.site) -> list:
    """URL patterns to include under the admin's prefix *before* ``site.urls``: they make
    the "jobs" app index (``/admin/jobs/``) the operator dashboard."""
    model_admin = site.get_model_admin(JobRecord)
    return [path("jobs/", site.admin_view(model_admin.dashboard_view), name="jobs_dashboard")]
