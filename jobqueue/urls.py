"""URL map: the jobs API at the root (``/jobs``, ``/stats``), the admin at ``/admin/``."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from jobs.admin import dashboard_urls

urlpatterns = [
    # The "jobs" app index (/admin/jobs/) is the operator dashboard: it must match first.
    path("admin/", include(dashboard_urls())),
    path("admin/", admin.site.urls),
    path("", include("jobs.ops_urls")),
    path("", include("jobs.urls")),
    path("", RedirectView.as_view(url="/admin/jobs/", permanent=False)),
]
