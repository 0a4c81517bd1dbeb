"""Idempotency keys of ``POST /jobs`` and ``enqueue()``.

A key is stored on the job it created, behind a UNIQUE index in either store, so two
requests with one key store one job however they race. With the key goes a hash of the
request, so that a repeat with a different request is told apart from a replay.
"""

import hashlib
import json
from datetime import datetime

from jobs.domain import MAX_IDEMPOTENCY_KEY_LENGTH

#: What a client may send in ``Idempotency-Key``.
MAX_CLIENT_KEY_LENGTH = 255
#: What a store keeps: the client's key behind the scope of who sent it.
MAX_STORED_KEY_LENGTH = MAX_IDEMPOTENCY_KEY_LENGTH


def is_valid_key(key) -> bool:
    """Whether ``key`` can be stored: a non-empty string within the column's length."""
    return isinstance(key, str) and 0 < len(key) <= MAX_STORED_KEY_LENGTH


def scoped_key(scope: str, client_key: str) -> str:
    """The stored key: ``client_key`` of one client (``scope``), so clients' keys never collide."""
    return f"{scope}:{client_key}"


def request_hash(data) -> str:
    """SHA-256 of an enqueue request as given (the ``POST /jobs`` body, or the same
    mapping ``enqueue()`` builds), key order and whitespace aside."""
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_text)
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


def _text(value) -> str:
    """Datetimes (``enqueue(run_at=…)``) as ISO 8601; anything else by its repr."""
    return value.isoformat() if isinstance(value, datetime) else repr(value)
