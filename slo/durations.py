"""Prometheus durations (``5m``, ``1h30m``, ``4w``), parsed and printed as Prometheus does."""

from __future__ import annotations

import re

_UNITS_MS: tuple[tuple[str, int], ...] = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)
_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")

SECOND_MS = 1000
DAY_MS = 24 * 3600 * 1000


class DurationError(ValueError):
    """A string that is not a Prometheus duration."""


def parse_duration(text: str) -> int:
    """Milliseconds in a Prometheus duration such as ``30d`` or ``1h30m``."""
    text = str(text).strip()
    if text == "0":
        return 0
    match = _DURATION_RE.match(text)
    if not text or not match or not any(match.groups()):
        raise DurationError(f"not a valid duration string: {text!r}")
    return sum(int(group) * mult for group, (_, mult) in zip(match.groups(), _UNITS_MS) if group)


def format_duration(ms: int) -> str:
    """Prometheus' ``model.Duration.String()``: years and weeks only when they divide exactly."""
    if ms == 0:
        return "0s"
    out = []
    for unit, mult in _UNITS_MS:
        if unit in ("y", "w") and ms % mult != 0:
            continue
        value, ms = divmod(ms, mult)
        if value > 0:
            out.append(f"{value}{unit}")
    return "".join(out)


def hours(ms: int) -> float:
    """Go's ``time.Duration.Hours()`` for a duration in milliseconds."""
    whole, rest = divmod(ms, 3600 * 1000)
    return whole + rest / (3600 * 1000)
