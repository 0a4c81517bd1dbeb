"""JOBQUEUE_LOG_FORMAT=json: one JSON object per line, with the job's fields where they apply."""

import io
import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from jobqueue import logconfig
from jobs.domain import Job
from jobs.logcontext import JobContextFilter, job_log_context


def json_handler(stream) -> logging.Handler:
    options = {key: value for key, value in logconfig._JSON_FORMATTER.items() if key != "()"}
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**options))
    handler.addFilter(JobContextFilter())
    return handler


def test_a_line_logged_while_a_job_runs_carries_its_id_type_attempt_and_worker():
    stream = io.StringIO()
    logger = logging.getLogger("jobs.test_json_logs")
    logger.addHandler(json_handler(stream))
    logger.propagate = False
    job = Job(
        id="a" * 24, type="email", payload={}, status="processing", retry_count=2, max_retries=3,
        priority=0, run_at=None, created_at=None, updated_at=None,
    )  # fmt: skip
    try:
        logger.warning("outside %s", "any job")
        with job_log_context(job, worker="host:1:ab"):
            logger.info("sending to %s", "user@example.com")
    finally:
        logger.handlers.clear()
        logger.propagate = True

    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert outside["message"] == "outside any job"
    assert outside["level"] == "WARNING" and outside["logger"] == "jobs.test_json_logs" and outside["time"]
    assert "job_id" not in outside
    assert inside["message"] == "sending to user@example.com"
    assert (inside["job_id"], inside["job_type"], inside["attempt"], inside["worker"]) == (
        "a" * 24,
        "email",
        3,
        "host:1:ab",
    )


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="unknown log format"):
        logconfig.logging_config(level="INFO", log_format="xml")


def test_every_log_line_of_a_worker_process_is_json_with_job_fields(tmp_path):
    """Log lines go to stderr; stdout keeps the command's plain banner."""
    import subprocess
    import sys

    from tests.worker_support import MANAGE_PY, Deployment

    deployment = Deployment(tmp_path, JOBQUEUE_LOG_FORMAT="json")
    [job_id] = deployment.enqueue("fail", {"message": "no luck"})
    done = subprocess.run(
        [sys.executable, MANAGE_PY, "runworkers", "--burst", "--concurrency", "1"],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]

    records = [json.loads(line) for line in lines]  # every line parses
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    about_job = [record for record in records if record.get("job_id") == job_id]
    assert about_job, lines
    assert {record["job_type"] for record in about_job} == {"fail"}
    assert {record["attempt"] for record in about_job} >= {1, 4}
    assert all(record["worker"] for record in about_job)
