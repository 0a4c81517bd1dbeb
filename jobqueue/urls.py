"""URL map: the jobs API at the root (``/jobs``, ``/stats``), the admin at ``/admin/``, the
OpenAPI description at ``/api/schema`` and its Swagger UI at ``/api/docs``."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# The API first: ``POST /jobs`` is the hottest path, and Django tries these in order (with the
# API last, its failed matches against the others were a twentieth of a POST /jobs' CPU).
# No two of these groups match the same path, so the order changes no answer.
urlpatterns = [
    path("", include("jobs.urls")),
    path("", include("jobs.ops_urls")),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/schema/", SpectacularAPIView.as_view()),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema")),
    path("", RedirectView.as_view(url="/admin/jobs/", permanent=False)),
]

handler400 = "jobqueue.errors.bad_request"
handler403 = "jobqueue.errors.permission_denied"
handler404 = "jobqueue.errors.page_not_found"
handler500 = "jobqueue.errors.server_error"
