"""Formatting for the jobs admin templates: ``{% load jobs_admin %}``.

The plain functions (``format_duration``, ``first_line``, ``format_list_time``) are the
filters' logic, kept importable so they can be tested on their own.
"""

from datetime import UTC, datetime

from django import template
from django.utils.safestring import mark_safe

from jobs import charts

register = template.Library()


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``"850 ms"``, ``"42 s"``, ``"3 min 5 s"``, ``"2 h 10 min"``,
    ``"3 d 4 h"``; ``"—"`` for ``None``."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def first_line(text: str | None, *, limit: int = 160) -> str:
    """The first non-blank line of ``text``, cut to ``limit`` characters with "…"; ``""`` for none.

    For a Python traceback the useful line is the last one (the exception), so when the
    text starts with "Traceback" that line is used instead.
    """
    if not text:
        return ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def format_list_time(moment: datetime, *, now: datetime) -> str:
    """A compact UTC time for the job list: ``"04:59:37"`` on ``now``'s day,
    ``"Nov 28, 23:10"`` before; the full time goes in the cell's tooltip."""
    moment = moment.astimezone(UTC)
    if moment.date() == now.astimezone(UTC).date():
        return moment.strftime("%H:%M:%S")
    return f"{moment:%b} {moment.day}, {moment:%H:%M}"


@register.filter
def duration(seconds: float | None) -> str:
    """``{{ seconds|duration }}``: see ``format_duration``."""
    return format_duration(seconds)


@register.filter
def elapsed(start: datetime | None, end: datetime | None) -> str:
    """``{{ start|elapsed:end }}``: the duration from ``start`` to ``end``."""
    if start is None or end is None:
        return format_duration(None)
    return format_duration((end - start).total_seconds())


@register.filter(name="first_line")
def first_line_filter(text: str | None) -> str:
    """``{{ error|first_line }}``: see ``first_line``."""
    return first_line(text)


@register.filter
def list_time(moment: datetime, now: datetime) -> str:
    """``{{ job.created_at|list_time:now }}``: see ``format_list_time``."""
    return format_list_time(moment, now=now)


@register.filter
def outcome_class(outcome: str) -> str:
    """A CSS modifier for an attempt's outcome: completed, released or failed (the rest)."""
    return outcome if outcome in ("completed", "released") else "failed"


@register.simple_tag
def throughput_chart(buckets, *, title: str, label_format: str, label_every: int):
    """``{% throughput_chart buckets title=… label_format=… label_every=… %}``: the SVG bar chart."""
    # charts.throughput_chart escapes every piece of text it writes.
    svg = charts.throughput_chart(
        buckets,
        title=title,
        label_format=label_format,
        tooltip_format="%Y-%m-%d %H:%M UTC",
        label_every=label_every,
    )
    return mark_safe(svg)
