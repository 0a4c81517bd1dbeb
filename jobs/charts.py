"""Server-side SVG charts for the admin dashboard.

Pure functions: data in, an SVG string out. No scripts, fonts or external resources,
so the dashboard works offline and behind strict content security policies. Every
piece of text is XML-escaped here; the caller may mark the result safe.

Colours come from presentation attributes (so the SVG is readable on its own) and
from CSS classes (``jobs-chart-*``) that the admin stylesheet overrides for the light
and dark themes.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from jobs.domain import Throughput

COMPLETED_FILL = "#3a9a5b"
FAILED_FILL = "#c8463d"
AXIS_STROKE = "#999999"
GRID_STROKE = "#dddddd"
TEXT_FILL = "#666666"


@dataclass(frozen=True)
class ChartLayout:
    """Size of the drawing and the room kept around the plot for axis labels."""

    width: int = 720
    height: int = 220
    margin_left: int = 44
    margin_right: int = 12
    margin_top: int = 14
    margin_bottom: int = 30
    gap_ratio: float = 0.2  # share of each bucket's width left empty between bars

    @property
    def plot_width(self) -> int:
        return self.width - self.margin_left - self.margin_right

    @property
    def plot_height(self) -> int:
        return self.height - self.margin_top - self.margin_bottom


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``; 1 for 0 or less.

    Used as the top of the y axis so that its ticks fall on round numbers.
    """
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def y_ticks(top: int) -> list[int]:
    """Tick values from 0 to ``top`` (a ``nice_ceiling``), at most five intervals, whole numbers."""
    if top <= 5:
        return list(range(top + 1))
    leading = top // 10 ** math.floor(math.log10(top))
    intervals = {1: 5, 2: 4, 5: 5}.get(leading, 5)
    step = top // intervals
    return [step * index for index in range(intervals + 1)]


def _fmt(number: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros (keeps the SVG small)."""
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _attribute(text: str) -> str:
    """``text`` escaped for a double-quoted XML attribute."""
    return escape(text, {'"': "&quot;"})


def _label(moment: datetime, label_format: str) -> str:
    return moment.strftime(label_format)


def throughput_chart(
    buckets: Sequence[Throughput],
    *,
    title: str,
    label_format: str = "%H:%M",
    tooltip_format: str = "%Y-%m-%d %H:%M",
    label_every: int = 10,
    layout: ChartLayout | None = None,
) -> str:
    """An SVG bar chart of completed (bottom) and failed (stacked on top) jobs per bucket.

    ``buckets`` are drawn left to right in the order given (oldest first, evenly spaced,
    as ``services.throughput`` returns them), one bar per bucket, zero buckets included.
    ``title`` names the chart for screen readers. A bucket gets an x-axis label
    (``label_format`` of its start) when its start is a whole multiple of ``label_every``
    buckets since the epoch, so labels fall on round times (every 10 minutes: 12:00,
    12:10…, not 12:03, 12:13…). Every bar has a ``<title>`` tooltip
    with the bucket's start (``tooltip_format``) and counts. The y axis is scaled to a
    round number at or above the tallest bar. Returns a complete ``<svg>`` element;
    all text in it is escaped.
    """
    layout = layout or ChartLayout()
    label_every = max(1, label_every)
    tallest = max((bucket.completed + bucket.failed for bucket in buckets), default=0)
    top = nice_ceiling(tallest)
    total_completed = sum(bucket.completed for bucket in buckets)
    total_failed = sum(bucket.failed for bucket in buckets)
    summary = f"{title}: {total_completed:,} completed, {total_failed:,} failed"

    plot_left = layout.margin_left
    plot_bottom = layout.margin_top + layout.plot_height
    slot = layout.plot_width / max(1, len(buckets))
    bar_width = max(1.0, slot * (1 - layout.gap_ratio))

    def y_of(value: float) -> float:
        return plot_bottom - value / top * layout.plot_height

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="jobs-chart" role="img" '
        f'viewBox="0 0 {layout.width} {layout.height}" preserveAspectRatio="xMidYMid meet" '
        f'aria-label="{_attribute(summary)}">',
        f"<title>{escape(summary)}</title>",
    ]

    # Horizontal grid lines with their values, drawn first so the bars cover them.
    parts.append('<g class="jobs-chart-grid">')
    for tick in y_ticks(top):
        y = _fmt(y_of(tick))
        parts.append(
            f'<line x1="{plot_left}" y1="{y}" x2="{layout.width - layout.margin_right}" y2="{y}" '
            f'stroke="{GRID_STROKE}" stroke-width="1" class="jobs-chart-gridline"/>'
            f'<text x="{plot_left - 6}" y="{y}" dy="0.32em" text-anchor="end" font-size="11" '
            f'fill="{TEXT_FILL}" class="jobs-chart-label">{tick:,}</text>'
        )
    parts.append("</g>")

    parts.append('<g class="jobs-chart-bars">')
    for index, bucket in enumerate(buckets):
        x = plot_left + index * slot + (slot - bar_width) / 2
        tooltip = f"{_label(bucket.start, tooltip_format)}: {bucket.completed:,} completed, {bucket.failed:,} failed"
        parts.append(f"<g><title>{escape(tooltip)}</title>")
        # An invisible full-height hit area, so that even an empty bucket has a tooltip.
        parts.append(
            f'<rect x="{_fmt(plot_left + index * slot)}" y="{layout.margin_top}" width="{_fmt(slot)}" '
            f'height="{layout.plot_height}" fill="transparent" class="jobs-chart-hit"/>'
        )
        if bucket.completed:
            parts.append(
                f'<rect x="{_fmt(x)}" y="{_fmt(y_of(bucket.completed))}" width="{_fmt(bar_width)}" '
                f'height="{_fmt(plot_bottom - y_of(bucket.completed))}" fill="{COMPLETED_FILL}" '
                f'class="jobs-chart-completed"/>'
            )
        if bucket.failed:
            stacked_top = bucket.completed + bucket.failed
            parts.append(
                f'<rect x="{_fmt(x)}" y="{_fmt(y_of(stacked_top))}" width="{_fmt(bar_width)}" '
                f'height="{_fmt(y_of(bucket.completed) - y_of(stacked_top))}" fill="{FAILED_FILL}" '
                f'class="jobs-chart-failed"/>'
            )
        parts.append("</g>")
    parts.append("</g>")

    # Axes, then x labels under the buckets that start on a round time.
    parts.append(
        f'<line x1="{plot_left}" y1="{plot_bottom}" x2="{layout.width - layout.margin_right}" y2="{plot_bottom}" '
        f'stroke="{AXIS_STROKE}" stroke-width="1" class="jobs-chart-axis"/>'
    )
    parts.append('<g class="jobs-chart-xlabels">')
    step = (buckets[1].start - buckets[0].start).total_seconds() if len(buckets) > 1 else 0
    for index, bucket in enumerate(buckets):
        if step and round(bucket.start.timestamp() / step) % label_every:
            continue
        x = plot_left + index * slot + slot / 2
        parts.append(
            f'<line x1="{_fmt(x)}" y1="{plot_bottom}" x2="{_fmt(x)}" y2="{plot_bottom + 4}" '
            f'stroke="{AXIS_STROKE}" stroke-width="1" class="jobs-chart-axis"/>'
            f'<text x="{_fmt(x)}" y="{plot_bottom + 17}" text-anchor="middle" font-size="11" '
            f'fill="{TEXT_FILL}" class="jobs-chart-label">{escape(_label(bucket.start, label_format))}</text>'
        )
    parts.append("</g>")

    if not tallest:
        centre_x = _fmt(plot_left + layout.plot_width / 2)
        centre_y = _fmt(layout.margin_top + layout.plot_height / 2)
        parts.append(
            f'<text x="{centre_x}" y="{centre_y}" '
            f'text-anchor="middle" font-size="13" fill="{TEXT_FILL}" class="jobs-chart-empty">'
            f"No job finished in this period</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
