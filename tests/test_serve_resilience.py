"""`manage.py serve` survives what production does to it: no process outlives it,
whatever kills it; a dead web server or worker pool is restarted while the API keeps
answering; slow clients neither block others nor stay forever; a taken port fails the
start at once; the server's own errors are JSON."""

import json
import os
import signal
import socket
import sys

import pytest

from jobs.management.probe import Service, SlowClients, alive, request
from jobs.management.supervision import Child, GaveUp, Supervisor
from tests.worker_support import wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (/proc, PR_SET_PDEATHSIG)")


@pytest.fixture
def service(tmp_path):
    running = Service(
        var_dir=tmp_path,
        env={"WEB_CONCURRENCY": "2", "WEB_READ_TIMEOUT": "1", "XDG_RUNTIME_DIR": str(tmp_path / "run")},
    )
    (tmp_path / "run").mkdir()
    running.start("--concurrency", "2")
    try:
        assert running.wait_ready(timeout=90), running.log()
        wait_until(lambda: running.pid_of("runworkers"), timeout=30, what="the worker pool to start")
        yield running
    finally:
        running.stop()


def no_survivors(pids):
    return not [pid for pid in pids if alive(pid)]


def test_kill_9_of_serve_leaves_no_process_and_the_next_serve_starts_on_the_same_port(service):
    processes = service.processes()
    assert len(processes) == 3, processes  # two web servers and the pool

    service.process.send_signal(signal.SIGKILL)
    service.process.wait()
    wait_until(lambda: no_survivors(processes), timeout=5, what="serve's children to die with it")

    service.start()
    assert service.wait_ready(timeout=90), service.log()
    assert "already in use" not in service.log()


def test_sighup_stops_serve_and_every_child(service):
    processes = service.processes()
    service.process.send_signal(signal.SIGHUP)
    assert service.process.wait(timeout=60) == 0
    wait_until(lambda: no_survivors(processes), timeout=5, what="the children to stop")
    assert "Stopped." in service.log()


@pytest.mark.parametrize("marker, name", [("runworkers", "worker pool"), ("jobqueue.webserver", "web server")])
def test_a_killed_child_is_restarted_and_the_api_answers_meanwhile(service, marker, name):
    def running():
        return [pid for pid, line in service.processes().items() if marker in line]

    before = running()
    victim = before[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        answer = request(service.port)
        assert answer and answer[0] == 200, "the API stopped answering"
        now = running()
        return victim not in now and len(now) == len(before)

    wait_until(replaced, timeout=30, what=f"a new {name}")
    assert f"restarting {name}" in service.log()
    status, _, job = request(service.port, "POST", "/jobs", {"type": "noop"})
    assert status == 201
    wait_until(
        lambda: request(service.port, path=f"/jobs/{job['id']}")[2]["status"] == "completed",
        timeout=30,
        what="the job to complete",
    )


def test_slow_clients_do_not_block_others_and_are_cut_with_a_json_408(service):
    clients = SlowClients(service.port, 64)
    try:
        for _ in range(3):
            answer = request(service.port, timeout=5)
            assert answer and answer[0] == 200
        stalled = clients.sockets[0]
        stalled.settimeout(30)
        head, _, body = stalled.recv(4096).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408") and b"application/json" in head
        assert "error" in json.loads(body)
        assert clients.cut_off(timeout=30) == 64
    finally:
        clients.close()
    assert request(service.port, path="/stats")[2]["total"] == 0  # no half-sent job was stored


def raw_exchange(port: int, data: bytes) -> tuple[bytes, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        head, _, body = sock.recv(65536).partition(b"\r\n\r\n")
    assert b"application/json" in head, head
    return head.split(b"\r\n", 1)[0], json.loads(body)


def test_the_servers_own_errors_are_json(service):
    port = service.port
    status, body = raw_exchange(port, b"NOT HTTP AT ALL\x01\r\n\r\n")
    assert status == b"HTTP/1.1 400 Bad Request" and body["error"]
    status, body = raw_exchange(port, b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status == b"HTTP/1.1 414 URI Too Long" and body["error"]
    huge_headers = b"".join(b"X-Filler-%d: %s\r\n" % (n, b"a" * 8000) for n in range(110))
    status, body = raw_exchange(port, b"GET /stats HTTP/1.1\r\nHost: localhost\r\n" + huge_headers + b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large" and body["error"]

    status, headers, body = request(service.port, path="/no/such/path")
    assert (status, headers["content-type"], body) == (404, "application/json", {"error": "Not found: /no/such/path"})


def test_a_taken_port_fails_the_start_at_once_naming_the_port(service, tmp_path):
    second = Service(port=service.port, var_dir=tmp_path / "second", env={})
    (tmp_path / "second").mkdir()
    process = second.start()
    assert process.wait(timeout=60) != 0
    assert f"port {service.port} on 127.0.0.1 is already in use" in second.log()


def test_no_shared_control_socket_is_created(service, tmp_path):
    # gunicorn put one control socket per host in $XDG_RUNTIME_DIR, and one instance removed another's.
    assert list((tmp_path / "run").iterdir()) == []


# --- the supervisor, on small commands -----------------------------------------------------------


def test_the_supervisor_gives_up_after_repeated_fast_failures(tmp_path):
    messages = []
    failing = Child("always failing", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor = Supervisor([failing], cwd=tmp_path, log=messages.append, first_backoff=0.01)
    with pytest.raises(GaveUp, match="always failing failed 5 times in a row"):
        supervisor.run()
    assert sum("restarting always failing" in message for message in messages) == 4
    assert any("exited with code 3" in message for message in messages)
