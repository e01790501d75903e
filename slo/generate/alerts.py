"""The two multi-window multi-burn-rate alerts, page and ticket (Sloth's ``alert_rules`` plugin),
with infermeter's optional minimum-traffic guard."""

from __future__ import annotations

from collections.abc import Callable

from infermeter.slo import conventions as c
from infermeter.slo.durations import format_duration
from infermeter.slo.generate.common import id_filter, merge
from infermeter.slo.gofmt import format_v
from infermeter.slo.model import SLO, AlertMeta, Rule
from infermeter.slo.windows import Window, WindowTable

# Extra annotations per (SLO, severity), between the defaults and the spec's own (which win).
Annotate = Callable[[SLO, str], dict[str, str]]


def _condition(metric: str, flt: str, factor: float, budget: float) -> str:
    return f"max({metric}{flt} > ({format_v(factor)} * {format_v(budget)})) without ({c.LABEL_WINDOW})"


def _branch(slo: SLO, table: WindowTable, window: Window, budget: float) -> str:
    flt = id_filter(slo)
    factor = table.burn_factor(window)
    lines = [
        _condition(c.sli_error_metric(format_duration(window.short_ms)), flt, factor, budget),
        _condition(c.sli_error_metric(format_duration(window.long_ms)), flt, factor, budget),
    ]
    if slo.min_events is not None:
        events = c.sli_total_events_metric(format_duration(window.long_ms))
        lines.append(f"max({events}{flt} >= {slo.min_events}) without ({c.LABEL_WINDOW})")
    return "(\n" + "\n    and\n".join("    " + line for line in lines) + "\n)"


def _alert(
    slo: SLO, meta: AlertMeta, table: WindowTable, quick: Window, slow: Window, severity: str, annotate: Annotate | None
) -> Rule:
    budget = (100 - slo.objective) / 100
    expr = _branch(slo, table, quick, budget) + "\nor\n" + _branch(slo, table, slow, budget) + "\n"
    svc, name = f"{{{{$labels.{c.LABEL_SERVICE}}}}}", f"{{{{$labels.{c.LABEL_SLO}}}}}"
    annotations = {
        "title": f"({severity}) {svc} {name} SLO error budget burn rate is too fast.",
        "summary": f"{svc} {name} SLO error budget burn rate is over expected.",
    }
    return Rule(
        alert=meta.name,
        expr=expr,
        labels=merge({c.LABEL_SEVERITY: severity}, meta.labels),
        annotations=merge(annotations, annotate(slo, severity) if annotate else {}, meta.annotations),
    )


def alert_rules(slo: SLO, table: WindowTable, annotate: Annotate | None = None) -> tuple[Rule, ...]:
    rules = []
    if not slo.page_alert.disable:
        rules.append(_alert(slo, slo.page_alert, table, table.page_quick, table.page_slow, c.SEVERITY_PAGE, annotate))
    if not slo.ticket_alert.disable:
        rules.append(
            _alert(slo, slo.ticket_alert, table, table.ticket_quick, table.ticket_slow, c.SEVERITY_TICKET, annotate)
        )
    return tuple(rules)
