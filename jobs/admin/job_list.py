"""The job list: newest first, filters for status, type and "has error", search by id,
and cursor pages that stay one indexed query however deep they go."""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages

from jobs import services
from jobs.admin.base import JobAdminPage
from jobs.admin.dashboard import STATUS_ORDER
from jobs.domain import QUEUE_NAME_PATTERN, Job, JobFilter
from jobs.handlers import known_types
from jobs.services import InvalidJobId, JobNotFound
from jobs.stores import ListCursor
from jobs.timeutil import utc_now

#: Rows per page of the job list.
PAGE_SIZE = 100


class ListFilters(JobFilter):
    """The job list's filters, as read from the query string."""

    @property
    def active(self) -> bool:
        return any(value is not None for value in (self.status, self.type, self.has_error, self.queue))

    def params(self, **changes) -> dict[str, str]:
        """Query parameters for these filters with ``changes`` applied (``None`` removes one)."""
        values = {"status": self.status, "type": self.type, "has_error": self.has_error, "queue": self.queue, **changes}
        params = {}
        for name, value in values.items():
            if value is None:
                continue
            params[name] = ("yes" if value else "no") if name == "has_error" else value
        return params


@dataclass(frozen=True)
class FilterChoice:
    """One choice of a filter group, as Django's ``admin/filter.html`` draws it."""

    display: str
    query_string: str
    selected: bool


def query_string(params: dict[str, str]) -> str:
    return "?" + urlencode(params) if params else "?"


class JobListView(JobAdminPage):
    """Newest first, filtered, searchable by id, paged by cursor: ``after`` a page's last
    job towards older ones, ``before`` its first towards newer ones."""

    template_name = "admin/jobs/job_list.html"
    title = "Jobs"

    def get_context_data(self, **kwargs):
        filters = self._read_filters()
        search = self.request.GET.get("q", "").strip()
        now = utc_now()
        stats = services.queue_stats(clock=lambda: now)
        has_older = has_newer = False
        if search:
            jobs = self._search(search)
        else:
            after, before = self._read_cursors()
            jobs = services.list_jobs(filters, limit=PAGE_SIZE + 1, after=after, before=before)
            # One job more than a page tells whether there is a page beyond, on the side
            # the cursor reads towards; the side it came from always has one.
            if before is not None:
                has_newer, has_older = len(jobs) > PAGE_SIZE, True
                jobs = jobs[-PAGE_SIZE:]
            else:
                has_older, has_newer = len(jobs) > PAGE_SIZE, after is not None
                jobs = jobs[:PAGE_SIZE]

        base = filters.params()
        return super().get_context_data(
            now=now,
            jobs=[{"job": job, "url": self.model_admin.url("change", job.id)} for job in jobs],
            filters=filters,
            search=search,
            filter_groups=filter_groups(filters, stats),
            clear_filters_url=query_string({}),
            matching_count=matching_count(filters, stats) if not search else len(jobs),
            next_url=query_string({**base, "after": services.encode_list_cursor(jobs[-1])})
            if has_older and jobs
            else None,
            previous_url=query_string({**base, "before": services.encode_list_cursor(jobs[0])})
            if has_newer and jobs
            else None,
            first_url=query_string(base) if has_newer else None,
            page_size=PAGE_SIZE,
            is_first_page=not has_newer,
            **kwargs,
        )

    def _read_filters(self) -> ListFilters:
        status = self.request.GET.get("status") or None
        if status is not None and status not in STATUS_ORDER:
            self.message(f"Unknown status “{status}”: that filter was ignored.", messages.WARNING)
            status = None
        has_error_text = self.request.GET.get("has_error")
        has_error = {"yes": True, "no": False}.get(has_error_text or "")
        if has_error_text and has_error is None:
            self.message("“Has error” takes yes or no: that filter was ignored.", messages.WARNING)
        queue = self.request.GET.get("queue") or None
        if queue is not None and not re.fullmatch(QUEUE_NAME_PATTERN, queue):
            self.message(f"“{queue}” is not a queue name: that filter was ignored.", messages.WARNING)
            queue = None
        return ListFilters(status=status, type=self.request.GET.get("type") or None, has_error=has_error, queue=queue)

    def _read_cursors(self) -> tuple[ListCursor | None, ListCursor | None]:
        """The page's ``after`` and ``before`` cursors; none (the first page) for a bad one."""
        try:
            after, before = (
                services.decode_list_cursor(self.request.GET[name]) if self.request.GET.get(name) else None
                for name in ("after", "before")
            )
        except ValueError:
            self.message("That page link is not valid; here is the first page.", messages.WARNING)
            return None, None
        if after is not None and before is not None:
            return after, None
        return after, before

    def _search(self, search: str) -> list[Job]:
        try:
            return [services.get_job(search)]
        except InvalidJobId:
            self.message(f"“{search}” is not a job id: search takes a whole id of 24 hex digits.", messages.WARNING)
        except JobNotFound:
            pass
        return []


def filter_groups(filters: ListFilters, stats: services.QueueStats) -> list[dict]:
    """The filter sidebar (``title`` and ``choices`` per group, as ``admin/filter.html``
    takes them), with counts where the statistics give them cheaply."""

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
        choices = [FilterChoice("All", query_string(filters.params(**{field: None})), current is None)]
        choices += [
            FilterChoice(label, query_string(filters.params(**{field: value})), current == value)
            for label, value in options
        ]
        return {"title": title, "choices": choices}

    return [
        group("status", "status", [(f"{status} ({status_count(status):,})", status) for status in STATUS_ORDER]),
        group("type", "type", [(f"{job_type} ({type_count(job_type):,})", job_type) for job_type in types]),
        group("has error", "has_error", [("Yes", True), ("No", False)]),
    ]


def matching_count(filters: ListFilters, stats: services.QueueStats) -> int | None:
    """How many jobs the filters match, when the per type and status counts tell."""
    if filters.has_error is not None or filters.queue is not None:
        return None
    if filters.type is not None:
        counts = stats.by_type.get(filters.type, {})
        return counts.get(filters.status, 0) if filters.status else sum(counts.values())
    return stats.by_status.get(filters.status, 0) if filters.status else stats.total
