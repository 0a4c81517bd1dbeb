"""URL map: the jobs API at the root (``/jobs``, ``/stats``), the admin at ``/admin/``, the
OpenAPI description at ``/api/schema`` and its Swagger UI at ``/api/docs``."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jobs.admin import dashboard_urls

urlpatterns = [
    # The "jobs" app index (/admin/jobs/) is the operator dashboard: it must match first.
    path("admin/", include(dashboard_urls())),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/schema/", SpectacularAPIView.as_view()),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema")),
    path("", include("jobs.urls")),
    path("", RedirectView.as_view(url="/admin/jobs/", permanent=False)),
]
