"""The HTTP API of named queues: ``GET /queues``, ``POST /queues/<name>/pause`` and
``/resume``. Thin DRF views over ``jobs.queues``; errors are rendered by
``jobs.views.api_exception_handler`` like every other API error."""

from rest_framework import serializers, views
from rest_framework.response import Response

from apikeys.access import ApiAccess
from jobs import queues


class QueueOutputSerializer(serializers.Serializer):
    """``queues.QueueSummary`` as JSON."""

    name = serializers.CharField(read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    oldestPendingAgeSeconds = serializers.FloatField(source="oldest_pending_age_seconds", read_only=True)
    paused = serializers.BooleanField(read_only=True)


class QueueListView(ApiAccess, views.APIView):
    """``GET /queues`` — every queue by name: ``counts`` per status, the age in seconds of
    its oldest due pending job (``oldestPendingAgeSeconds``, null when none) and ``paused``."""

    def get(self, request):
        return Response(QueueOutputSerializer(queues.list_queues(), many=True).data)


class QueuePauseView(ApiAccess, views.APIView):
    """``POST /queues/<name>/pause`` — no pool claims the queue's pending jobs any more
    (running ones finish); the queue as JSON. Idempotent; a queue with no jobs yet may be
    paused ahead of time. A bad name is a 400 naming ``name``."""

    def post(self, request, name):
        return Response(QueueOutputSerializer(queues.pause_queue(name)).data)


class QueueResumeView(ApiAccess, views.APIView):
    """``POST /queues/<name>/resume`` — pools claim the queue's jobs again; the queue as JSON."""

    def post(self, request, name):
        return Response(QueueOutputSerializer(queues.resume_queue(name)).data)
