"""What an on-call engineer needs on every SLO alert, as annotations added to the SLO generator's
page and ticket alerts (``infermeter slo generate --runbook-url ... --dashboard-url ...``):

- ``summary``: the SLO, the burn rate the alert saw (its value, the firing condition's short
  window error ratio, over the error budget) and the error budget left (the SLO's
  ``slo:period_error_budget_remaining:ratio``), through Prometheus' template ``query`` function;
- ``runbook_url``: the given URL, ``{service}``, ``{slo}``, ``{id}`` and ``{severity}`` filled;
- ``dashboard_url``: the Grafana SLO dashboard (uid ``infermeter-slos``) with ``var-service`` and
  ``var-slo`` set to the SLO's.

An SLO spec's own ``alerting.annotations`` still win over these.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from infermeter.alerts import conventions as c
from infermeter.slo import conventions as sc
from infermeter.slo.durations import format_duration
from infermeter.slo.gofmt import format_g
from infermeter.slo.model import SLO, PeriodKind


def _instant_query(metric: str, slo: SLO) -> str:
    """``printf "metric{sloth_id=%q, tenant=%q}" $labels.sloth_id $labels.tenant``: the series of
    this alert's SLO (and group, for grouped SLOs), filled from the alert's labels."""
    labels = (sc.LABEL_ID, *slo.group_by)
    selector = ", ".join(f"{name}=%q" for name in labels)
    args = " ".join(f"$labels.{name}" for name in labels)
    return f'printf "{metric}{{{selector}}}" {args}'


def summary(slo: SLO) -> str:
    period = "calendar month" if slo.period_kind is PeriodKind.CALENDAR_MONTH else format_duration(slo.period_ms)
    # The alert's value is the error ratio of the firing condition's short window: divided by the
    # error budget (templates cannot divide, PromQL can), it is the burn rate the alert saw.
    budget = format_g((100 - slo.objective) / 100)
    burn = (
        f'{{{{ with printf "%f / {budget}" $value | query }}}}'
        '{{ . | first | value | printf "%.2f" }}{{ else }}unknown{{ end }}'
    )
    left = (
        f"{{{{ with {_instant_query(sc.PERIOD_ERROR_BUDGET_REMAINING_METRIC, slo)} | query }}}}"
        "{{ . | first | value | humanizePercentage }}{{ else }}unknown{{ end }}"
    )
    group = "".join(f" {name}={{{{ $labels.{name} }}}}" for name in slo.group_by)
    return (
        f"{{{{ $labels.{sc.LABEL_SERVICE} }}}} {{{{ $labels.{sc.LABEL_SLO} }}}}{group}: error budget burn rate "
        f"is {burn}x over the short window (1x spends the whole budget in {period}), "
        f"{left} of the {period} error budget left."
    )


def dashboard_url(base: str, slo: SLO) -> str:
    query = urlencode({c.DASHBOARD_VAR_SERVICE: slo.service, c.DASHBOARD_VAR_SLO: slo.name}, quote_via=quote)
    return f"{base.rstrip('/')}/d/{c.SLO_DASHBOARD_UID}?{query}"


def runbook_url(template: str, slo: SLO, severity: str) -> str:
    values = {"{service}": slo.service, "{slo}": slo.name, "{id}": slo.id, "{severity}": severity}
    for placeholder, value in values.items():
        template = template.replace(placeholder, quote(value, safe=""))
    return template


@dataclass(frozen=True)
class AlertContext:
    """Annotations for the SLO generator's alerts (its ``annotate`` hook): the summary always,
    the runbook and dashboard links when their URLs are given."""

    runbook_url: str | None = None
    dashboard_base_url: str | None = None

    def __call__(self, slo: SLO, severity: str) -> dict[str, str]:
        out = {c.ANNOTATION_SUMMARY: summary(slo)}
        if self.runbook_url:
            out[c.ANNOTATION_RUNBOOK] = runbook_url(self.runbook_url, slo, severity)
        if self.dashboard_base_url:
            out[c.ANNOTATION_DASHBOARD] = dashboard_url(self.dashboard_base_url, slo)
        return out
