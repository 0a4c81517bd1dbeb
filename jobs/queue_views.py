"""The HTTP API of named queues: ``GET /queues``, ``POST /queues/<name>/pause`` and
``/resume``. Thin DRF views over ``jobs.queues``; errors are rendered by
``jobs.views.api_exception_handler`` like every other API error."""

from drf_spectacular.utils import extend_schema
from rest_framework import views
from rest_framework.response import Response

from apikeys.access import ApiAccess
from jobs import queues
from jobs.api_schema import QUEUE_ACTION_PARAMETERS, QUEUE_ACTION_RESPONSES, QUEUE_LIST_PARAMETERS, QUEUE_LIST_RESPONSES
from jobs.serializers import QueueOutputSerializer


class QueueListView(ApiAccess, views.APIView):
    """``GET /queues`` — every queue by name: ``counts`` per status, the age in seconds of
    its oldest due pending job (``oldestPendingAgeSeconds``, null when none) and ``paused``."""

    @extend_schema(operation_id="queues_list", parameters=QUEUE_LIST_PARAMETERS, responses=QUEUE_LIST_RESPONSES)
    def get(self, request):
        return Response(QueueOutputSerializer(queues.list_queues(), many=True).data)


class QueuePauseView(ApiAccess, views.APIView):
    """``POST /queues/<name>/pause`` — no pool claims the queue's pending jobs any more
    (running ones finish); the queue as JSON. Idempotent; a queue with no jobs yet may be
    paused ahead of time. A bad name is a 400 naming ``name``."""

    @extend_schema(
        operation_id="queues_pause", request=None, parameters=QUEUE_ACTION_PARAMETERS, responses=QUEUE_ACTION_RESPONSES
    )
    def post(self, request, name):
        return Response(QueueOutputSerializer(queues.pause_queue(name)).data)


class QueueResumeView(ApiAccess, views.APIView):
    """``POST /queues/<name>/resume`` — pools claim the queue's jobs again; the queue as JSON."""

    @extend_schema(
        operation_id="queues_resume", request=None, parameters=QUEUE_ACTION_PARAMETERS, responses=QUEUE_ACTION_RESPONSES
    )
    def post(self, request, name):
        return Response(QueueOutputSerializer(queues.resume_queue(name)).data)
