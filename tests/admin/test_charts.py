"""The SVG throughput chart (pure functions)."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from jobs import charts
from jobs.domain import Throughput


def minute(index: int) -> datetime:
    return datetime(2026, 1, 2, 12, 0, tzinfo=UTC) + timedelta(minutes=index)


def test_chart_stacks_failed_on_completed_with_a_tooltip_per_bucket():
    buckets = [Throughput(minute(0), 3, 1), Throughput(minute(1), 0, 0), Throughput(minute(2), 8, 2)]

    svg = charts.throughput_chart(buckets, title="Per minute", label_every=1)

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert svg.count('class="jobs-chart-completed"') == 2
    assert svg.count('class="jobs-chart-failed"') == 2
    assert "<title>2026-01-02 12:00: 3 completed, 1 failed</title>" in svg
    assert "<title>2026-01-02 12:01: 0 completed, 0 failed</title>" in svg
    assert "<title>Per minute: 11 completed, 3 failed</title>" in svg
    assert [label for label in re.findall(r'class="jobs-chart-label">([^<]+)<', svg) if ":" in label] == [
        "12:00",
        "12:01",
        "12:02",
    ]


def test_chart_bar_heights_are_proportional_to_a_round_axis_maximum():
    layout = charts.ChartLayout(height=130, margin_top=10, margin_bottom=20)  # a 100-pixel plot
    svg = charts.throughput_chart(
        [Throughput(minute(0), 40, 10), Throughput(minute(1), 20, 0)], title="t", layout=layout
    )

    heights = [
        float(h)
        for h in re.findall(r'height="([\d.]+)" fill="#[0-9a-f]+" class="jobs-chart-(?:completed|failed)"', svg)
    ]
    assert heights == [80.0, 20.0, 40.0]  # axis top is 50: 40 -> 80 px, 10 -> 20 px, 20 -> 40 px
    assert [int(v) for v in re.findall(r'class="jobs-chart-label">(\d+)<', svg)] == [0, 10, 20, 30, 40, 50]


def test_chart_labels_every_nth_bucket():
    buckets = [Throughput(minute(i), 1, 0) for i in range(60)]

    svg = charts.throughput_chart(buckets, title="hour", label_every=15)

    assert re.findall(r'class="jobs-chart-label">(\d\d:\d\d)<', svg) == ["12:00", "12:15", "12:30", "12:45"]


def test_chart_labels_fall_on_round_times():
    buckets = [Throughput(minute(i), 1, 0) for i in range(3, 33)]

    svg = charts.throughput_chart(buckets, title="hour", label_every=10)

    assert re.findall(r'class="jobs-chart-label">(\d\d:\d\d)<', svg) == ["12:10", "12:20", "12:30"]


def test_chart_of_an_empty_period_says_so():
    svg = charts.throughput_chart([Throughput(minute(i), 0, 0) for i in range(5)], title="quiet")

    assert "No job finished in this period" in svg
    assert "jobs-chart-completed" not in svg


def test_chart_escapes_its_text():
    svg = charts.throughput_chart(
        [Throughput(minute(0), 1, 0)], title='<script>alert("x")</script> & co', tooltip_format="%H:%M <b>"
    )

    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "&amp; co" in svg
    assert 'aria-label="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co: 1 completed, 0 failed"' in svg


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (420, 500), (5001, 10000)]
)
def test_nice_ceiling_rounds_up_to_1_2_5_times_a_power_of_ten(value, expected):
    assert charts.nice_ceiling(value) == expected
