"""Month-to-date spend from the chargeback ledger, as the budget gauges' source.

The owner process (``infermeter up``, the demo) registers
``TenantBudgetCollector(ledger_spend(store, budgets))`` on its sidecar's ``/metrics``; each scrape
reads the current month's latest complete run. A month without a run yet has no spend rows
(nothing is exposed, so no budget alert can fire on made-up zeros).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal

from infermeter.alerts.budget import TenantSpend


def ledger_spend(
    store, budgets: Mapping[str, Decimal | None], now: Callable[[], dt.datetime] | None = None
) -> Callable[[], list[TenantSpend]]:
    """A spend source over ``store``'s ledger for the tenants that have a budget."""
    from infermeter.chargeback.queries import NoChargebackData, tenant_summaries

    clock = now or (lambda: dt.datetime.now(dt.timezone.utc))

    def source() -> list[TenantSpend]:
        try:
            rows = tenant_summaries(store, clock().strftime("%Y-%m"), budgets=budgets)
        except NoChargebackData:
            return []
        return [TenantSpend(r.tenant, r.cost, r.budget, r.currency) for r in rows if r.budget is not None]

    return source


def tenancy_budgets(path) -> dict[str, Decimal]:
    """Monthly budgets from a tenancy file (tenants without one are left out)."""
    from infermeter.chargeback.tenancy import load_tenancy

    tenancy = load_tenancy(path)
    return {name: t.monthly_budget for name, t in tenancy.model.tenants.items() if t.monthly_budget is not None}
