"""The one validation of a new job, for ``POST /jobs`` and ``jobs.enqueue()`` alike.

``JobInputSerializer`` takes the JSON body of ``POST /jobs`` (``enqueue()`` builds the
same mapping from its arguments) and checks everything once: the JSON types, unknown and
server-managed fields, the job type, the payload's size, depth, keys and text, the type's
own payload serializer (nested, so its errors stay per field: ``payload.to``), the
ranges of the options and the RFC 3339 ``runAt``.
"""

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

from django.conf import settings
from rest_framework import serializers

from jobs.domain import DEFAULT_QUEUE, QUEUE_NAME_PATTERN
from jobs.errors import PayloadTooLarge
from jobs.handlers import get_handler, known_types

MAX_TYPE_LENGTH = 100
MAX_PAYLOAD_DEPTH = 32
MAX_RETRIES_LIMIT = 100
MAX_UNIQUE_KEY_LENGTH = 255
PRIORITY_LIMIT = 1_000_000
# 100 years: far beyond any sensible delay, well inside what a datetime can hold.
MAX_DELAY_SECONDS = 100 * 366 * 24 * 3600

# RFC 3339 section 5.6 date-time: full date, "T", time, optional fraction, "Z" or ±hh:mm.
# [0-9] rather than \d, which would take any Unicode digit.
_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):(?P<offset_minutes>[0-9]{2}))"
)


def printable(text: str) -> str:
    """``text`` as is, or escaped (``\\ud800``) when it cannot be encoded as UTF-8, so a
    message quoting it can always be sent."""
    return text if not has_lone_surrogate(text) else ascii(text)[1:-1]


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a surrogate code point, which no UTF-8 text can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_rfc3339(text: str) -> datetime | None:
    """The aware datetime an RFC 3339 ``date-time`` string denotes, or ``None``.

    Only that profile of ISO 8601: no week or ordinal dates, no space for ``T``, no
    missing offset. Fractions beyond microseconds are cut; a leap second is refused.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    part = {name: int(value) for name, value in match.groupdict().items() if value and value.isdigit()}
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    try:
        offset = timedelta(hours=part.get("offset_hours", 0), minutes=part.get("offset_minutes", 0))
        zone = timezone(-offset if match["sign"] == "-" else offset)
        return datetime(
            part["year"], part["month"], part["day"], part["hour"], part["minute"], part["second"], int(fraction), zone
        )
    except ValueError:
        return None


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


class RFC3339DateTimeField(serializers.Field):
    """An RFC 3339 datetime with its offset (``Z`` or ``±hh:mm``), read as UTC; from
    Python, an aware ``datetime`` too. Never guesses a timezone."""

    default_error_messages = {
        "invalid": "Must be an RFC 3339 datetime with a timezone, e.g. 2026-02-02T05:30:00Z.",
        "out_of_range": "Out of the range of datetimes (years 0001 to 9999 in UTC).",
    }

    def to_internal_value(self, data):
        moment = data if isinstance(data, datetime) else parse_rfc3339(data) if isinstance(data, str) else None
        if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
            self.fail("invalid")
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            self.fail("out_of_range")


class PayloadField(serializers.Field):
    """A JSON object that a store can keep: within ``JOBQUEUE_MAX_PAYLOAD_BYTES`` (else
    ``PayloadTooLarge``), nested at most ``MAX_PAYLOAD_DEPTH`` levels, with string keys
    that do not start with ``$`` or hold ``.`` or NUL, and only valid Unicode text."""

    default_error_messages = {"not_object": "Must be a JSON object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        problem = _payload_problem(data, depth=1, path="payload")
        if problem:
            raise serializers.ValidationError(problem)
        try:
            encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise serializers.ValidationError(f"Must be JSON: {error}.") from None
        size = len(encoded.encode("utf-8"))
        limit = settings.JOBQUEUE_MAX_PAYLOAD_BYTES
        if size > limit:
            raise PayloadTooLarge(f"payload is {size} bytes; the limit is {limit} bytes (JOBQUEUE_MAX_PAYLOAD_BYTES)")
        return data

    def to_representation(self, value):
        return value


def _payload_problem(value, *, depth: int, path: str) -> str | None:
    if isinstance(value, dict | list) and depth > MAX_PAYLOAD_DEPTH:
        return f"Nested deeper than {MAX_PAYLOAD_DEPTH} levels at {path}."
    if isinstance(value, str) and has_lone_surrogate(value):
        return f"Text at {path} is not valid Unicode: it holds a lone surrogate."
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"Key {key!r} at {path} is not allowed: keys must be strings."
            if has_lone_surrogate(key):
                return f"Key {key!a} at {path} is not valid Unicode: it holds a lone surrogate."
            if key.startswith("$") or "." in key or "\x00" in key:
                return f"Key {key!r} at {path} is not allowed: keys may not start with '$' or contain '.' or NUL."
            problem = _payload_problem(item, depth=depth + 1, path=f"{path}.{key}")
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _payload_problem(item, depth=depth + 1, path=f"{path}[{index}]")
            if problem:
                return problem
    return None


# --- serializers --------------------------------------------------------------------------


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
                    label = printable(str(name))
                    extra_errors[label] = [f"Unknown field. Accepted fields: {', '.join(self.fields)}."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if extra_errors and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **extra_errors}) from None
            raise
        if extra_errors:
            raise serializers.ValidationError(extra_errors)
        return value


class QueueNameField(StrictCharField):
    """A queue name: ``[a-z0-9_-]{1,64}``."""

    default_error_messages = {"invalid_name": "Must be 1 to 64 of a-z, 0-9, '_' and '-'."}

    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not re.fullmatch(QUEUE_NAME_PATTERN, value):
            self.fail("invalid_name")
        return value


class JobInputSerializer(StrictSerializer):
    """A new job: the body of ``POST /jobs``, or ``enqueue()``'s arguments under the same
    names. ``validated_data`` holds ``type``, ``payload``, ``queue``, ``max_retries`` (the
    setting's default when not given), ``priority``, ``unique_key`` (``None`` unless given) and
    ``run_at`` (``None``: due now), computed
    from ``runAt`` or ``delaySeconds`` against ``context["now"]``.
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
            "schedule",
        }
    )

    type = StrictCharField(max_length=MAX_TYPE_LENGTH, trim_whitespace=False)
    payload = PayloadField(required=False, default=dict)
    queue = QueueNameField(required=False, default=DEFAULT_QUEUE)
    maxRetries = StrictIntegerField(required=False, min_value=0, max_value=MAX_RETRIES_LIMIT, source="max_retries")
    priority = StrictIntegerField(required=False, default=0, min_value=-PRIORITY_LIMIT, max_value=PRIORITY_LIMIT)
    runAt = RFC3339DateTimeField(required=False, source="run_at")
    delaySeconds = StrictNumberField(required=False, min_value=0, max_value=MAX_DELAY_SECONDS, source="delay_seconds")
    uniqueKey = StrictCharField(
        required=False, max_length=MAX_UNIQUE_KEY_LENGTH, trim_whitespace=False, source="unique_key"
    )

    def validate_type(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field is required and must be a non-empty string.")
        if get_handler(value) is None:
            known = ", ".join(known_types()) or "none"
            raise serializers.ValidationError(f"Unknown job type {value!r}. Known types: {known}.")
        return value

    def validate(self, attrs: dict) -> dict:
        """The type's own payload checks, nested under ``payload``; ``run_at`` from
        ``runAt`` or ``delaySeconds``."""
        payload_serializer = get_handler(attrs["type"]).serializer
        if payload_serializer is not None:
            checked = payload_serializer(data=attrs["payload"])
            if not checked.is_valid():
                raise serializers.ValidationError({"payload": checked.errors})
        delay = attrs.pop("delay_seconds", None)
        if delay is not None and attrs.get("run_at") is not None:
            raise serializers.ValidationError({"runAt": ["Give runAt or delaySeconds, not both."]})
        if delay is not None:
            attrs["run_at"] = self.context["now"] + timedelta(seconds=delay)
        attrs.setdefault("run_at", None)
        attrs.setdefault("unique_key", None)
        attrs.setdefault("max_retries", settings.JOBQUEUE_MAX_RETRIES)
        return attrs
