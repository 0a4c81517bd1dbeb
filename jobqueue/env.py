"""Typed readers for environment settings that fail loudly on bad values.

Every knob of the service comes from the environment with a default that works on a
laptop. A value that cannot be parsed raises ``ImproperlyConfigured`` at start-up,
naming the variable, instead of being silently replaced by the default.
"""

import os
import re

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# A hundred years: beyond it a duration is surely a typo (and near datetime's limits).
_MAX_DURATION_SECONDS = 100 * 366 * 86400


def parse_duration(value) -> float:
    """Seconds in a duration: a number of seconds (``3600``, ``0.5``) or a number with a
    unit, ``s``, ``m``, ``h`` or ``d`` (``30m``, ``12h``, ``7d``). ``ValueError`` otherwise,
    and for a negative or absurdly long one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value).strip().lower())
        if match is None:
            raise ValueError(f"{value!r} is not a duration such as 7d, 12h, 30m or a number of seconds")
        seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if not 0 <= seconds <= _MAX_DURATION_SECONDS:
        raise ValueError(f"{value!r} is not a duration from 0 to 100 years")
    return seconds


def envduration(name: str, default: str) -> float:
    """A duration (``parse_duration``) in seconds; anything else is an error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        raw = default
    try:
        return parse_duration(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}={raw!r}: {error}") from None


def envstr(name: str, default: str) -> str:
    """The variable's value, or ``default`` when it is unset."""
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); anything else is an error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def envint(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer within [minimum, maximum]; anything else is an error."""
    return _envnumber(name, default, int, "an integer", minimum, maximum)


def envfloat(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """A number within [minimum, maximum]; anything else is an error."""
    return _envnumber(name, default, float, "a number", minimum, maximum)


def _envnumber(name, default, parse, kind, minimum, maximum):
    """``parse`` of the variable (blank or unset: ``default``), finite and within range."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}") from None
    # Only a float can be NaN (the one value not equal to itself) or infinite.
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number")
    _check_range(name, value, minimum, maximum)
    return value


def envlist(name: str, default: list[str]) -> list[str]:
    """A comma-separated list, blanks dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _check_range(name, value, minimum, maximum):
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum {maximum}")
