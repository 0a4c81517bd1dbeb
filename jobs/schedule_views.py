"""The HTTP API of periodic schedules: ``/schedules`` and ``/schedules/<name>``.

Thin DRF views like ``jobs.views``: they call ``jobs.schedule_services`` and render
with ``ScheduleOutputSerializer``; errors are the API's JSON errors.
"""

from django.urls import reverse
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response

from apikeys.access import ApiAccess
from apikeys.models import Scope
from jobs import schedule_services
from jobs.serializers import UTCDateTimeField
from jobs.views import JobJSONParser


class ScheduleOutputSerializer(serializers.Serializer):
    """The schedule JSON of the API, from a ``jobs.models.Schedule``."""

    name = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
    payload = serializers.JSONField(read_only=True)
    cron = serializers.CharField(read_only=True)
    timezone = serializers.CharField(read_only=True)
    queue = serializers.CharField(read_only=True)
    priority = serializers.IntegerField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    nextRunAt = UTCDateTimeField(source="next_run_at")
    lastRunAt = UTCDateTimeField(source="last_run_at")


def _json_object(request) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ParseError("The request body must be a JSON object.")
    return request.data


class ScheduleViewSet(ApiAccess, viewsets.ViewSet):
    """Schedules.

    * ``POST /schedules`` — create; ``201`` with the schedule and its ``Location``;
      ``409`` if the name is taken.
    * ``GET /schedules`` — every schedule, by name.
    * ``GET``, ``PATCH``, ``DELETE /schedules/<name>`` — read, change some fields, forget.
    """

    # Schedules change what runs: creating one is ``manage``, like editing or deleting one.
    required_scopes = {"create": Scope.MANAGE}

    parser_classes = [JobJSONParser]

    def list(self, request):
        return Response(ScheduleOutputSerializer(schedule_services.list_schedules(), many=True).data)

    def create(self, request):
        schedule = schedule_services.create_schedule(_json_object(request))
        return Response(
            ScheduleOutputSerializer(schedule).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("schedule-detail", kwargs={"name": schedule.name})},
        )

    def retrieve(self, request, name=None):
        return Response(ScheduleOutputSerializer(schedule_services.get_schedule(name)).data)

    def partial_update(self, request, name=None):
        return Response(ScheduleOutputSerializer(schedule_services.update_schedule(name, _json_object(request))).data)

    def destroy(self, request, name=None):
        schedule_services.delete_schedule(name)
        return Response(status=status.HTTP_204_NO_CONTENT)
