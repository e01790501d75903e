"""The monthly report: everything a renderer needs, gathered once from the query layer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from infermeter import __version__
from infermeter.chargeback import queries as q
from infermeter.errors import InfermeterError
from infermeter.ingest.store import Store


class NoTenantData(InfermeterError):
    """The run has no line for the tenant asked for (exit code 1)."""


class MonthlyReport(BaseModel):
    """One month's chargeback, for every tenant or for one (``tenant``).

    A tenant report holds that tenant's data only: no fleet totals, no other tenant's names.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: q.Period
    tenant: str | None
    currency: str
    run: q.RunInfo
    generated_at: dt.datetime
    generator: str
    total_cost: Decimal
    fleet: q.FleetTotals | None
    tenants: tuple[q.TenantSummary, ...]
    daily: tuple[q.DailyPoint, ...]
    models: tuple[q.ModelCost, ...]
    lines: tuple[q.LedgerLine, ...]
    issues: tuple[q.IssueLine, ...]
    efficiency: tuple[q.DeploymentEfficiency, ...] = ()  # the fleet report only (deployments are shared)

    @property
    def title(self) -> str:
        who = f"tenant {self.tenant}" if self.tenant else "all tenants"
        return f"GPU inference chargeback {self.period.label}, {who}"


def build_report(
    store: Store,
    month: str | q.Period,
    tenant: str | None = None,
    *,
    budgets: Mapping[str, Decimal | None] | None = None,
    slo_specs: Path | None = None,
    generated_at: dt.datetime | None = None,
    daily_lines: bool = False,
) -> MonthlyReport:
    """Gather a month's report; :class:`~infermeter.chargeback.queries.NoChargebackData` without a run.

    ``slo_specs`` (an SLO spec file or directory) adds each tenant's SLO attainment from the SLO
    reports; without it the column reads "n/a". ``daily_lines`` keeps one ledger line per day (the FOCUS export's charge periods) instead of
    one per month and price.
    """
    period = q.parse_month(month)
    run = q.require_run(store, period)
    slo = q.slo_by_tenant(store, period, slo_specs)
    summaries = q.tenant_summaries(store, period, tenant, budgets=budgets, slo=slo, run=run)
    if tenant is not None and not summaries:
        known = q.tenants(store, period, run=run)
        sample = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
        raise NoTenantData(
            f"tenant {tenant!r} has no chargeback lines in {period.label} (run {run.run_id} v{run.version}); "
            f"tenants with lines: {sample or 'none'}"
        )
    currency = q.currency_of(store, period, run=run)
    return MonthlyReport(
        period=period,
        tenant=tenant,
        currency=currency,
        run=run,
        generated_at=generated_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
        generator=f"infermeter {__version__}",
        total_cost=sum((s.cost for s in summaries), Decimal(0)),
        fleet=q.fleet_totals(store, period, run=run) if tenant is None else None,
        tenants=tuple(summaries),
        daily=tuple(q.daily_trend(store, period, tenant, run=run)),
        models=tuple(q.model_breakdown(store, period, tenant, run=run)),
        lines=tuple(q.ledger_lines(store, period, tenant, run=run, daily=daily_lines)),
        issues=tuple(q.issues(store, period, tenant, run=run)),
        efficiency=tuple(q.efficiency(store, period, run=run)) if tenant is None else (),
    )
