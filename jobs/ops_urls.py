"""Routes of the operations endpoints (with and without a trailing slash)."""

from django.urls import path

from jobs.ops_views import HealthzView, MetricsView, ReadyzView

urlpatterns = []
for name, view in (("metrics", MetricsView), ("healthz", HealthzView), ("readyz", ReadyzView)):
    urlpatterns += [path(name, view.as_view(), name=name), path(f"{name}/", view.as_view())]
