"""uvicorn's HTTP/1.1 protocol (httptools), plus a read timeout and JSON error answers.

uvicorn has a keep-alive timeout between requests but none while a request is being
read: a client that sends headers and half a body, then nothing, would keep its
connection forever. Here every request must arrive whole within ``read_timeout``
seconds of its first byte (or of the connection opening); otherwise it is answered 408
and the connection closed. A request uvicorn cannot parse is answered 400, an
over-long request line 414 and over-long headers 431, all in JSON.
"""

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def raw_json_response(status: int, reason: str, message: str) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response in the API's error shape."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


# httptools sets no limit on the request line or headers; these are gunicorn's defaults,
# so that a client cannot make the server buffer megabytes before the read timeout.
MAX_URL_BYTES = 8190
MAX_HEADER_BYTES = 8190 * 100


class _RequestTooLarge(Exception):
    """Raised inside a parser callback: httptools reports it as a parser error."""


class CoalescingTransport:
    """A transport whose writes of one event-loop step go out as one write.

    uvicorn writes a response's head and its body separately, each a ``send`` system call
    made holding the GIL: those two calls were a sixth of the web server's Python time per
    ``POST /jobs``. Here the writes are joined and sent by a callback at the end of the
    step (before any other I/O), or at ``close``. Everything else is the transport's own.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport, loop):
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


class TimedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose requests must be read within ``read_timeout`` seconds,
    with a bounded request line (414) and headers (431)."""

    #: Set by the server before it starts (``WEB_READ_TIMEOUT``).
    read_timeout: float = 10.0

    _read_timer: asyncio.TimerHandle | None = None
    _refusal: bytes | None = None
    _header_bytes = 0

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)
        self._arm_read_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_read_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._refuse(414, "URI Too Long", f"The request line is over {MAX_URL_BYTES} bytes.")

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(431, "Request Header Fields Too Large", f"The headers are over {MAX_HEADER_BYTES} bytes.")

    def _refuse(self, status: int, reason: str, message: str):
        self._refusal = raw_json_response(status, reason, message)
        raise _RequestTooLarge(message)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_read_timer()

    def connection_lost(self, exc) -> None:
        self._cancel_read_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._cancel_read_timer()
        self.transport.write(self._refusal or raw_json_response(400, "Bad Request", msg))
        self.transport.close()

    def _arm_read_timer(self) -> None:
        self._cancel_read_timer()
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # The app is waiting for the rest of the body: tell it the client is gone.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(
            raw_json_response(408, "Request Timeout", f"The request was not received within {self.read_timeout:g} s.")
        )
        self.transport.close()
