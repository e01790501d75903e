"""SLO data for the portal, from the SLO reports (:mod:`infermeter.slo.report`).

- attainment: the month's report (as ``infermeter slo report --month``), one row per SLO and group;
- burn-down: the same report per day, accumulated: the error budget left at the end of each day;
- alert history: firing ``ALERTS`` intervals stored in ClickHouse (chargeback.queries.alert_history).

Reports are computed once per month for every tenant (cached by :class:`PortalData`) and then cut
to the viewer's scope here: a viewer sees only the rows of SLOs grouped by ``tenant`` whose tenant
they may see; fleet-wide SLOs (no tenant group) are for admins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

UTC = dt.timezone.utc
BURN_SERIES_LIMIT = 12  # lines on an unfiltered burn-down: fleet SLOs first, then the worst groups

ATTAINMENT_COLUMNS = [
    "slo", "service", "tenant", "group", "objective_pct", "attainment_pct", "budget_consumed_pct",
    "budget_remaining_pct", "events", "status",
]  # fmt: skip


@dataclass(frozen=True)
class SloView:
    attainment: pd.DataFrame  # ATTAINMENT_COLUMNS
    burn_down: pd.DataFrame  # series, day, budget_remaining_pct
    alerts: pd.DataFrame | None  # start, end, slo, tenant, severity, alert


@dataclass(frozen=True)
class MonthReports:
    """Every row of the month's report and of each day's report (all tenants)."""

    rows: tuple  # ReportRow
    days: tuple  # (date, tuple[ReportRow, ...])
    start: dt.datetime
    end: dt.datetime


def load_specs(path: Path):
    from infermeter.slo.report import load_slos
    from infermeter.slo.service import Settings as SloSettings

    slos, _warnings = load_slos(Path(path), SloSettings())
    return slos


def _report_rows(store, slos, window) -> tuple:
    from infermeter.slo.report import run_report
    from infermeter.slo.report_plan import plan_report

    plan, _skipped = plan_report(slos, window, skip_unsupported=True)
    return tuple(run_report(store, plan))


def month_reports(store, slos, month: str, now: dt.datetime | None = None, daily: bool = True) -> MonthReports:
    """The month's report and (``daily``) one report per day; ConfigError for a month not started yet."""
    from infermeter.slo.report import check_schema
    from infermeter.slo.report_plan import ReportWindow, month_window

    window = month_window(month, now or dt.datetime.now(UTC))
    check_schema(store)
    days = []
    day = window.start
    while daily and day < window.end:
        nxt = min(day + dt.timedelta(days=1), window.end)
        days.append((day.date(), _report_rows(store, slos, ReportWindow(day, nxt, f"{day:%Y-%m-%d}"))))
        day = nxt
    return MonthReports(_report_rows(store, slos, window), tuple(days), window.start, window.end)


def _in_scope(group: dict[str, str], scope) -> bool:
    if scope is None:
        return True
    tenant = group.get("tenant")
    return bool(tenant) and tenant in scope


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def attainment(reports: MonthReports, scope) -> pd.DataFrame:
    rows = [r for r in reports.rows if _in_scope(r.group, scope)]
    return pd.DataFrame(
        [
            {
                "slo": r.slo,
                "service": r.service,
                "tenant": r.group.get("tenant", ""),
                "group": r.group_text,
                "objective_pct": r.objective,
                "attainment_pct": _round(None if r.sli is None else r.sli * 100),
                "budget_consumed_pct": _round(None if r.budget_consumed is None else r.budget_consumed * 100, 1),
                "budget_remaining_pct": _round(None if r.budget_remaining is None else r.budget_remaining * 100, 1),
                "events": int(r.total),
                "status": r.status,
            }
            for r in rows
        ],
        columns=ATTAINMENT_COLUMNS,
    )


def burn_down(reports: MonthReports, scope, limit: int | None = BURN_SERIES_LIMIT) -> pd.DataFrame:
    """Budget left (%) at the end of each day, accumulated from the 1st, per SLO and group."""
    totals: dict[tuple[str, str], list[float]] = {}
    points: list[dict] = []
    for day, rows in reports.days:
        for r in rows:
            if r.total <= 0 or not _in_scope(r.group, scope):
                continue
            acc = totals.setdefault((r.slo_id, r.group_text), [0.0, 0.0, r.budget])
            acc[0] += r.total
            acc[1] += r.errors
        for (slo_id, group), (total, errors, budget) in totals.items():
            if total > 0 and budget > 0:
                remaining = (1.0 - (errors / total) / budget) * 100
                points.append({"series": f"{slo_id} {group}".strip(), "day": day, "budget_remaining_pct": round(remaining, 2)})
    df = pd.DataFrame(points, columns=["series", "day", "budget_remaining_pct"])
    if limit is not None and not df.empty and df["series"].nunique() > limit:
        last = df.sort_values("day").groupby("series")["budget_remaining_pct"].last()
        fleet = [s for s in last.index if "=" not in s]  # SLOs without a group
        worst = [s for s in last.sort_values().index if s not in fleet]
        keep = set((fleet + worst)[:limit])
        df = df[df["series"].isin(keep)]
    return df


def alerts(store, reports: MonthReports, scope) -> pd.DataFrame | None:
    from infermeter.chargeback.queries import alert_history

    found = alert_history(store, reports.start, reports.end, scope)
    if not found:
        return None
    return pd.DataFrame(
        [
            {"start": f"{a.start:%Y-%m-%d %H:%M}", "end": f"{a.end:%Y-%m-%d %H:%M}", "slo": a.slo, "tenant": a.tenant,
             "severity": a.severity, "alert": a.alertname}  # fmt: skip
            for a in found
        ]
    )


def view(store, reports: MonthReports, scope, selected: bool = False) -> SloView:
    """The page's view for ``scope``; ``selected``: the user picked the tenants (all their lines)."""
    limit = None if selected else BURN_SERIES_LIMIT
    return SloView(attainment(reports, scope), burn_down(reports, scope, limit), alerts(store, reports, scope))
