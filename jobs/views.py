"""The HTTP API: ``/jobs`` and ``/stats``.

Views are thin: they check the request's shape with an input serializer, call one use
case of ``jobs.services`` and render the result with an output serializer. They never
touch a store.

Every error is JSON, ``{"error": "<one-line message>", "details": {field: [messages]}}``
(``details`` only where fields are at fault; a field holding an object, the payload,
maps to its own fields' errors), made by ``api_exception_handler``
(``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).
"""

import functools
import logging
import math
from urllib.parse import quote, urlencode

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import RFC3986_SUBDELIMS
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, status, views, viewsets
from rest_framework.response import Response

from apikeys.access import ApiAccess
from apikeys.models import Scope
from apikeys.permissions import check_enqueue_limits, client_scope
from jobs import idempotency, services
from jobs.api_schema import (
    BULK_CREATE_PARAMETERS,
    BULK_CREATE_REQUEST,
    BULK_CREATE_RESPONSES,
    CREATE_RESPONSES,
    ENQUEUE_PARAMETERS,
    JOB_ACTION_RESPONSES,
    JOB_LIST_PARAMETERS,
    LIST_RESPONSES,
    READ_PARAMETERS,
    READ_RESPONSES,
    STATS_RESPONSES,
)
from jobs.errors import ScheduleExists, ScheduleNotFound, flatten_errors
from jobs.request_body import JobJSONParser, check_json_object_body, max_bulk_body_bytes
from jobs.serializers import (
    JobListQuerySerializer,
    JobOutputSerializer,
    QueueStatsOutputSerializer,
)
from jobs.stores import StoreRejectedValue, StoreUnavailable
from jobs.validation import JobInputSerializer

logger = logging.getLogger(__name__)

_SERVICE_ERROR_STATUS = {
    services.JobValidationError: status.HTTP_400_BAD_REQUEST,
    services.IdempotencyConflict: status.HTTP_422_UNPROCESSABLE_ENTITY,
    services.PayloadTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    services.InvalidJobId: status.HTTP_400_BAD_REQUEST,
    services.JobNotFound: status.HTTP_404_NOT_FOUND,
    services.InvalidTransition: status.HTTP_409_CONFLICT,
    ScheduleNotFound: status.HTTP_404_NOT_FOUND,
    ScheduleExists: status.HTTP_409_CONFLICT,
}


# What a 503 for a busy or unreachable store tells clients to wait before trying again.
STORE_RETRY_AFTER_SECONDS = "1"


@extend_schema_view(
    list=extend_schema(parameters=JOB_LIST_PARAMETERS, responses=LIST_RESPONSES),
    create=extend_schema(parameters=ENQUEUE_PARAMETERS, request=JobInputSerializer, responses=CREATE_RESPONSES),
    retrieve=extend_schema(parameters=READ_PARAMETERS, responses=READ_RESPONSES),
)
class JobViewSet(ApiAccess, viewsets.ViewSet):
    """Jobs: enqueue one, read one, list the latest.

    * ``POST /jobs`` — enqueue; ``201`` with the job and ``Location: /jobs/<id>``, or
      ``200`` with the pending or processing job of that type already holding ``uniqueKey``.
    * ``POST /jobs/bulk`` — enqueue up to 1000 jobs at once, all or none.
    * ``GET /jobs/<id>`` or ``GET /jobs?id=<id>`` — one job.
    * ``POST /jobs/<id>/cancel`` and ``POST /jobs/<id>/retry`` — operator actions.
    * ``GET /jobs`` — a JSON array of jobs, newest ``createdAt`` first, at most ``limit``
      (default 50, 1 to 500), filtered by ``status``, ``type``, ``hasError``; when more
      jobs follow, ``Link: <…>; rel="next"`` gives the URL of the next page. Unknown
      filter values are treated alike (a 400 naming the filter): see
      ``services.list_jobs_page``.
    """

    parser_classes = [JobJSONParser]
    # Bulk enqueue is enqueueing; cancel and retry change existing jobs (``manage``).
    required_scopes = {"bulk_create": Scope.ENQUEUE}

    def list(self, request):
        query = JobListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        if "id" in params:
            return Response(JobOutputSerializer(services.get_job(params["id"])).data)
        page = services.list_jobs_query_page(params)
        response = Response(JobOutputSerializer(page.jobs, many=True).data)
        if page.has_next:
            response["Link"] = f'<{self._next_page_url(request, page.jobs[-1], params["limit"])}>; rel="next"'
        return response

    def create(self, request):
        check_json_object_body(request)
        idempotency_key = _idempotency_key(request)
        if idempotency_key is not None:
            idempotency_key = idempotency.scoped_key(client_scope(request), idempotency_key)
        submitted = services.submit_job(
            request.data,
            idempotency_key=idempotency_key,
            authorize=lambda job_input: check_enqueue_limits(request, job_input["type"], job_input["priority"]),
        )
        job = submitted.job
        logger.debug("POST /jobs: %s %s job %s", "enqueued" if submitted.created else "found", job.type, job.id)
        headers = {"Location": job_location(job.id)}
        if job.replayed:
            headers["Idempotent-Replayed"] = "true"
        # 200: a live job already held the uniqueKey; it is that job, nothing was created.
        code = status.HTTP_201_CREATED if submitted.created else status.HTTP_200_OK
        return Response(JobOutputSerializer(job).data, status=code, headers=headers)

    def retrieve(self, request, job_id=None):
        return Response(JobOutputSerializer(services.get_job(job_id)).data)

    @extend_schema(
        operation_id="jobs_bulk_create",
        parameters=BULK_CREATE_PARAMETERS,
        request=BULK_CREATE_REQUEST,
        responses=BULK_CREATE_RESPONSES,
    )
    def bulk_create(self, request):
        """``POST /jobs/bulk`` with ``{"jobs": [...]}``: all stored or none (see ``services.enqueue_many``)."""
        check_json_object_body(request, limit=max_bulk_body_bytes())
        unknown = sorted(set(request.data) - {"jobs"})
        if unknown:
            raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
        if "jobs" not in request.data:
            raise exceptions.ValidationError({"jobs": ["This field is required."]})
        jobs = services.enqueue_many(
            request.data["jobs"],
            authorize=lambda job_input: check_enqueue_limits(request, job_input["type"], job_input["priority"]),
        )
        return Response(JobOutputSerializer(jobs, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="jobs_cancel", request=None, parameters=READ_PARAMETERS, responses=JOB_ACTION_RESPONSES)
    def cancel(self, request, job_id=None):
        """``POST /jobs/<id>/cancel``: see ``services.cancel_job_request``; 409 naming the status."""
        return Response(JobOutputSerializer(services.cancel_job_request(job_id)).data)

    @extend_schema(operation_id="jobs_retry", request=None, parameters=READ_PARAMETERS, responses=JOB_ACTION_RESPONSES)
    def retry(self, request, job_id=None):
        """``POST /jobs/<id>/retry``: see ``services.retry_job``; 409 naming the status."""
        return Response(JobOutputSerializer(services.retry_job(job_id)).data)

    @staticmethod
    def _next_page_url(request, last_job, limit: int) -> str:
        """This list's URL, same filters, continuing after ``last_job``."""
        query = {key: value for key, value in request.query_params.items() if key not in ("cursor", "limit")}
        query["limit"] = str(limit)
        query["cursor"] = services.encode_list_cursor(last_job)
        return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")


@extend_schema(responses=STATS_RESPONSES)
class QueueStatsView(ApiAccess, views.APIView):
    """``GET /stats`` — counts per status and per type, the age in seconds of the oldest
    due pending job (null when none), how many jobs are delayed, and the total."""

    def get(self, request):
        return Response(QueueStatsOutputSerializer(services.queue_stats()).data)


def api_not_found(request, *args, **kwargs):
    """JSON 404 for any other URL under ``/jobs/`` or ``/stats/``."""
    return JsonResponse({"error": f"Not found: {request.path}"}, status=status.HTTP_404_NOT_FOUND)


# A stand-in job id that quoting leaves as it is, to find where the id goes in the job's URL.
_JOB_ID_SLOT = "job-id-slot"


def job_location(job_id: str) -> str:
    """``reverse("job-detail", kwargs={"job_id": job_id})``, the ``Location`` of a new job.

    Reversed once per script prefix and URLconf, then filled in, quoted as ``reverse``
    quotes a path segment: a full ``reverse`` per ``POST /jobs`` was a thirtieth of its
    CPU.
    """
    before, after = _job_location_template(get_script_prefix(), get_urlconf())
    return before + quote(job_id, safe=RFC3986_SUBDELIMS + "~:@") + after


@functools.lru_cache(maxsize=16)
def _job_location_template(script_prefix: str, urlconf) -> tuple[str, str]:
    # ``reverse`` reads the current script prefix itself; the argument keys the cache.
    before, _, after = reverse("job-detail", urlconf=urlconf, kwargs={"job_id": _JOB_ID_SLOT}).rpartition(_JOB_ID_SLOT)
    return before, after


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
        if isinstance(exc, services.InvalidTransition) and exc.status is not None:
            return _error_response(code, str(exc), extra={"status": str(exc.status)})
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
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))
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


def _error_response(code: int, message: str, *, details=None, headers=None, extra=None) -> Response:
    body = {"error": " ".join(str(message).split())}
    if details:
        body["details"] = details
    body.update(extra or {})
    return Response(body, status=code, headers=headers)


def _idempotency_key(request) -> str | None:
    """The ``Idempotency-Key`` header, or ``None``; 400 when it is empty or too long."""
    # META, not ``request.headers``: that mapping of every header is built on first use,
    # for this one read on each ``POST /jobs``.
    key = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if key is None:
        return None
    if not 0 < len(key) <= idempotency.MAX_CLIENT_KEY_LENGTH:
        raise exceptions.ValidationError(
            {"Idempotency-Key": [f"Must be 1 to {idempotency.MAX_CLIENT_KEY_LENGTH} characters."]}
        )
    return key
