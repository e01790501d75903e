"""SLI error-ratio recording rules, one per window (Sloth's ``sli_rules`` plugin), plus the
infermeter extensions: NaN-free grouped SLIs and event counts for the minimum-traffic guard."""

from __future__ import annotations

from infermeter.slo import conventions as c
from infermeter.slo.durations import SECOND_MS, format_duration
from infermeter.slo.generate.common import id_filter, id_labels, merge
from infermeter.slo.model import SLO, EventsSLI, RawSLI, Rule
from infermeter.slo.promql import render_window


def _labels(slo: SLO, window: str) -> dict[str, str]:
    return merge(id_labels(slo), {c.LABEL_WINDOW: window}, slo.labels)


def sli_expr(slo: SLO, window: str) -> str:
    """The error ratio of ``slo`` over ``window`` (a Prometheus duration string)."""
    sli = slo.sli
    if isinstance(sli, EventsSLI):
        err, total = render_window(sli.error_query, window), render_window(sli.total_query, window)
        if slo.group_by:
            # A group without errors still gets a 0 (not a missing series), and a group without
            # traffic gets no sample rather than 0/0 = NaN.
            on = ", ".join(slo.group_by)
            return f"(({err}) or on({on}) (0 * ({total})))\n/\n(({total}) > 0)\n"
        return f"({err})\n/\n({total})\n"
    if isinstance(sli, RawSLI):
        expr = f"({render_window(sli.error_ratio_query, window)})"
        return f"{expr} >= 0" if slo.group_by else expr
    raise ValueError(f"SLO {slo.id!r} has no SLI")


def window_rule(slo: SLO, window_ms: int) -> Rule:
    window = format_duration(window_ms)
    return Rule(record=c.sli_error_metric(window), expr=sli_expr(slo, window), labels=_labels(slo, window))


def period_rule(slo: SLO, period_ms: int, short_ms: int) -> Rule:
    """The whole-period ratio from the short-window rule: sum of ratios over their count, which
    weighs every short window the same (Sloth's "optimized" rule)."""
    if period_ms == short_ms:
        raise ValueError("can't optimize using the same short window as the window to optimize")
    window = format_duration(period_ms)
    metric = c.sli_error_metric(format_duration(short_ms)) + id_filter(slo)
    expr = (
        f"sum_over_time({metric}[{window}])\n"
        f"/ ignoring ({c.LABEL_WINDOW})\n"
        f"count_over_time({metric}[{window}])\n"
    )
    return Rule(record=c.sli_error_metric(window), expr=expr, labels=_labels(slo, window))


def events_rule(slo: SLO, window_ms: int) -> Rule:
    """Events seen in a window: the total query (a per-second rate) times the window's seconds."""
    assert isinstance(slo.sli, EventsSLI)
    window = format_duration(window_ms)
    seconds = window_ms // SECOND_MS
    expr = f"({render_window(slo.sli.total_query, window)}) * {seconds}"
    return Rule(record=c.sli_total_events_metric(window), expr=expr, labels=_labels(slo, window))
