"""The benchmark's load generator counts what the server answered, not what it hoped for."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.management.httpload import post_request, run_load


def answering(status: int, seen_authorizations: set | None = None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the API's server

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            if seen_authorizations is not None:
                seen_authorizations.add(self.headers.get("Authorization"))
            body = b'{"id": "x"}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def server_answering():
    servers = []

    def start(status, seen_authorizations=None):
        server = ThreadingHTTPServer(("127.0.0.1", 0), answering(status, seen_authorizations))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_answers_with_the_expected_status_are_counted_with_their_latency(server_answering):
    port = server_answering(201)

    result = run_load(port, connections=2, seconds=0.3, request=post_request("/jobs", b"{}"))

    assert result.done > 0 and result.failed == 0
    assert len(result.latencies) == result.done and all(latency > 0 for latency in result.latencies)
    assert result.rate == result.done / result.elapsed


def test_other_answers_count_as_failed(server_answering):
    port = server_answering(503)

    result = run_load(port, connections=2, seconds=0.3, request=post_request("/jobs", b"{}"))

    assert result.done == 0 and result.failed > 0
    assert set(result.failures) == {503} and result.describe_failures() == f"{result.failed} x 503"


def test_a_port_nobody_listens_on_fails_every_attempt():
    with socket.socket() as sock:  # a port that was free a moment ago, closed again
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    result = run_load(closed_port, connections=1, seconds=0.2, request=post_request("/jobs", b"{}"))

    assert result.done == 0 and result.failed > 0 and set(result.failures) == {"connection"}


def test_extra_headers_go_with_every_request(server_answering):
    seen = set()
    port = server_answering(201, seen)
    request = post_request("/jobs", b"{}", headers={"Authorization": "Bearer jq_abc"})

    result = run_load(port, connections=2, seconds=0.2, request=request)

    assert result.done > 0 and result.failed == 0
    assert seen == {"Bearer jq_abc"}
