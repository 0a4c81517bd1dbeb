"""WSGI middleware that hands Django the body of a ``Transfer-Encoding: chunked`` request.

Django reads exactly ``CONTENT_LENGTH`` bytes of a request body, and none without that
header, so a chunked body (which has no length) reached the views empty: ``POST /jobs``
answered "type is required" to a well-formed job. Servers that decode chunked bodies
say so with ``wsgi.input_terminated`` (gunicorn, waitress, ...): their input then ends
where the body ends, and this middleware reads it, up to a limit, and gives Django the
bytes with their length. A server that does not decode them gets 411 Length Required.
"""

import io
import json
from collections.abc import Callable, Iterable


class ChunkedBodyMiddleware:
    """Wraps a WSGI application; ``max_bytes()`` is the largest body it will buffer
    (a longer one is answered 413 without reading further)."""

    def __init__(self, application: Callable, max_bytes: Callable[[], int]):
        self.application = application
        self.max_bytes = max_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            if not environ.get("wsgi.input_terminated"):
                return _error(
                    start_response,
                    "411 Length Required",
                    "Send Content-Length: this server cannot read chunked bodies.",
                )
            limit = self.max_bytes()
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _error(
                    start_response,
                    "413 Request Entity Too Large",
                    f"Request body too large: the limit is {limit} bytes.",
                )
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


def _error(start_response: Callable, status: str, message: str) -> list[bytes]:
    """The API's error shape, ``{"error": message}``."""
    body = json.dumps({"error": message}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
