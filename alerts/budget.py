"""Tenant budget alerts: Prometheus alert rules on an exposed gauge (not posts to Alertmanager).

The contract (names in ``alerts/conventions.py``): whoever holds the chargeback data — the owner
process — registers :class:`TenantBudgetCollector` on its ``/metrics`` registry with a function
returning each tenant's month-to-date spend and monthly budget (:class:`TenantSpend`). Prometheus
scrapes three gauges per tenant, and the rules from :func:`budget_rules` fire
``TenantBudgetThreshold`` when ``spent / budget`` reaches a configured share. Why rules and not
posts: see docs/alerts.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from infermeter.alerts import conventions as c
from infermeter.alerts.generate import quote, regex_literal
from infermeter.alerts.spec import TenantBudgets, Threshold
from infermeter.slo.gofmt import format_g


@dataclass(frozen=True)
class TenantSpend:
    """One tenant's month-to-date spend against its monthly budget (Decimal money)."""

    tenant: str
    spent: Decimal
    budget: Decimal
    currency: str = "USD"

    @property
    def used_ratio(self) -> float:
        """``spent / budget``; a zero budget is infinitely used once anything is spent."""
        if self.budget > 0:
            return float(self.spent / self.budget)
        return float("inf") if self.spent > 0 else 0.0


class TenantBudgetCollector(Collector):
    """The three budget gauges, read from ``source`` at every scrape (a failing source raises and
    prometheus_client answers 500: Prometheus marks the target down rather than serving old data)."""

    def __init__(self, source: Callable[[], Iterable[TenantSpend]]):
        self._source = source

    def describe(self) -> list[Any]:
        return []  # unchecked collector: the metrics depend on the source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ratio = GaugeMetricFamily(c.BUDGET_USED_RATIO, "Month-to-date spend over the monthly budget.", labels=[c.LABEL_TENANT])
        spent = GaugeMetricFamily(
            c.BUDGET_SPENT, "Month-to-date spend.", labels=[c.LABEL_TENANT, c.BUDGET_LABEL_CURRENCY]
        )
        amount = GaugeMetricFamily(
            c.BUDGET_AMOUNT, "Monthly budget.", labels=[c.LABEL_TENANT, c.BUDGET_LABEL_CURRENCY]
        )
        for row in self._source():
            ratio.add_metric([row.tenant], row.used_ratio)
            spent.add_metric([row.tenant, row.currency], float(row.spent))
            amount.add_metric([row.tenant, row.currency], float(row.budget))
        yield from (ratio, spent, amount)


def _percent(share: float) -> str:
    return format_g(round(share * 100, 9)) + "%"


def _rule(selector: str, threshold: Threshold, config: TenantBudgets) -> dict[str, Any]:
    tenant = f"$labels.{c.LABEL_TENANT}"
    money = (
        f'{{{{ with printf "{c.BUDGET_SPENT}{{{c.LABEL_TENANT}=%q}}" {tenant} | query }}}}'
        "{{ with . | first }}{{ .Value | printf \"%.2f\" }} {{ .Labels.currency }}{{ end }}{{ end }}"
    )
    budget = (
        f'{{{{ with printf "{c.BUDGET_AMOUNT}{{{c.LABEL_TENANT}=%q}}" {tenant} | query }}}}'
        "{{ with . | first }}{{ .Value | printf \"%.2f\" }} {{ .Labels.currency }}{{ end }}{{ end }}"
    )
    annotations = {
        "title": f"({threshold.severity}) tenant {{{{ {tenant} }}}} passed {_percent(threshold.share)} of its monthly budget",
        c.ANNOTATION_SUMMARY: (
            f"Tenant {{{{ {tenant} }}}} has spent {{{{ $value | humanizePercentage }}}} of its monthly budget "
            f"({money} of {budget}); alert threshold {_percent(threshold.share)}."
        ),
    }
    if config.runbook_url:
        annotations[c.ANNOTATION_RUNBOOK] = config.runbook_url
    rule: dict[str, Any] = {
        "alert": c.BUDGET_ALERT_NAME,
        "expr": f"{c.BUDGET_USED_RATIO}{selector} >= {format_g(threshold.share)}",
    }
    if config.for_ not in ("0", "0s"):
        rule["for"] = config.for_
    rule["labels"] = {c.LABEL_SEVERITY: threshold.severity, c.BUDGET_LABEL_THRESHOLD: format_g(threshold.share)}
    rule["annotations"] = annotations
    return rule


def budget_rules(config: TenantBudgets) -> dict[str, Any]:
    """A Prometheus rule file: one alert per threshold, per-tenant thresholds replacing the default
    ones for their tenants. Several thresholds may fire at once (80% and 100%): the page inhibits
    the ticket of the same tenant (the routing's inhibition rule, ``equal: [sloth_id, tenant]``)."""
    if not config.enabled:
        return {"groups": []}
    rules = []
    special = sorted(config.tenants)
    others = f"{{{c.LABEL_TENANT}!~{quote('|'.join(regex_literal(t) for t in special))}}}" if special else ""
    rules += [_rule(others, t, config) for t in config.thresholds]
    for tenant in special:
        rules += [_rule(f"{{{c.LABEL_TENANT}={quote(tenant)}}}", t, config) for t in config.tenants[tenant]]
    return {"groups": [{"name": c.BUDGET_RULE_GROUP, "rules": rules}]}


def render_budget_rules(rules: dict[str, Any], source: str = "") -> str:
    origin = f" from {source}" if source else ""
    header = f"# Code generated by infermeter alerts budget-rules{origin}.\n# DO NOT EDIT.\n"
    return header + yaml.safe_dump(rules, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
