"""`manage.py serve` with JOBQUEUE_LOG_FORMAT=json: every log line of the web server, Django and
the workers is one JSON object (on stderr; stdout keeps the command's banners)."""

import json
import signal
import urllib.request

from tests.serve_support import free_port, kill_if_running, request, serve_env, start_serve, try_request
from tests.worker_support import wait_until


def test_every_log_line_of_serve_is_json(tmp_path):
    port = free_port()
    env = serve_env(
        tmp_path,
        port,
        JOBQUEUE_LOG_FORMAT="json",
        DJANGO_SUPERUSER_PASSWORD="serve-json-test-password",
    )
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w+") as err:
        process = start_serve(env, concurrency=1, stdout=out, stderr=err)
        try:
            wait_until(lambda: try_request(f"{base}/healthz"), timeout=60, what="the service to answer")
            status, job = request(f"{base}/jobs", {"type": "fail", "maxRetries": 0})
            assert status == 201
            wait_until(
                lambda: request(f"{base}/jobs/{job['id']}")[1]["status"] == "failed",
                timeout=30,
                what="the worker to fail the job",
            )
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                assert response.status == 200
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0
        finally:
            kill_if_running(process)
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.strip()]

    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    loggers = {record["logger"] for record in records}
    assert "uvicorn.error" in loggers, loggers  # the web server's own lines
    failed = [record for record in records if record.get("job_id") == job["id"]]
    assert failed and failed[-1]["job_type"] == "fail" and failed[-1]["attempt"] == 1 and failed[-1]["worker"]
