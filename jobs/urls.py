"""Routes of the HTTP API. Every path answers with and without a trailing slash, for
every method (``APPEND_SLASH`` is off: a redirect would lose a POST body)."""

from django.urls import path, re_path

from jobs.schedule_views import ScheduleViewSet
from jobs.views import JobViewSet, QueueStatsView, api_not_found

job_list = JobViewSet.as_view({"get": "list", "post": "create"})
job_detail = JobViewSet.as_view({"get": "retrieve"})
queue_stats = QueueStatsView.as_view()
schedule_list = ScheduleViewSet.as_view({"get": "list", "post": "create"})
schedule_detail = ScheduleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("jobs", job_list, name="job-list"),
    path("jobs/", job_list),
    path("jobs/<str:job_id>", job_detail, name="job-detail"),
    path("jobs/<str:job_id>/", job_detail),
    path("stats", queue_stats, name="queue-stats"),
    path("stats/", queue_stats),
    path("schedules", schedule_list, name="schedule-list"),
    path("schedules/", schedule_list),
    path("schedules/<str:name>", schedule_detail, name="schedule-detail"),
    path("schedules/<str:name>/", schedule_detail),
    # Anything else under the API is a JSON 404, not Django's HTML page.
    re_path(r"^(?:jobs|stats|schedules)/", api_not_found),
]
