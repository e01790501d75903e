"""Calendar-month periods: the month-to-date SLI and the share of the month elapsed.

PromQL ranges are fixed, so the month-to-date ratio is a subquery over the last 31 days that
keeps only the steps after the start of the current month (UTC): the hourly SLI sampled hourly
covers the month so far without overlap. ``@ end()`` pins the month start to the evaluation time
inside the subquery.
"""

from __future__ import annotations

from infermeter.slo import conventions as c
from infermeter.slo.durations import format_duration
from infermeter.slo.generate.common import id_filter, id_labels, merge
from infermeter.slo.model import SLO, Rule

DAY_SECONDS = 86400


def calendar_rules(slo: SLO, step_ms: int) -> tuple[Rule, ...]:
    """Recorded after the SLI window rules, in the same group (so in this order at each step)."""
    flt = id_filter(slo)
    labels = merge(id_labels(slo), slo.labels)
    step = format_duration(step_ms)
    start = f"{c.CALENDAR_START_METRIC}{flt}"
    in_month = (
        f"({c.sli_error_metric(step)}{flt} and on() "
        f"(vector(time()) > on() scalar({start} @ end())))[31d:{step}]"
    )
    return (
        Rule(
            record=c.CALENDAR_START_METRIC,
            expr=f"(floor(vector(time()) / {DAY_SECONDS}) - day_of_month() + 1) * {DAY_SECONDS}",
            labels=labels,
        ),
        Rule(
            record=c.CALENDAR_ELAPSED_METRIC,
            expr=f"(time() - {start}) / scalar(days_in_month() * {DAY_SECONDS})",
            labels=labels,
        ),
        Rule(
            record=c.CALENDAR_SLI_METRIC,
            expr=f"sum_over_time({in_month})\n/ ignoring ({c.LABEL_WINDOW})\ncount_over_time({in_month})\n",
            labels=merge(labels, {c.LABEL_WINDOW: c.CALENDAR_MONTH_WINDOW}),
        ),
    )
