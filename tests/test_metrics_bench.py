"""benchadmin times the /metrics scrape next to the dashboard and compares them."""

import io
import re

from django.core.management import call_command


def test_benchadmin_times_the_metrics_scrape_against_the_dashboard():
    output = io.StringIO()

    call_command("benchadmin", jobs=200, runs=1, depth=0, stdout=output)

    report = output.getvalue()
    assert re.search(r"^metrics scrape +[\d.]+ ms", report, re.M)
    assert re.search(r"Metrics scrape [\d.]+ ms vs dashboard [\d.]+ ms: .* the dashboard \([\d.]+x\)", report)
