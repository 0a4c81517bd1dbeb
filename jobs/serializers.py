"""Serializers of the HTTP API: input (what a client may send) and output (what it sees).

Input serializers check the *shape* of a request: JSON types, unknown or server-managed
fields, datetimes with a timezone. The rules of the domain (known job types, payload
size, depth and keys, the handler's own payload checks, value ranges) live in
``jobs.services``, so ``POST /jobs`` and ``jobs.enqueue()`` reject exactly the same
payloads.

Output serializers turn the ``Job`` domain object into the job JSON of the API contract:
camelCase names, datetimes ISO 8601 UTC ending in ``Z``, the lease without its token.
"""

from collections.abc import Mapping
from datetime import UTC

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from jobs import redaction, services
from jobs.stores import ListCursor
from jobs.timeutil import isoformat_z

DEFAULT_LIST_LIMIT = 50
# 100 years: far beyond any sensible delay, well inside what a datetime can hold.
MAX_DELAY_SECONDS = 100 * 366 * 24 * 3600


# --- fields -----------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string; unlike ``CharField`` it refuses numbers and booleans instead of
    converting them."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no strings, floats or booleans."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictNumberField(serializers.FloatField):
    """A JSON number (integer or not): no strings or booleans."""

    default_error_messages = {"invalid": "A valid number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONObjectField(serializers.Field):
    """A JSON object, passed through untouched (the services check its contents)."""

    default_error_messages = {"not_object": "Must be a JSON object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        return data

    def to_representation(self, value):
        return value


class AwareDateTimeField(serializers.Field):
    """An ISO 8601 datetime with a timezone (``Z`` or an offset), read as UTC.

    Unlike ``DateTimeField`` it never guesses a timezone for a naive datetime.
    """

    default_error_messages = {
        "invalid": "Must be an ISO 8601 datetime with a timezone, e.g. 2026-02-02T05:30:00Z.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            moment = parse_datetime(data.strip())
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.fail("invalid")
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            self.fail("invalid")

    def to_representation(self, value):
        return isoformat_z(value)


class UTCDateTimeField(serializers.ReadOnlyField):
    """Output only: a datetime as ISO 8601 UTC with milliseconds and ``Z``, or null."""

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


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, naming each one, instead of ignoring them.

    ``server_fields`` are fields a client may read but not write; they get a message
    saying so.
    """

    server_fields: frozenset[str] = frozenset()
    ignored_fields: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        extra_errors = {}
        if isinstance(data, Mapping):
            for name in data:
                if name in self.fields or name in self.ignored_fields:
                    continue
                if name in self.server_fields:
                    extra_errors[name] = ["This field is set by the server and cannot be given."]
                else:
                    extra_errors[name] = [f"Unknown field. Accepted fields: {', '.join(self.fields)}."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if extra_errors and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **extra_errors}) from None
            raise
        if extra_errors:
            raise serializers.ValidationError(extra_errors)
        return value


class JobCreateSerializer(StrictSerializer):
    """The body of ``POST /jobs``. ``validated_data`` holds the keyword arguments of
    ``services.enqueue`` (``type``, ``payload``, ``max_retries``, ``priority``, ``run_at``,
    ``delay_seconds``), only those the client gave besides ``type`` and ``payload``.
    """

    server_fields = frozenset(
        {
            "id",
            "_id",
            "status",
            "retryCount",
            "createdAt",
            "updatedAt",
            "finishedAt",
            "lastError",
            "attempts",
            "attemptCount",
            "lease",
        }
    )

    type = StrictCharField(max_length=services.MAX_TYPE_LENGTH, trim_whitespace=False)
    payload = JSONObjectField(required=False, default=dict)
    maxRetries = StrictIntegerField(required=False, source="max_retries")
    priority = StrictIntegerField(required=False)
    runAt = AwareDateTimeField(required=False, source="run_at")
    delaySeconds = StrictNumberField(required=False, min_value=0, max_value=MAX_DELAY_SECONDS, source="delay_seconds")


class JobListQuerySerializer(StrictSerializer):
    """The query string of ``GET /jobs``. ``validated_data`` holds ``id`` (one job) or
    the keyword arguments of ``services.list_jobs`` (``status``, ``type``, ``has_error``,
    ``limit``, ``after``). Pass a plain dict, not a ``QueryDict``.
    """

    # DRF's own query parameter choosing the renderer (?format=json).
    ignored_fields = frozenset({"format"})

    id = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    status = serializers.CharField(required=False)
    type = serializers.CharField(required=False, max_length=services.MAX_TYPE_LENGTH, trim_whitespace=False)
    hasError = serializers.BooleanField(required=False, source="has_error")
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


class JobOutputSerializer(serializers.Serializer):
    """The job JSON of the API, from a ``jobs.models.Job``."""

    id = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
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
