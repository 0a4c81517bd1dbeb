"""URL map: the jobs API at the root (``/jobs``, ``/stats``), the admin at ``/admin/``."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("jobs.ops_urls")),
    path("", include("jobs.urls")),
    path("", RedirectView.as_view(url="/admin/jobs/", permanent=False)),
]

handler400 = "jobqueue.errors.bad_request"
handler403 = "jobqueue.errors.permission_denied"
handler404 = "jobqueue.errors.page_not_found"
handler500 = "jobqueue.errors.server_error"
