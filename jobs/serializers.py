"""Serializers of the HTTP API besides a new job's input: the list query, and output.

A new job (``POST /jobs`` and ``enqueue()``) is validated once, by
``jobs.validation.JobInputSerializer``, inside ``jobs.services``.

Output serializers turn the ``Job`` domain object into the job JSON of the API contract:
camelCase names, RFC 3339 UTC datetimes ending in ``Z`` (four-digit years, milliseconds),
the lease without its token.
"""

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from jobs import redaction, services
from jobs.stores import ListCursor
from jobs.timeutil import isoformat_z
from jobs.validation import MAX_TYPE_LENGTH, QueueNameField, StrictSerializer

DEFAULT_LIST_LIMIT = 50


# --- fields -----------------------------------------------------------------------------


class UTCDateTimeField(serializers.ReadOnlyField):
    """Output only: a datetime as RFC 3339 UTC (four-digit year, milliseconds, ``Z``), or null."""

    def to_representation(self, value):
        return isoformat_z(value)


class CursorField(serializers.Field):
    """The opaque paging cursor of ``services.encode_list_cursor``; clients must not
    build or parse it."""

    default_error_messages = {"invalid": "Invalid cursor: use the URL of the Link header as given."}

    def to_internal_value(self, data) -> ListCursor:
        try:
            return services.decode_list_cursor(str(data))
        except ValueError:
            self.fail("invalid")


# --- input ------------------------------------------------------------------------------


class JobListQuerySerializer(StrictSerializer):
    """The query string of ``GET /jobs``. ``validated_data`` holds ``id`` (one job) or
    what ``services.list_jobs_query_page`` takes (``status``, ``type``, ``has_error``,
    ``queue``, ``limit``, ``after``). Pass a plain dict, not a ``QueryDict``.
    """

    # DRF's own query parameter choosing the renderer (?format=json).
    ignored_fields = frozenset({"format"})

    id = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    status = serializers.CharField(required=False)
    type = serializers.CharField(required=False, max_length=MAX_TYPE_LENGTH, trim_whitespace=False)
    hasError = serializers.BooleanField(required=False, source="has_error")
    queue = QueueNameField(required=False)
    limit = serializers.IntegerField(required=False, default=DEFAULT_LIST_LIMIT)
    cursor = CursorField(required=False, source="after")


# --- output -----------------------------------------------------------------------------


class PublicWorkerNameField(serializers.CharField):
    """A worker's name without its process id (``redaction.public_worker_name``)."""

    def to_representation(self, value):
        return redaction.public_worker_name(value)


class ErrorMessageField(serializers.CharField):
    """A recorded error's message, without its traceback."""

    def to_representation(self, value):
        return redaction.error_message(value)


class MaskedPayloadField(serializers.JSONField):
    """The job's payload with its type's sensitive fields shown as ``***`` (``source="*"``)."""

    def to_representation(self, job):
        return redaction.masked_payload(job.type, job.payload)


class LeaseOutputSerializer(serializers.Serializer):
    """Who holds a processing job and until when; never the fencing token."""

    owner = PublicWorkerNameField(read_only=True)
    expiresAt = UTCDateTimeField(source="expires_at")


class AttemptOutputSerializer(serializers.Serializer):
    startedAt = UTCDateTimeField(source="started_at")
    finishedAt = UTCDateTimeField(source="finished_at")
    worker = PublicWorkerNameField(read_only=True)
    outcome = serializers.CharField(read_only=True)
    error = ErrorMessageField(read_only=True, allow_null=True)


class SharedFieldsSerializer(serializers.Serializer):
    """An output-only serializer whose fields are copied and bound once per class.

    DRF deep-copies and binds every declared field each time a serializer is made; for
    the job JSON that was a sixth of the web server's CPU per ``POST /jobs``. Sharing one
    set is safe for output whose fields read only the instance they are given: never the
    serializer's ``context``, ``instance`` or ``parent``, and nothing is validated.
    """

    @property
    def fields(self):
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            shared = BindingDict(self)
            for name, field in self.get_fields().items():
                shared[name] = field
            cls._shared_fields = shared  # a race builds two equal sets; either will do
        return shared

    def to_representation(self, instance):
        """DRF's ``Serializer.to_representation`` for an instance whose fields' sources
        are plain attributes (not mapping keys, methods or related objects): each value
        read with ``getattr`` along the field's ``source_attrs``, ``None`` as null, any
        other value through the field's ``to_representation``.

        DRF's general lookup (mapping or attribute, callables, defaults, skipped fields)
        was a fortieth of the CPU of a ``POST /jobs``.
        """
        ret = {}
        for name, source_attrs, represent in self._representation_plan():
            value = instance
            for attr in source_attrs:
                value = getattr(value, attr)
            ret[name] = None if value is None else represent(value)
        return ret

    def _representation_plan(self) -> tuple:
        cls = type(self)
        plan = cls.__dict__.get("_shared_plan")
        if plan is None:
            plan = tuple(
                (field.field_name, tuple(field.source_attrs), field.to_representation)
                for field in self._readable_fields
            )
            cls._shared_plan = plan
        return plan


class JobOutputSerializer(SharedFieldsSerializer):
    """The job JSON of the API, from a ``jobs.domain.Job``."""

    id = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
    queue = serializers.CharField(read_only=True)
    payload = MaskedPayloadField(source="*", read_only=True)
    status = serializers.CharField(read_only=True)
    retryCount = serializers.IntegerField(source="retry_count", read_only=True)
    maxRetries = serializers.IntegerField(source="max_retries", read_only=True)
    priority = serializers.IntegerField(read_only=True)
    runAt = UTCDateTimeField(source="run_at")
    createdAt = UTCDateTimeField(source="created_at")
    updatedAt = UTCDateTimeField(source="updated_at")
    finishedAt = UTCDateTimeField(source="finished_at")
    lastError = ErrorMessageField(source="last_error", read_only=True, allow_null=True)
    attemptCount = serializers.IntegerField(source="attempt_count", read_only=True)
    attempts = AttemptOutputSerializer(many=True, read_only=True)
    lease = LeaseOutputSerializer(read_only=True, allow_null=True)
    result = serializers.JSONField(read_only=True)
    progress = serializers.JSONField(read_only=True)
    cancelRequested = serializers.BooleanField(source="cancel_requested", read_only=True)
    uniqueKey = serializers.CharField(source="unique_key", read_only=True, allow_null=True)
    schedule = serializers.CharField(read_only=True, allow_null=True)


class QueueStatsOutputSerializer(serializers.Serializer):
    """``services.QueueStats`` as the JSON of ``GET /stats``."""

    byStatus = serializers.DictField(source="by_status", child=serializers.IntegerField(), read_only=True)
    byType = serializers.DictField(
        source="by_type", child=serializers.DictField(child=serializers.IntegerField()), read_only=True
    )
    oldestPendingAgeSeconds = serializers.FloatField(
        source="oldest_pending_age_seconds", read_only=True, allow_null=True
    )
    delayed = serializers.IntegerField(read_only=True)
    total = serializers.IntegerField(read_only=True)


class QueueOutputSerializer(serializers.Serializer):
    """``queues.QueueSummary`` as JSON."""

    name = serializers.CharField(read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    oldestPendingAgeSeconds = serializers.FloatField(
        source="oldest_pending_age_seconds", read_only=True, allow_null=True
    )
    paused = serializers.BooleanField(read_only=True)


class ScheduleOutputSerializer(serializers.Serializer):
    """The schedule JSON of the API, from a ``jobs.domain.Schedule``."""

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
