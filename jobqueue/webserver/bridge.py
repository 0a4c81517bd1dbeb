"""An ASGI app that runs a WSGI app (Django's) in a thread pool, after the event loop has
read the whole request body: a slow client costs a coroutine, never a thread.

uvicorn's own WSGI adapter does the same but is deprecated; a2wsgi streams the body
into the thread, which is exactly what holds threads hostage.
"""

import asyncio
import io
import json
import logging
import sys

from jobqueue.webserver.threads import CallThreads

logger = logging.getLogger(__name__)


def json_error(status: int, message: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A response in the API's error shape: status, headers, body."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return status, headers, body


# What a request whose thread failed outside the app gets; built once (building it for
# every request, in case, was a twenty-fifth of the server's CPU per ``POST /jobs``).
_CRASHED = json_error(500, "Internal server error; it has been logged.")


class WSGIBridge:
    """``WSGIBridge(wsgi_app, threads=32, max_body_bytes=…)`` is an ASGI 3 app.

    Bodies over ``max_body_bytes`` (by ``Content-Length``, or as they arrive when chunked)
    are answered 413 without running the app; a chunked body reaches the app whole, with
    its ``CONTENT_LENGTH``. A client that disconnects mid-body is dropped silently.
    """

    def __init__(self, wsgi_app, *, threads: int, max_body_bytes: int):
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self.threads = CallThreads(threads, name_prefix="web")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await self._read_body(scope, receive)
        if body is None:
            return
        if isinstance(body, tuple):
            status, headers, content = body
        else:
            loop = asyncio.get_running_loop()
            answer = loop.create_future()
            self.threads.submit(self._answer, loop, answer, build_environ(scope, body))
            status, headers, content = await answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.threads.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, scope, receive):
        """The whole body; a ready-made 413 answer; or ``None`` when the client left."""
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            return json_error(413, f"Request body is {int(declared)} bytes; the limit is {self.max_body_bytes}.")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return json_error(413, f"Request body is over the limit of {self.max_body_bytes} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _answer(self, loop, answer: asyncio.Future, environ) -> None:
        """Run the app (in a pool thread) and hand its response to ``answer`` on the loop.

        Lighter than ``run_in_executor``, which chains a second future to the pool's own:
        that chaining was a twentieth of the server's CPU per ``POST /jobs``; the pool
        (``CallThreads``) makes no future at all.
        """
        response = _CRASHED
        try:
            response = self._call_app(environ)
        finally:
            loop.call_soon_threadsafe(_resolve, answer, response)

    def _call_app(self, environ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the WSGI app to the end (in a pool thread); its status, headers and body."""
        started: dict = {}

        def start_response(status, response_headers, exc_info=None):
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response_headers
            ]
            return started.setdefault("written", []).append

        try:
            result = self.wsgi_app(environ, start_response)
            try:
                content = b"".join([*started.get("written", []), *result])
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            logger.exception("the application failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            return json_error(500, "Internal server error; it has been logged.")
        headers = started["headers"]
        if not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(content)).encode()))
        return started["status"], headers, content


def _resolve(answer: asyncio.Future, response) -> None:
    if not answer.done():  # the request's task may have been cancelled meanwhile
        answer.set_result(response)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def build_environ(scope, body: bytes) -> dict:
    """The WSGI environ (PEP 3333) of an ASGI HTTP request whose body is ``body``."""
    path = scope.get("raw_path")
    path = path.decode("latin-1").split("?", 1)[0] if path else scope["path"].encode().decode("latin-1")
    root_path = scope.get("root_path", "")
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root_path.encode().decode("latin-1"),
        "PATH_INFO": path[len(root_path) :] if root_path and path.startswith(root_path) else path,
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_LENGTH" or name == "TRANSFER_ENCODING":
            continue  # the body is whole: its length is what CONTENT_LENGTH says above
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
