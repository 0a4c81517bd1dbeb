"""The HTTP API: ``/jobs`` and ``/stats``.

Views are thin: they check the request's shape with an input serializer, call one use
case of ``jobs.services`` and render the result with an output serializer. They never
touch a store.

Every error is JSON, ``{"error": "<one-line message>", "details": {field: [messages]}}``
(``details`` only where fields are at fault; a field holding an object, the payload,
maps to its own fields' errors), made by ``api_exception_handler``
(``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).
"""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.urls import reverse
from rest_framework import exceptions, status, views, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from jobs import services
from jobs.errors import ScheduleExists, ScheduleNotFound, flatten_errors
from jobs.serializers import (
    JobListQuerySerializer,
    JobOutputSerializer,
    QueueStatsOutputSerializer,
)
from jobs.stores import StoreRejectedValue, StoreUnavailable

logger = logging.getLogger(__name__)

_SERVICE_ERROR_STATUS = {
    services.JobValidationError: status.HTTP_400_BAD_REQUEST,
    services.PayloadTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    services.InvalidJobId: status.HTTP_400_BAD_REQUEST,
    services.JobNotFound: status.HTTP_404_NOT_FOUND,
    services.InvalidTransition: status.HTTP_409_CONFLICT,
    ScheduleNotFound: status.HTTP_404_NOT_FOUND,
    ScheduleExists: status.HTTP_409_CONFLICT,
}


# What a 503 for a busy or unreachable store tells clients to wait before trying again.
STORE_RETRY_AFTER_SECONDS = "1"


class PayloadTooLargeError(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class JobJSONParser(JSONParser):
    """``JSONParser`` that also turns absurdly deep nesting into a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


def max_body_bytes() -> int:
    """The largest ``POST /jobs`` body read at all: room for a payload at the
    ``JOBQUEUE_MAX_PAYLOAD_BYTES`` limit written with whitespace and ``\\u`` escapes."""
    return 8 * settings.JOBQUEUE_MAX_PAYLOAD_BYTES + 64 * 1024


class JobViewSet(viewsets.ViewSet):
    """Jobs: enqueue one, read one, list the latest.

    * ``POST /jobs`` — enqueue; ``201`` with the job and ``Location: /jobs/<id>``, or
      ``200`` with the pending or processing job of that type already holding ``uniqueKey``.
    * ``GET /jobs/<id>`` or ``GET /jobs?id=<id>`` — one job.
    * ``GET /jobs`` — a JSON array of jobs, newest ``createdAt`` first, at most ``limit``
      (default 50, 1 to 500), filtered by ``status``, ``type``, ``hasError``; when more
      jobs follow, ``Link: <…>; rel="next"`` gives the URL of the next page. Unknown
      filter values are treated alike (a 400 naming the filter): see
      ``services.list_jobs_page``.
    """

    parser_classes = [JobJSONParser]

    def list(self, request):
        query = JobListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        if "id" in params:
            return Response(JobOutputSerializer(services.get_job(params["id"])).data)
        page = services.list_jobs_page(**params)
        response = Response(JobOutputSerializer(page.jobs, many=True).data)
        if page.has_next:
            response["Link"] = f'<{self._next_page_url(request, page.jobs[-1], params["limit"])}>; rel="next"'
        return response

    def create(self, request):
        content_length = _content_length(request)
        if content_length > max_body_bytes():
            raise PayloadTooLargeError(f"Request body is {content_length} bytes; the limit is {max_body_bytes()}.")
        if content_length and not request.content_type:
            raise exceptions.UnsupportedMediaType("", detail="Content-Type is missing; send application/json.")
        if not isinstance(request.data, dict):
            raise exceptions.ParseError(f"The request body must be a JSON object, not {_json_kind(request.data)}.")
        submitted = services.submit_job(request.data)
        job = submitted.job
        logger.debug("POST /jobs: %s %s job %s", "enqueued" if submitted.created else "found", job.type, job.id)
        return Response(
            JobOutputSerializer(job).data,
            # 200: a live job already held the uniqueKey; it is that job, nothing was created.
            status=status.HTTP_201_CREATED if submitted.created else status.HTTP_200_OK,
            headers={"Location": reverse("job-detail", kwargs={"job_id": job.id})},
        )

    def retrieve(self, request, job_id=None):
        return Response(JobOutputSerializer(services.get_job(job_id)).data)

    @staticmethod
    def _next_page_url(request, last_job, limit: int) -> str:
        """This list's URL, same filters, continuing after ``last_job``."""
        query = {key: value for key, value in request.query_params.items() if key not in ("cursor", "limit")}
        query["limit"] = str(limit)
        query["cursor"] = services.encode_list_cursor(last_job)
        return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")


class QueueStatsView(views.APIView):
    """``GET /stats`` — counts per status and per type, the age in seconds of the oldest
    due pending job (null when none), how many jobs are delayed, and the total."""

    def get(self, request):
        return Response(QueueStatsOutputSerializer(services.queue_stats()).data)


def api_not_found(request, *args, **kwargs):
    """JSON 404 for any other URL under ``/jobs/`` or ``/stats/``."""
    return JsonResponse({"error": f"Not found: {request.path}"}, status=status.HTTP_404_NOT_FOUND)


# --- errors -----------------------------------------------------------------------------


def api_exception_handler(exc, context):
    """Every API error as ``{"error": message, "details": {field: [messages]}}``.

    Handles DRF's exceptions, Django's ``Http404``/``PermissionDenied``/``RequestDataTooBig``,
    the services' ``ServiceError`` family, ``StoreUnavailable`` (503 with ``Retry-After``)
    and ``StoreRejectedValue`` (400). Anything else
    returns ``None``, so Django reports it as a server error.
    """
    if isinstance(exc, services.ServiceError):
        code = next(
            (code for cls, code in _SERVICE_ERROR_STATUS.items() if isinstance(exc, cls)),
            status.HTTP_400_BAD_REQUEST,
        )
        if isinstance(exc, services.JobValidationError):
            return _error_response(code, _summary(exc.errors), details=exc.errors)
        return _error_response(code, str(exc))
    if isinstance(exc, StoreUnavailable):
        logger.error("job store unavailable: %s", exc)
        return _error_response(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Job store unavailable: {exc}",
            headers={"Retry-After": STORE_RETRY_AFTER_SECONDS},
        )
    if isinstance(exc, StoreRejectedValue):
        return _error_response(status.HTTP_400_BAD_REQUEST, f"Invalid request: {exc}")
    if isinstance(exc, RequestDataTooBig):
        return _error_response(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "Request body too large.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "wait", None):
        headers["Retry-After"] = f"{exc.wait:.0f}"
    if isinstance(exc, exceptions.ValidationError):
        details = flatten_errors(exc.detail)
        return _error_response(exc.status_code, _summary(details), details=details, headers=headers)
    if isinstance(exc, exceptions.ParseError) and str(exc.detail).startswith("JSON parse error"):
        message = "Malformed JSON: " + str(exc.detail).removeprefix("JSON parse error - ")
    else:
        message = str(exc.detail)
    return _error_response(exc.status_code, message, headers=headers)


def _summary(errors) -> str:
    """One line naming every field at fault (nested ones by path, ``payload.to``) and
    what is wrong with it."""
    flat = flatten_errors(errors)
    return "Invalid request: " + " ".join(f"{field}: {' '.join(messages)}" for field, messages in flat.items())


def _error_response(code: int, message: str, *, details=None, headers=None) -> Response:
    body = {"error": " ".join(str(message).split())}
    if details:
        body["details"] = details
    return Response(body, status=code, headers=headers)


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _json_kind(value) -> str:
    """The JSON name of a parsed value's type, for messages."""
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
