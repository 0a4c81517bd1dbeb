"""What the OpenAPI description (drf-spectacular, ``GET /api/schema``) says about the
API beyond what it reads from the views: errors, headers and query parameters."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from jobs.domain import Status
from jobs.serializers import (
    JobOutputSerializer,
    QueueOutputSerializer,
    QueueStatsOutputSerializer,
    ScheduleOutputSerializer,
)
from jobs.services import MAX_BULK_JOBS
from jobs.validation import JobInputSerializer


class ErrorDetailsField(serializers.DictField):
    """Schema only: ``details`` of an error, messages per field; a field holding an object
    (a job's ``payload``, an item of ``POST /jobs/bulk``) maps to that object's own errors."""


ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": serializers.CharField(help_text="one line saying what is wrong"),
        "details": ErrorDetailsField(required=False, help_text="messages per field at fault"),
    },
)
ConflictSerializer = inline_serializer(
    name="Conflict",
    fields={
        "error": serializers.CharField(help_text="one line saying what is wrong"),
        "status": serializers.ChoiceField(
            choices=[status.value for status in Status], required=False, help_text="the state the job was found in"
        ),
    },
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


_RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429], description="seconds to wait"
)
_AUTH_ERRORS = {
    401: _error("no API key, or an unknown or revoked one (WWW-Authenticate: Bearer)"),
    403: _error("the key lacks the scope, job type or priority, naming what is missing"),
    429: _error("over the rate limit; Retry-After says when to try again"),
    503: _error("the job store is unreachable"),
}

ENQUEUE_PARAMETERS = [
    OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="up to 255 characters: a repeat with the same body returns the first job "
        "(Idempotent-Replayed: true) and creates nothing; another body is refused with 422",
    ),
    OpenApiParameter(
        "Idempotent-Replayed",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[201],
        enum=["true"],
        description="present on a replay of an earlier request with the same Idempotency-Key",
    ),
    OpenApiParameter(
        "Location", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 201], description="/jobs/<id>"
    ),
    _RETRY_AFTER,
]
CREATE_RESPONSES = {
    201: OpenApiResponse(JobOutputSerializer, description="the job enqueued (or, on a replay, enqueued before)"),
    200: OpenApiResponse(
        JobOutputSerializer,
        description="a pending or processing job of this type already holds the uniqueKey: that job; nothing created",
    ),
    400: _error("malformed JSON, or a field the API refuses (named in details)"),
    413: _error("the payload is over JOBQUEUE_MAX_PAYLOAD_BYTES"),
    415: _error("the body is not application/json"),
    422: _error("the Idempotency-Key was used with a different body"),
    **_AUTH_ERRORS,
}

JOB_LIST_PARAMETERS = [
    OpenApiParameter("id", OpenApiTypes.STR, description="one job by its 24-hex id (the answer is that job)"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=["pending", "processing", "completed", "failed", "cancelled"]),
    OpenApiParameter("type", OpenApiTypes.STR),
    OpenApiParameter("hasError", OpenApiTypes.BOOL),
    OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 500, default 50"),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="from the Link header of the previous page"),
    OpenApiParameter(
        "Link", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200], description='<next page URL>; rel="next"'
    ),
    _RETRY_AFTER,
]
LIST_RESPONSES = {
    200: OpenApiResponse(
        JobOutputSerializer(many=True), description="the latest jobs, newest first (with ?id=: one job object)"
    ),
    400: _error("a bad filter, limit, cursor or id"),
    404: _error("no job has the id given"),
    **_AUTH_ERRORS,
}
READ_PARAMETERS = [
    OpenApiParameter("job_id", OpenApiTypes.STR, OpenApiParameter.PATH, pattern="^[0-9a-fA-F]{24}$"),
    _RETRY_AFTER,
]
READ_RESPONSES = {
    200: JobOutputSerializer,
    400: _error("not a job id (24 hexadecimal characters)"),
    404: _error("no job has this id"),
    **_AUTH_ERRORS,
}
JOB_ACTION_RESPONSES = {
    200: OpenApiResponse(JobOutputSerializer, description="the job after the action"),
    400: _error("not a job id (24 hexadecimal characters)"),
    404: _error("no job has this id"),
    409: OpenApiResponse(ConflictSerializer, description="the job's state does not allow it; status names that state"),
    **_AUTH_ERRORS,
}
BULK_CREATE_PARAMETERS = [_RETRY_AFTER]
BULK_CREATE_REQUEST = inline_serializer(
    name="BulkJobs",
    fields={"jobs": serializers.ListField(child=JobInputSerializer(), min_length=1, max_length=MAX_BULK_JOBS)},
)
BULK_CREATE_RESPONSES = {
    201: OpenApiResponse(JobOutputSerializer(many=True), description="every job stored, in the order given"),
    400: _error("malformed JSON, or invalid jobs (details.jobs names each by index); none was stored"),
    413: _error("the body is over the bulk limit, or a payload over JOBQUEUE_MAX_PAYLOAD_BYTES"),
    415: _error("the body is not application/json"),
    **_AUTH_ERRORS,
}

QUEUE_LIST_PARAMETERS = [_RETRY_AFTER]
QUEUE_LIST_RESPONSES = {200: QueueOutputSerializer(many=True), **_AUTH_ERRORS}
QUEUE_ACTION_PARAMETERS = [
    OpenApiParameter(
        "name", OpenApiTypes.STR, OpenApiParameter.PATH, description="a queue name: 1 to 64 of a-z, 0-9, _ and -"
    ),
    _RETRY_AFTER,
]
QUEUE_ACTION_RESPONSES = {
    200: OpenApiResponse(QueueOutputSerializer, description="the queue now"),
    400: _error("not a queue name"),
    **_AUTH_ERRORS,
}

SCHEDULE_LIST_PARAMETERS = [_RETRY_AFTER]
SCHEDULE_LIST_RESPONSES = {200: ScheduleOutputSerializer(many=True), **_AUTH_ERRORS}
SCHEDULE_CREATE_PARAMETERS = [
    OpenApiParameter(
        "Location", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[201], description="/schedules/<name>"
    ),
    _RETRY_AFTER,
]
_SCHEDULE_REFUSED = _error("malformed JSON, or a field refused (named in details); nothing changed")
SCHEDULE_CREATE_RESPONSES = {
    201: OpenApiResponse(ScheduleOutputSerializer, description="the schedule, first run at its next tick"),
    400: _SCHEDULE_REFUSED,
    409: _error("a schedule has this name already"),
    415: _error("the body is not application/json"),
    **_AUTH_ERRORS,
}
SCHEDULE_PARAMETERS = [OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH), _RETRY_AFTER]
_NO_SCHEDULE = _error("no schedule has this name")
SCHEDULE_READ_RESPONSES = {200: ScheduleOutputSerializer, 404: _NO_SCHEDULE, **_AUTH_ERRORS}
SCHEDULE_UPDATE_RESPONSES = {
    200: OpenApiResponse(ScheduleOutputSerializer, description="the schedule as changed"),
    400: _SCHEDULE_REFUSED,
    404: _NO_SCHEDULE,
    415: _error("the body is not application/json"),
    **_AUTH_ERRORS,
}
SCHEDULE_DELETE_RESPONSES = {
    204: OpenApiResponse(description="forgotten (the jobs it enqueued stay)"),
    404: _NO_SCHEDULE,
    **_AUTH_ERRORS,
}

STATS_RESPONSES = {200: QueueStatsOutputSerializer, **_AUTH_ERRORS}

_SCRAPE_DESCRIPTION = "the Prometheus text format, or OpenMetrics when Accept asks for application/openmetrics-text"
METRICS_RESPONSES = {
    (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description=_SCRAPE_DESCRIPTION),
    (200, "application/openmetrics-text"): OpenApiResponse(OpenApiTypes.STR, description=_SCRAPE_DESCRIPTION),
    **_AUTH_ERRORS,
}
_OK = inline_serializer(name="HealthOk", fields={"status": serializers.ChoiceField(choices=["ok"])})
HEALTHZ_RESPONSES = {200: OpenApiResponse(_OK, description="the process answers (the store is not asked)")}
READYZ_RESPONSES = {
    200: OpenApiResponse(_OK, description="the job store answers and every migration is applied"),
    503: OpenApiResponse(
        inline_serializer(
            name="NotReady",
            fields={
                "status": serializers.ChoiceField(choices=["unavailable"]),
                "failed": serializers.DictField(
                    child=serializers.CharField(), help_text="the reason per failed check: store, migrations"
                ),
            },
        ),
        description="not ready: the store does not answer within a second, or a migration is not applied",
    ),
}


def drop_trailing_slash_duplicates(endpoints):
    """drf-spectacular preprocessing hook: every path also answers with a trailing
    slash; the description lists each once, without it."""
    return [endpoint for endpoint in endpoints if not endpoint[0].endswith("/")]


class _FieldType(OpenApiSerializerFieldExtension):
    """Our custom serializer fields, by the JSON type they hold."""

    openapi_type: dict = {}

    def map_serializer_field(self, auto_schema, direction):
        return dict(self.openapi_type)


class _ErrorDetails(_FieldType):
    target_class = ErrorDetailsField
    openapi_type = {
        "type": "object",
        "additionalProperties": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object", "additionalProperties": {}}]
        },
    }


class _UTCDateTime(_FieldType):
    target_class = "jobs.serializers.UTCDateTimeField"
    openapi_type = {"type": "string", "format": "date-time", "nullable": True}


class _RFC3339DateTime(_FieldType):
    target_class = "jobs.validation.RFC3339DateTimeField"
    openapi_type = {"type": "string", "format": "date-time"}


class _Payload(_FieldType):
    target_class = "jobs.validation.PayloadField"
    openapi_type = {"type": "object", "additionalProperties": {}}


class _MaskedPayload(_FieldType):
    target_class = "jobs.serializers.MaskedPayloadField"
    openapi_type = {"type": "object", "additionalProperties": {}}


class _Cursor(_FieldType):
    target_class = "jobs.serializers.CursorField"
    openapi_type = {"type": "string"}
