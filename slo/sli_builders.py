"""PromQL for SLIs that infermeter writes itself: latency from histogram buckets and event ratios
over counters. Pure functions from parameters to :class:`EventsSLI` query templates."""

from __future__ import annotations

from infermeter.slo.model import EventsSLI

WINDOW = "{{.window}}"


def le_regex(threshold: float) -> str:
    """A PromQL regex literal body matching the ``le`` label of bucket ``threshold`` whether it
    is written ``1`` or ``1.0`` (Go and Python clients, Prometheus 2 and 3 differ)."""
    value = float(threshold)
    text = repr(value)
    if text.endswith(".0"):
        text = text[:-2]
    escaped = text.replace(".", "\\\\.").replace("+", "\\\\+")
    if value.is_integer() and "e" not in text:
        escaped += "(\\\\.0)?"
    return escaped


def selector(*matchers: str) -> str:
    """``{a="b", c=~"d"}`` from non-empty matcher strings, or an empty string when none."""
    parts = [m.strip().strip(",") for m in matchers if m and m.strip()]
    return "{" + ", ".join(parts) + "}" if parts else ""


def sum_by(expr: str, group_by: tuple[str, ...]) -> str:
    return f"sum by ({', '.join(group_by)}) ({expr})" if group_by else f"sum({expr})"


def _zero_if_absent(expr: str, group_by: tuple[str, ...]) -> str:
    # An error counter that was never incremented may not exist; without groups count it as 0
    # (grouped SLIs get the same treatment per group from the generator).
    return expr if group_by else f"({expr} or vector(0))"


def latency_sli(metric: str, threshold: float, extra_selector: str = "", group_by: tuple[str, ...] = ()) -> EventsSLI:
    """Requests slower than ``threshold`` seconds over all requests, from a classic histogram."""
    count = f"rate({metric}_count{selector(extra_selector)}[{WINDOW}])"
    le_matcher = 'le=~"' + le_regex(threshold) + '"'
    fast = f"rate({metric}_bucket{selector(extra_selector, le_matcher)}[{WINDOW}])"
    total = sum_by(count, group_by)
    return EventsSLI(error_query=f"{total} - {sum_by(fast, group_by)}", total_query=total)


def counter_ratio_sli(
    error_metric: str,
    error_matchers: str,
    total_metric: str,
    total_matchers: str,
    extra_selector: str = "",
    group_by: tuple[str, ...] = (),
) -> EventsSLI:
    """Errors over totals from counters; ``*_metric`` may be a ``{__name__=~...}`` selector."""
    err = sum_by(f"rate({error_metric}{selector(extra_selector, error_matchers)}[{WINDOW}])", group_by)
    total = sum_by(f"rate({total_metric}{selector(extra_selector, total_matchers)}[{WINDOW}])", group_by)
    return EventsSLI(error_query=_zero_if_absent(err, group_by), total_query=total)
