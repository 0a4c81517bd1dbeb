"""A plain-Python check of the common new job, so an enqueue need not build a serializer.

Building ``JobInputSerializer`` deep-copies its declared fields on every call, which was
about half of an enqueue's Python time. ``quick_validated`` accepts only inputs it can
prove valid by the same rules, with the same result as the serializer's
``validated_data``; for anything else (an error, a ``runAt``, a type with its own payload
serializer) it returns ``None`` and the caller asks the serializer, so every error
message still comes from the one validation in ``jobs.validation``.
"""

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings

from jobs.domain import DEFAULT_QUEUE, QUEUE_NAME_PATTERN
from jobs.handlers import get_handler
from jobs.validation import (
    MAX_DELAY_SECONDS,
    MAX_RETRIES_LIMIT,
    MAX_TYPE_LENGTH,
    PRIORITY_LIMIT,
    _payload_problem,
    has_lone_surrogate,
)

_QUEUE_NAME = re.compile(QUEUE_NAME_PATTERN)
# One encoder for every call: json.dumps builds a new one per call when given options.
_encode_strict_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

# The names the fast path understands; any other key (an unknown or server-managed
# field, or runAt) sends the input to the serializer.
_FAST_FIELDS = frozenset({"type", "payload", "queue", "maxRetries", "priority", "delaySeconds"})


def quick_validated(data: Mapping, now: datetime) -> dict | None:
    """``JobInputSerializer(data=data, context={"now": now}).validated_data`` when the
    input is valid and simple enough to check here; ``None`` means "ask the serializer"
    (which then gives the errors, or the same result)."""
    checked = quick_validated_and_encoded(data, now)
    return None if checked is None else checked[0]


def quick_validated_and_encoded(data: Mapping, now: datetime) -> tuple[dict, str] | None:
    """``quick_validated``'s result and the payload as the compact JSON text the check
    encoded anyway (``NewJob.encoded_payload``), so the store need not encode it again."""
    if not isinstance(data, dict) or not _FAST_FIELDS.issuperset(data):
        return None
    job_type = data.get("type")
    if (
        type(job_type) is not str
        or not job_type.strip()
        or len(job_type) > MAX_TYPE_LENGTH
        or "\x00" in job_type
        or has_lone_surrogate(job_type)
    ):
        return None
    handler = get_handler(job_type)
    if handler is None or handler.serializer is not None:
        return None
    payload = data.get("payload", {})
    encoded_payload = _encoded_if_valid(payload)
    if encoded_payload is None:
        return None
    max_retries = data.get("maxRetries", settings.JOBQUEUE_MAX_RETRIES)
    priority = data.get("priority", 0)
    if not _int_within(max_retries, 0, MAX_RETRIES_LIMIT) or not _int_within(priority, -PRIORITY_LIMIT, PRIORITY_LIMIT):
        return None
    queue = data.get("queue", DEFAULT_QUEUE)
    if type(queue) is not str or not _QUEUE_NAME.fullmatch(queue):
        return None
    run_at = None
    if "delaySeconds" in data:
        delay = data["delaySeconds"]
        if type(delay) not in (int, float) or not (0 <= delay <= MAX_DELAY_SECONDS) or not math.isfinite(delay):
            return None
        run_at = now + timedelta(seconds=float(delay))
    job_input = {
        "type": job_type,
        "payload": payload,
        "queue": queue,
        "unique_key": None,
        "max_retries": max_retries,
        "priority": priority,
        "run_at": run_at,
    }
    return job_input, encoded_payload


def _int_within(value, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _encoded_if_valid(payload) -> str | None:
    """The payload's compact JSON text if it is a valid payload; ``None`` otherwise."""
    if type(payload) is not dict:
        return None
    if not payload:
        return "{}"
    if _payload_problem(payload, depth=1, path="payload") is not None:
        return None
    try:
        encoded = _encode_strict_json(payload)
    except (TypeError, ValueError):
        return None
    # The byte size is at most 4 per character; count bytes only when it could matter.
    limit = settings.JOBQUEUE_MAX_PAYLOAD_BYTES
    if len(encoded) * 4 <= limit or len(encoded.encode("utf-8")) <= limit:
        return encoded
    return None
