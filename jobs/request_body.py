"""What every JSON body the API takes must be: its size limits, its parser, a JSON object.

Shared by the job and schedule views, so a bad body gets the same answer everywhere.
"""

import json

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

# Built once: DRF's ``json.load(..., parse_constant=...)`` builds a decoder per request.
_STRICT_DECODER = json.JSONDecoder(parse_constant=strict_constant)
_DECODER = json.JSONDecoder()


class PayloadTooLargeError(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class JobJSONParser(JSONParser):
    """``JSONParser`` that also turns absurdly deep nesting into a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        """``JSONParser.parse`` with a decoder built once; the same data and errors."""
        try:
            return decode_json(stream.read().decode(get_encoding(parser_context or {})), strict=self.strict)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


def decode_json(text: str, *, strict: bool = True):
    """``text`` as ``json.load`` reads it for DRF's ``JSONParser`` (``NaN`` and
    ``Infinity`` refused when ``strict``); raises ``ValueError`` (``JSONDecodeError``) or
    ``RecursionError`` as it would."""
    if text.startswith("\ufeff"):  # what json.load refuses before decoding
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return (_STRICT_DECODER if strict else _DECODER).decode(text)


def max_body_bytes() -> int:
    """The largest ``POST /jobs`` body read at all: room for a payload at the
    ``JOBQUEUE_MAX_PAYLOAD_BYTES`` limit written with whitespace and ``\\u`` escapes."""
    return 8 * settings.JOBQUEUE_MAX_PAYLOAD_BYTES + 64 * 1024


def max_bulk_body_bytes() -> int:
    """The largest ``POST /jobs/bulk`` body read at all: 32 MiB, or one ``POST /jobs``
    body's limit if that is larger (room for 1000 jobs of typical size, not for 1000
    payloads at the size limit: send those in smaller batches)."""
    return max(32 * 1024 * 1024, max_body_bytes())


def check_json_object_body(request, *, limit: int | None = None) -> None:
    """Refuse a body over ``limit`` bytes (default ``max_body_bytes()``) with a 413,
    without a content type with a 415, or not a JSON object with a 400."""
    limit = limit or max_body_bytes()
    content_length = _content_length(request)
    if content_length > limit:
        raise PayloadTooLargeError(f"Request body is {content_length} bytes; the limit is {limit}.")
    if content_length and not request.content_type:
        raise exceptions.UnsupportedMediaType("", detail="Content-Type is missing; send application/json.")
    if not isinstance(request.data, dict):
        raise exceptions.ParseError(f"The request body must be a JSON object, not {_json_kind(request.data)}.")


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _json_kind(value) -> str:
    """The JSON name of a parsed value's type, for messages."""
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
