"""Routes of the HTTP API. Every path answers with and without a trailing slash, for
every method (``APPEND_SLASH`` is off: a redirect would lose a POST body)."""

from django.urls import path, re_path

from jobs.queue_views import QueueListView, QueuePauseView, QueueResumeView
from jobs.schedule_views import ScheduleViewSet
from jobs.views import JobViewSet, QueueStatsView, api_not_found

job_list = JobViewSet.as_view({"get": "list", "post": "create"})
job_detail = JobViewSet.as_view({"get": "retrieve"})
job_bulk = JobViewSet.as_view({"post": "bulk_create"})
job_cancel = JobViewSet.as_view({"post": "cancel"})
job_retry = JobViewSet.as_view({"post": "retry"})
queue_stats = QueueStatsView.as_view()
queue_list = QueueListView.as_view()
queue_pause = QueuePauseView.as_view()
queue_resume = QueueResumeView.as_view()
schedule_list = ScheduleViewSet.as_view({"get": "list", "post": "create"})
schedule_detail = ScheduleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})


def both_slashes(route: str, view, name: str):
    """``route`` and ``route/``, both to ``view``; reversing ``name`` gives the one without."""
    return [path(route, view, name=name), path(f"{route}/", view)]


urlpatterns = [
    *both_slashes("jobs", job_list, "job-list"),
    *both_slashes("jobs/bulk", job_bulk, "job-bulk"),
    *both_slashes("jobs/<str:job_id>/cancel", job_cancel, "job-cancel"),
    *both_slashes("jobs/<str:job_id>/retry", job_retry, "job-retry"),
    *both_slashes("jobs/<str:job_id>", job_detail, "job-detail"),
    *both_slashes("stats", queue_stats, "queue-stats"),
    *both_slashes("queues", queue_list, "queue-list"),
    *both_slashes("queues/<str:name>/pause", queue_pause, "queue-pause"),
    *both_slashes("queues/<str:name>/resume", queue_resume, "queue-resume"),
    *both_slashes("schedules", schedule_list, "schedule-list"),
    *both_slashes("schedules/<str:name>", schedule_detail, "schedule-detail"),
    # Anything else under the API is a JSON 404, not Django's HTML page.
    re_path(r"^(?:jobs|stats|queues|schedules)/", api_not_found),
]
