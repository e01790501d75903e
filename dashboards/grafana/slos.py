"""SLOs: per SLO the SLI, burn rates by window, remaining budget and firing alerts, from the rules
that ``infermeter slo generate`` writes (Sloth's names and labels, plus grouped and calendar-month
SLOs). Alert annotations link here with ``var-service`` and ``var-slo``."""

from __future__ import annotations

from typing import Any

from infermeter.dashboards.grafana import common
from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana import variables as v
from infermeter.dashboards.grafana.panels import (
    Grid, Row, column_link, column_unit, hide_columns, merge_tables, prom, stat, table, timeseries,
)
from infermeter.dashboards.grafana.promql import sel
from infermeter.slo import conventions as s

SLO_SEL = sel(**{s.LABEL_SERVICE: c.VAR_SERVICE, s.LABEL_SLO: c.VAR_SLO})
# Grouped SLOs (group_by: [tenant]) carry the grouping label on their SLI and burn-rate series.
GROUPED_SEL = sel(**{s.LABEL_SERVICE: c.VAR_SERVICE, s.LABEL_SLO: c.VAR_SLO, c.GATEWAY_LABEL_TENANT: c.VAR_TENANT})
ON = f"on({', '.join(c.SLO_ID_LABELS)})"
SLO_LEGEND = "{{sloth_service}}/{{sloth_slo}} {{tenant}}"
KEY = f"{s.LABEL_SERVICE}, {s.LABEL_SLO}, {c.GATEWAY_LABEL_TENANT}"


def _error_budget() -> str:
    return f"{s.ERROR_BUDGET_RATIO_METRIC}{SLO_SEL}"


def burn_rate_by_window() -> str:
    """Every SLI window's error ratio over the error budget, one series per ``sloth_window``."""
    return f'{{__name__=~"{s.SLI_ERROR_METRIC_PREFIX}.+", {GROUPED_SEL[1:-1]}}} / {ON} group_left {_error_budget()}'


def period_sli() -> str:
    """Good-event ratio over the SLO's period (rolling, or month to date for calendar SLOs)."""
    return f"1 - ({s.PERIOD_BURN_RATE_METRIC}{GROUPED_SEL} * {ON} group_left {_error_budget()})"


def variables() -> list[v.Variable]:
    return [
        v.prometheus_datasource(),
        v.prom_label_values(c.VAR_SERVICE, "Service", s.OBJECTIVE_RATIO_METRIC, s.LABEL_SERVICE),
        v.prom_label_values(
            c.VAR_SLO, "SLO", f'{s.OBJECTIVE_RATIO_METRIC}{{{s.LABEL_SERVICE}=~"${c.VAR_SERVICE}"}}', s.LABEL_SLO
        ),
        v.prom_label_values(
            c.VAR_TENANT, "Tenant (grouped SLOs)",
            f"{s.CURRENT_BURN_RATE_METRIC}{SLO_SEL}", c.GATEWAY_LABEL_TENANT,
        ),
    ]


def dashboard() -> dict[str, Any]:
    link = (
        f"{c.dashboard_path(c.UID_SLOS)}?var-{c.VAR_SERVICE}=${{__data.fields.{s.LABEL_SERVICE}}}"
        f"&var-{c.VAR_SLO}=${{__data.fields.{s.LABEL_SLO}}}&${{__url_time_range}}"
    )
    firing = f'{c.ALERTS_METRIC}{{alertstate="firing", {GROUPED_SEL[1:-1]}}}'
    alert_key = f"alertname, {s.LABEL_SEVERITY}, {KEY}"
    grid = Grid().add(
        Row("Status"),
        table(
            "SLOs",
            [
                prom(f"max by ({KEY}) ({s.OBJECTIVE_RATIO_METRIC}{SLO_SEL})", table=True),
                prom(f"max by ({KEY}) ({period_sli()})", table=True),
                prom(f"max by ({KEY}) ({s.CURRENT_BURN_RATE_METRIC}{GROUPED_SEL})", table=True),
                prom(f"min by ({KEY}) ({s.PERIOD_ERROR_BUDGET_REMAINING_METRIC}{GROUPED_SEL})", table=True),
                prom(f"max by ({KEY}) ({s.TIME_PERIOD_DAYS_METRIC}{SLO_SEL})", table=True),
            ],
            w=24, h=7,
            description="Objective, SLI over the period, current burn rate (5m window over the budget), "
                        "remaining budget of the period, period length in days.",
            transformations=[
                merge_tables(),
                hide_columns("Time"),
                {"id": "organize", "options": {"renameByName": {
                    "Value #A": "objective", "Value #B": "SLI (period)", "Value #C": "burn rate",
                    "Value #D": "budget remaining", "Value #E": "period (days)"}}},
            ],
            overrides=[
                column_unit("objective", "percentunit"),
                column_unit("SLI (period)", "percentunit"),
                column_unit("budget remaining", "percentunit"),
                column_link(s.LABEL_SLO, "Show this SLO", link),
            ],
        ),
        stat("Firing SLO alerts", [prom(f"count({firing}) or vector(0)")], w=6,
             thresholds=((None, "green"), (1, "red"))),
        stat("Lowest remaining budget",
             [prom(f"min({s.PERIOD_ERROR_BUDGET_REMAINING_METRIC}{GROUPED_SEL})")], unit="percentunit", w=6,
             thresholds=((None, "red"), (0.25, "orange"), (0.5, "green"))),
        stat("Highest burn rate", [prom(f"max({s.CURRENT_BURN_RATE_METRIC}{GROUPED_SEL})")], w=6, decimals=2,
             thresholds=((None, "green"), (1, "orange"), (6, "red"))),
        stat("Calendar month elapsed", [prom(f"max({s.CALENDAR_ELAPSED_METRIC}{SLO_SEL})")], unit="percentunit",
             w=6, graph=False, no_value="rolling",
             description="Share of the calendar month elapsed (calendar-month SLOs only)."),
        Row("SLI and budget"),
        timeseries(
            "SLI (good-event ratio, 5m)",
            [
                prom(f"1 - {s.sli_error_metric('5m')}{GROUPED_SEL}", SLO_LEGEND),
                prom(f"{s.OBJECTIVE_RATIO_METRIC}{SLO_SEL}", "objective {{sloth_service}}/{{sloth_slo}}"),
            ],
            unit="percentunit", w=12,
        ),
        timeseries(
            "Remaining error budget (period)",
            [prom(f"{s.PERIOD_ERROR_BUDGET_REMAINING_METRIC}{GROUPED_SEL}", SLO_LEGEND)],
            unit="percentunit", w=12,
            description="1 - period burn rate; for calendar-month SLOs only the elapsed part of the month counts.",
        ),
        Row("Burn rates"),
        timeseries(
            "Burn rate by window",
            [prom(burn_rate_by_window(), "{{sloth_slo}} {{sloth_window}} {{tenant}}")],
            w=12,
            description="Error ratio of each SLI window divided by the error budget: 1 spends the budget exactly "
                        "over the period; the page alerts fire at 14.4 (1h) and 6 (6h).",
        ),
        timeseries(
            "Current and period burn rate",
            [
                prom(f"{s.CURRENT_BURN_RATE_METRIC}{GROUPED_SEL}", "current " + SLO_LEGEND),
                prom(f"{s.PERIOD_BURN_RATE_METRIC}{GROUPED_SEL}", "period " + SLO_LEGEND),
            ],
            w=12,
        ),
        Row("Alerts"),
        table(
            "Firing alerts",
            [prom(f"max by ({alert_key}) ({firing})", table=True)],
            w=12,
            transformations=[hide_columns("Time", "Value")],
        ),
        timeseries(
            "Alert history",
            [prom(f"max by (alertstate, {alert_key}) ({c.ALERTS_METRIC}{{{GROUPED_SEL[1:-1]}}})",
                  "{{alertname}} {{sloth_severity}} {{alertstate}} " + SLO_LEGEND)],
            w=12, draw="bars",
        ),
    )
    return common.build(
        c.UID_SLOS,
        description="Sloth-compatible SLOs: SLI, burn rates by window, remaining budget, firing alerts.",
        variables=variables(),
        grid=grid,
        time_from="now-24h",
        tags=("slo",),
    )
