"""Metadata recording rules: objective, error budget, period, burn rates, remaining budget and
the ``sloth_slo_info`` rule (Sloth's ``metadata_rules`` plugin)."""

from __future__ import annotations

from infermeter.slo import conventions as c
from infermeter.slo.durations import format_duration, hours
from infermeter.slo.generate.common import id_filter, id_labels, merge
from infermeter.slo.gofmt import format_f, format_g
from infermeter.slo.model import SLO, GeneratorInfo, PeriodKind, Rule

_ON = f"on({c.LABEL_ID}, {c.LABEL_SLO}, {c.LABEL_SERVICE})"


def _burn_rate_expr(sli_metric: str, flt: str) -> str:
    return f"{sli_metric}{flt}\n/ {_ON} group_left\n{c.ERROR_BUDGET_RATIO_METRIC}{flt}\n"


def metadata_rules(slo: SLO, info: GeneratorInfo, short_window_ms: int) -> tuple[Rule, ...]:
    labels = merge(id_labels(slo), slo.labels)
    flt = id_filter(slo)
    ratio = slo.objective / 100
    calendar = slo.period_kind is PeriodKind.CALENDAR_MONTH
    period_sli = c.CALENDAR_SLI_METRIC if calendar else c.sli_error_metric(format_duration(slo.period_ms))
    days = "days_in_month()" if calendar else f"vector({format_g(hours(slo.period_ms) / 24)})"
    remaining = f"1 - {c.PERIOD_BURN_RATE_METRIC}{flt}"
    if calendar:
        # Only the elapsed part of the month has been able to burn budget.
        remaining = f"1 - ({c.PERIOD_BURN_RATE_METRIC}{flt} * {_ON} group_left {c.CALENDAR_ELAPSED_METRIC}{flt})"
    info_labels = merge(
        labels,
        {
            c.LABEL_VERSION: info.version,
            c.LABEL_MODE: info.mode,
            c.LABEL_SPEC: info.spec,
            c.LABEL_OBJECTIVE: format_f(slo.objective),
        },
    )
    return (
        Rule(record=c.OBJECTIVE_RATIO_METRIC, expr=f"vector({format_g(ratio)})", labels=labels),
        Rule(record=c.ERROR_BUDGET_RATIO_METRIC, expr=f"vector(1-{format_g(ratio)})", labels=labels),
        Rule(record=c.TIME_PERIOD_DAYS_METRIC, expr=days, labels=labels),
        Rule(
            record=c.CURRENT_BURN_RATE_METRIC,
            expr=_burn_rate_expr(c.sli_error_metric(format_duration(short_window_ms)), flt),
            labels=labels,
        ),
        Rule(record=c.PERIOD_BURN_RATE_METRIC, expr=_burn_rate_expr(period_sli, flt), labels=labels),
        Rule(record=c.PERIOD_ERROR_BUDGET_REMAINING_METRIC, expr=remaining, labels=labels),
        Rule(record=c.SLO_INFO_METRIC, expr="vector(1)", labels=info_labels),
    )
