"""Operations endpoints: ``/metrics`` (Prometheus), ``/healthz`` (liveness), ``/readyz``
(readiness).

``/metrics`` is guarded like the API's reads (``apikeys.access.ApiAccess``): an API key
with the ``read`` scope (or staff who may view jobs), open when ``JOBQUEUE_API_AUTH=open``,
and throttled with the reads. The health endpoints are always open and never
authenticate: orchestrators probe them without credentials, and they tell nothing about
the jobs.
"""

import json
import logging
import threading
from types import SimpleNamespace

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, renderers, views
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from apikeys.access import ApiAccess
from jobs import metrics, services
from jobs.api_schema import HEALTHZ_RESPONSES, METRICS_RESPONSES, READYZ_RESPONSES

logger = logging.getLogger(__name__)

#: How long ``/readyz`` waits for the store and the database.
READY_TIMEOUT_SECONDS = 1.0


class _ScrapeRenderer(renderers.BaseRenderer):
    """Lets a scraper's ``Accept`` through DRF's content negotiation; the body is made by
    ``prometheus_client`` (errors, such as a refused permission, come out as JSON)."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode()


class PrometheusTextRenderer(_ScrapeRenderer):
    media_type = "text/plain"
    format = "prometheus"


class OpenMetricsRenderer(_ScrapeRenderer):
    media_type = "application/openmetrics-text"
    format = "openmetrics"


class AcceptHeaderNegotiation(DefaultContentNegotiation):
    """Chooses the renderer by ``Accept`` alone: scrapers send no ``?format=``, and an
    unknown one must not turn a scrape into a 404."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


@extend_schema(responses=METRICS_RESPONSES, parameters=[OpenApiParameter("format", exclude=True)])
class MetricsView(ApiAccess, views.APIView):
    """``GET /metrics`` — the Prometheus text format (or OpenMetrics when the scraper asks
    for it), read from the store now."""

    renderer_classes = [PrometheusTextRenderer, OpenMetricsRenderer, renderers.JSONRenderer]
    content_negotiation_class = AcceptHeaderNegotiation

    def get(self, request):
        body, content_type = metrics.render(accept=request.META.get("HTTP_ACCEPT"))
        return HttpResponse(body, content_type=content_type)


@extend_schema(responses=HEALTHZ_RESPONSES)
class HealthzView(views.APIView):
    """``GET /healthz`` — ``200 {"status": "ok"}`` while the process answers (no store call)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    def get(self, request):
        return Response({"status": "ok"})


@extend_schema(responses=READYZ_RESPONSES)
class ReadyzView(views.APIView):
    """``GET /readyz`` — ``200`` when the job store answers within a second and every
    migration is applied; else ``503`` with ``{"status": "unavailable", "failed": {check: reason}}``."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    def get(self, request):
        failed = readiness_problems(timeout=READY_TIMEOUT_SECONDS)
        if failed:
            logger.warning("not ready: %s", failed)
            return Response({"status": "unavailable", "failed": failed}, status=503)
        return Response({"status": "ok"})


def readiness_problems(*, timeout: float) -> dict[str, str]:
    """``{check: reason}`` for each check that failed (empty when ready).

    The checks run on a thread of their own so that a database that does not answer
    cannot hold the request past ``timeout``.
    """
    found: dict[str, str] = {}
    done = threading.Event()

    def run_checks():
        try:
            for name, check in (("store", services.check_store_ready), ("migrations", _unapplied_migrations)):
                try:
                    problem = check()
                except Exception as error:  # any failure is "not ready", with its reason
                    problem = f"{type(error).__name__}: {error}"
                if problem:
                    found[name] = problem
        finally:
            connections.close_all()
            done.set()

    threading.Thread(target=run_checks, name="readyz", daemon=True).start()
    if not done.wait(timeout):
        return {**found, "store": f"no answer within {timeout:g} s"}
    return found


# Once every migration of this code is applied it stays so for the process's life (new
# migrations come with new code, hence a new process): skip loading the graph again.
_all_migrations_applied = False


def _unapplied_migrations() -> str | None:
    global _all_migrations_applied
    if _all_migrations_applied:
        return None
    executor = MigrationExecutor(connections["default"])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan)
        return f"not applied: {names}"
    _all_migrations_applied = True
    return None
