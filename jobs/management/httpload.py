"""An HTTP/1.1 load generator cheap enough not to be the bottleneck on a small machine.

One asyncio event loop (uvloop when installed) drives ``connections`` kept-alive raw
sockets; each sends one request, reads its answer by ``Content-Length`` and sends the
next. No HTTP library on the hot path: a request costs the client tens of microseconds,
where a thread per connection with ``http.client`` costs several hundred and, on two
cores, takes one of them away from the server being measured.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a runtime requirement, but the client works without
    uvloop = None


@dataclass
class LoadResult:
    """What one run measured: answers with ``expected_status``, other answers or broken
    connections (``failed``, counted by why in ``failures``: the status, ``"timeout"`` or
    ``"connection"``), the latency of each good answer in seconds, and the run's length."""

    done: int = 0
    failures: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def describe_failures(self) -> str:
        """``"3 x 503, 1 x timeout"``, or ``""`` when none failed."""
        return ", ".join(f"{count} x {why}" for why, count in self.failures.most_common())

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0


def post_request(path: str, body: bytes, host: str = "127.0.0.1", headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one kept-alive ``POST`` of a JSON ``body``, with ``headers`` too
    (say ``{"Authorization": "Bearer …"}``)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    """The status of the next response on ``reader``, its body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    if length:
        await reader.readexactly(length)
    return status


async def _client(port, request, expected_status, deadline, timeout, result: LoadResult) -> None:
    clock = time.monotonic
    writer = None
    try:
        while clock() < deadline:
            started = clock()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
                writer.write(request)
                status = await asyncio.wait_for(_read_response(reader), timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                result.failures["timeout" if isinstance(error, TimeoutError) else "connection"] += 1
                if writer is not None:
                    writer.close()
                writer = None
                continue
            if status == expected_status:
                result.done += 1
                result.latencies.append(clock() - started)
            else:
                result.failures[status] += 1
    finally:
        if writer is not None:
            writer.close()


async def _run(port, connections, seconds, request, expected_status, timeout) -> LoadResult:
    result = LoadResult()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(_client(port, request, expected_status, deadline, timeout, result) for _ in range(connections))
    )
    result.elapsed = time.monotonic() - started
    return result


def run_load(
    port: int,
    *,
    connections: int,
    seconds: float,
    request: bytes,
    expected_status: int = 201,
    timeout: float = 2.0,
) -> LoadResult:
    """Send ``request`` over ``connections`` kept-alive connections to ``127.0.0.1:port``,
    each as soon as the previous answer arrived, for ``seconds``. An answer other than
    ``expected_status``, or none within ``timeout`` seconds, counts as failed."""
    coroutine = _run(port, connections, seconds, request, expected_status, timeout)
    if uvloop is not None:
        return uvloop.run(coroutine)
    return asyncio.run(coroutine)
