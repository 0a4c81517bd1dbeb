"""The HTTP API of periodic schedules: ``/schedules`` and ``/schedules/<name>``.

Thin DRF views like ``jobs.views``: they call ``jobs.schedule_services`` and render
with ``ScheduleOutputSerializer``; errors are the API's JSON errors.
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response

from apikeys.access import ApiAccess
from apikeys.models import Scope
from jobs import schedule_services
from jobs.api_schema import (
    SCHEDULE_CREATE_PARAMETERS,
    SCHEDULE_CREATE_RESPONSES,
    SCHEDULE_DELETE_RESPONSES,
    SCHEDULE_LIST_PARAMETERS,
    SCHEDULE_LIST_RESPONSES,
    SCHEDULE_PARAMETERS,
    SCHEDULE_READ_RESPONSES,
    SCHEDULE_UPDATE_RESPONSES,
)
from jobs.request_body import JobJSONParser, check_json_object_body
from jobs.schedules import ScheduleInputSerializer
from jobs.serializers import ScheduleOutputSerializer


@extend_schema_view(
    list=extend_schema(
        operation_id="schedules_list", parameters=SCHEDULE_LIST_PARAMETERS, responses=SCHEDULE_LIST_RESPONSES
    ),
    create=extend_schema(
        operation_id="schedules_create",
        parameters=SCHEDULE_CREATE_PARAMETERS,
        request=ScheduleInputSerializer,
        responses=SCHEDULE_CREATE_RESPONSES,
    ),
    retrieve=extend_schema(
        operation_id="schedules_retrieve", parameters=SCHEDULE_PARAMETERS, responses=SCHEDULE_READ_RESPONSES
    ),
    partial_update=extend_schema(
        operation_id="schedules_partial_update",
        parameters=SCHEDULE_PARAMETERS,
        request=ScheduleInputSerializer,
        responses=SCHEDULE_UPDATE_RESPONSES,
    ),
    destroy=extend_schema(
        operation_id="schedules_destroy", parameters=SCHEDULE_PARAMETERS, responses=SCHEDULE_DELETE_RESPONSES
    ),
)
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
        check_json_object_body(request)
        schedule = schedule_services.create_schedule(request.data)
        return Response(
            ScheduleOutputSerializer(schedule).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("schedule-detail", kwargs={"name": schedule.name})},
        )

    def retrieve(self, request, name=None):
        return Response(ScheduleOutputSerializer(schedule_services.get_schedule(name)).data)

    def partial_update(self, request, name=None):
        check_json_object_body(request)
        return Response(ScheduleOutputSerializer(schedule_services.update_schedule(name, request.data)).data)

    def destroy(self, request, name=None):
        schedule_services.delete_schedule(name)
        return Response(status=status.HTTP_204_NO_CONTENT)
