"""`manage.py serve` (what `make run` starts) runs the API, the admin and the workers
together on a real port, and stops cleanly on Ctrl-C."""

import http.client
import json
import re
import signal
import urllib.request
from urllib.parse import urlparse

import pytest

from tests.serve_support import free_port, kill_if_running, request, serve_env, start_serve, try_request
from tests.worker_support import wait_until


@pytest.fixture
def service(tmp_path):
    port = free_port()
    env = serve_env(tmp_path, port, DJANGO_SUPERUSER_PASSWORD="serve-test-password")
    log = open(tmp_path / "serve.log", "w+")
    process = start_serve(env, concurrency=2, stdout=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: try_request(f"{base}/jobs"), timeout=60, what="the service to answer")
        yield process, base, log
    finally:
        kill_if_running(process)
        log.close()


def test_serve_runs_api_admin_and_workers_and_stops_cleanly_on_ctrl_c(service):
    process, base, log = service

    status, job = request(f"{base}/jobs", {"type": "email", "payload": {"to": "user@example.com"}})
    assert status == 201 and job["status"] == "pending"
    wait_until(
        lambda: request(f"{base}/jobs?id={job['id']}")[1]["status"] == "completed",
        timeout=20,
        what="the worker pool to complete the job",
    )

    with urllib.request.urlopen(f"{base}/admin/login/", timeout=5) as response:
        assert response.status == 200 and b"csrfmiddlewaretoken" in response.read()
    with urllib.request.urlopen(f"{base}/static/admin/css/base.css", timeout=5) as response:
        assert response.status == 200
    # Swagger UI comes from our own static files, not from a CDN.
    with urllib.request.urlopen(f"{base}/api/docs", timeout=5) as response:
        docs = response.read().decode()
    bundle = re.search(r'src="(/static/[^"]*swagger-ui-bundle[^"]*\.js)"', docs)
    # Nothing the page loads names another host (a bare "cdn" may occur in its random CSRF token).
    loaded_from_elsewhere = re.findall(r'(?:src|href)="((?:https?:)?//[^"]*)"', docs)
    assert bundle and loaded_from_elsewhere == []
    with urllib.request.urlopen(f"{base}{bundle[1]}", timeout=5) as response:
        assert response.status == 200

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    log.seek(0)
    output = log.read()
    assert "Stopped." in output
    assert "Created admin account 'admin'" in output
    assert "Jobs are kept in SQLite at" in output
    assert "The API is OPEN (JOBQUEUE_API_AUTH=open)" in output


def test_a_chunked_request_body_is_read_by_the_real_server(service):
    """Issue 8: a body sent with Transfer-Encoding: chunked (no Content-Length) used to
    reach Django empty and be answered "type is required"."""
    _process, base, _log = service
    body = json.dumps({"type": "email", "payload": {"to": "user@example.com"}}).encode()
    address = urlparse(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        connection.request(
            "POST",
            "/jobs",
            body=iter([body[:10], body[10:]]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 201, answer
    assert answer["payload"] == {"to": "user@example.com"}
    assert request(f"{base}/jobs/{answer['id']}")[1]["id"] == answer["id"]
