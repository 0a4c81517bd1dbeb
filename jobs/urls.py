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

urlpatterns = [
    path("jobs", job_list, name="job-list"),
    path("jobs/", job_list),
    path("jobs/bulk", job_bulk, name="job-bulk"),
    path("jobs/bulk/", job_bulk),
    path("jobs/<str:job_id>/cancel", job_cancel, name="job-cancel"),
    path("jobs/<str:job_id>/cancel/", job_cancel),
    path("jobs/<str:job_id>/retry", job_retry, name="job-retry"),
    path("jobs/<str:job_id>/retry/", job_retry),
    path("jobs/<str:job_id>", job_detail, name="job-detail"),
    path("jobs/<str:job_id>/", job_detail),
    path("stats", queue_stats, name="queue-stats"),
    path("stats/", queue_stats),
    path("queues", queue_list, name="queue-list"),
    path("queues/", queue_list),
    path("queues/<str:name>/pause", queue_pause, name="queue-pause"),
    path("queues/<str:name>/pause/", queue_pause),
    path("queues/<str:name>/resume", queue_resume, name="queue-resume"),
    path("queues/<str:name>/resume/", queue_resume),
    path("schedules", schedule_list, name="schedule-list"),
    path("schedules/", schedule_list),
    path("schedules/<str:name>", schedule_detail, name="schedule-detail"),
    path("schedules/<str:name>/", schedule_detail),
    # Anything else under the API is a JSON 404, not Django's HTML page.
    re_path(r"^(?:jobs|stats|queues|schedules)/", api_not_found),
]
