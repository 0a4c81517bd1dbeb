"""``benchhttp --api-key`` measures the production configuration: keys required, one sent."""

import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from jobs.management.commands.benchhttp import ServeTarget, completed_jobs
from jobs.management.probe import request


def test_a_keyed_target_requires_keys_and_holds_one_of_its_own():
    target = ServeTarget("keyed", settings.BASE_DIR, workers=False, api_key=True)
    port = target.start()
    try:
        refused = request(port, "POST", "/jobs", {"type": "noop"})
        assert refused is not None and refused[0] == 401

        assert target.headers["Authorization"].startswith("Bearer jq_")
        assert completed_jobs(port, target.headers) == 0
        assert completed_jobs(port, {}) is None
    finally:
        target.stop()


def test_api_key_rows_are_keyed_and_their_posts_accepted():
    output = io.StringIO()

    call_command(
        "benchhttp", "--api-key", "--no-workers", "--seconds", "0.5", "--connections", "2", "--slow", "0",
        stdout=output,
    )  # fmt: skip

    rows = [line.split() for line in output.getvalue().splitlines() if "2 conns keyed" in line]
    assert len(rows) == 1, output.getvalue()
    jobs_per_second, failed = float(rows[0][6]), int(rows[0][9])
    assert jobs_per_second > 0 and failed == 0, output.getvalue()


def test_api_key_and_gunicorn_together_are_refused():
    with pytest.raises(CommandError, match="--api-key"):
        call_command("benchhttp", "--api-key", "--gunicorn", stdout=io.StringIO())
