"""Routes of the HTTP API. Every path answers with and without a trailing slash, for
every method (``APPEND_SLASH`` is off: a redirect would lose a POST body)."""

from django.urls import path, re_path

from jobs.queue_views import QueueListView, QueuePauseView, QueueResumeView
from jobs.views import JobViewSet, QueueStatsView, api_not_found

job_list = JobViewSet.as_view({"get": "list", "post": "create"})
job_detail = JobViewSet.as_view({"get": "retrieve"})
queue_stats = QueueStatsView.as_view()
queue_list = QueueListView.as_view()
queue_pause = QueuePauseView.as_view()
queue_resume = QueueResumeView.as_view()

urlpatterns = [
    path("jobs", job_list, name="job-list"),
    path("jobs/", job_list),
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
    # Anything else under the API is a JSON 404, not Django's HTML page.
    re_path(r"^(?:jobs|stats|queues)/", api_not_found),
]
