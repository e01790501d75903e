"""What the pages read: the chargeback query layer (no SQL here), budgets and SLO reports.

Every method takes the tenant scope that :func:`auth.resolve_tenants` computed on the server
(``None`` = every tenant, admins only; else a tuple of tenant names), which the queries filter on
in ClickHouse. Results are cached for ``portal.cache_ttl_s`` seconds keyed by method, month and
scope, so an answer computed for one scope is never served for another.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

import flask
import pandas as pd

from infermeter.chargeback import queries as q
from infermeter.dashboards.portal import slo_view
from infermeter.dashboards.portal.slo_view import MonthReports, SloView
from infermeter.errors import InfermeterError

Scope = tuple[str, ...] | None
log = logging.getLogger("infermeter.portal")
TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "output_tokens")


class TTLCache:
    """A small thread-safe cache; ``ttl_s <= 0`` turns it off."""

    def __init__(self, ttl_s: float, max_items: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.ttl_s <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] > now:
                return hit[1]
        value = compute()
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = (now + self.ttl_s, value)
        return value

    def peek(self, key: Hashable) -> Any:
        """The cached value, or None (no computing)."""
        with self._lock:
            hit = self._items.get(key)
            return hit[1] if hit and hit[0] > time.monotonic() else None

    def put(self, key: Hashable, value: Any) -> None:
        if self.ttl_s > 0:
            with self._lock:
                self._items[key] = (time.monotonic() + self.ttl_s, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _scope_key(scope: Scope) -> Hashable:
    return None if scope is None else tuple(sorted(scope))


class PortalData:
    """The portal's reads over one store, cached briefly."""

    def __init__(self, store, settings) -> None:
        self.store = store
        self.settings = settings
        self.cache = TTLCache(settings.portal.cache_ttl_s)
        self.slo_cache = TTLCache(settings.portal.slo_cache_ttl_s, max_items=24)

    def _cached(self, *key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.cache.ttl_s <= 0 and flask.has_request_context():
            # No cache across requests: still ask each question once per request (the run, the
            # currency and the months are read by every view).
            memo = flask.g.setdefault("portal_memo", {})
            if key not in memo:
                memo[key] = compute()
            return memo[key]
        return self.cache.get(key, compute)

    # ------------------------------------------------------------------ runs and names

    def months(self, scope: Scope = None) -> list[str]:  # noqa: ARG002 - months are not tenant data
        return self._cached("months", compute=lambda: q.months(self.store))

    def run(self, month: str) -> q.RunInfo | None:
        return self._cached("run", month, compute=lambda: q.run_info(self.store, month))

    def latest_month(self) -> str | None:
        months = self.months()
        return months[0] if months else None

    def tenants(self) -> list[str]:
        """Every tenant of the latest month (for admins' selectors)."""

        def compute() -> list[str]:
            month = self.latest_month()
            run = self.run(month) if month else None
            return [t for t in q.tenants(self.store, month, run=run)] if run else []

        return self._cached("tenants", compute=compute)

    def currency(self, month: str | None = None) -> str:
        """The currency of the month's run (default: the latest month)."""

        def compute() -> str:
            m = month or self.latest_month()
            run = self.run(m) if m else None
            return q.currency_of(self.store, m, run=run) if run else ""

        return self._cached("currency", month, compute=compute)

    # ------------------------------------------------------------------ ledger views

    def summary(self, month: str, scope: Scope) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            run = self.run(month)
            rows = q.scope_totals(self.store, month, scope, (), run=run) if run else []
            r = rows[0] if rows else None
            gpu = r.gpu_hours if r else Decimal(0)
            return {
                "cost": r.cost if r else Decimal(0),
                "gpu_hours": float(gpu),
                "idle_share": float(r.idle_gpu_hours / gpu) if r and gpu else None,
                "requests": r.tokens.requests if r else 0,
                "input_tokens": r.tokens.input if r else 0,
                "cached_input_tokens": r.tokens.cached_input if r else 0,
                "output_tokens": r.tokens.output if r else 0,
                "tenants": r.tenants if r else 0,
                "adjustment_cost": r.adjustment_cost if r else Decimal(0),
            }

        return self._cached("summary", month, _scope_key(scope), compute=compute)

    def cost_by(self, month: str, scope: Scope, dims: tuple[str, ...]) -> pd.DataFrame:
        """Columns: dims..., cost, gpu_hours, idle_gpu_hours, tokens, input/cached/output tokens."""

        def compute() -> pd.DataFrame:
            run = self.run(month)
            rows = q.scope_totals(self.store, month, scope, dims, run=run) if run else []
            records = [
                {
                    **r.key,
                    "cost": r.cost,
                    "gpu_hours": float(r.gpu_hours),
                    "idle_gpu_hours": float(r.idle_gpu_hours),
                    "tokens": r.tokens.input + r.tokens.output,
                    "input_tokens": r.tokens.input,
                    "cached_input_tokens": r.tokens.cached_input,
                    "output_tokens": r.tokens.output,
                }
                for r in rows
            ]
            cols = [*dims, "cost", "gpu_hours", "idle_gpu_hours", "tokens", *TOKEN_COLUMNS]
            return pd.DataFrame(records, columns=cols)

        return self._cached("cost_by", month, _scope_key(scope), dims, compute=compute)

    def daily(self, month: str, scope: Scope, by_tenant: bool) -> pd.DataFrame:
        """Columns: day, (tenant), cost, gpu_hours, tokens."""

        def compute() -> pd.DataFrame:
            run = self.run(month)
            rows = q.scope_daily(self.store, month, scope, by_tenant=by_tenant, run=run) if run else []
            cols = ["day", *(["tenant"] if by_tenant else []), "cost", "gpu_hours", "tokens"]
            records = [
                {"day": r.day, **({"tenant": r.tenant} if by_tenant else {}), "cost": r.cost, "gpu_hours": float(r.gpu_hours), "tokens": r.tokens.input + r.tokens.output}
                for r in rows
            ]
            return pd.DataFrame(records, columns=cols)

        return self._cached("daily", month, _scope_key(scope), by_tenant, compute=compute)

    def tokens(self, month: str, scope: Scope, dim: str) -> pd.DataFrame:
        """Columns: dim, input_tokens, cached_input_tokens, output_tokens (rows with tokens only)."""
        df = self.cost_by(month, scope, (dim,))
        df = df[(df["input_tokens"] + df["output_tokens"]) > 0]
        return df[[dim, *TOKEN_COLUMNS]].sort_values(dim).reset_index(drop=True)

    def tenant_summary(self, month: str, tenant: str) -> q.TenantSummary | None:
        """One tenant's month from the chargeback summaries (budget and SLO attainment included)."""

        def compute():
            run = self.run(month)
            if run is None:
                return None
            budget = self.tenant_budgets().get(tenant)
            return q.tenant_summary(self.store, month, tenant, budget=budget, run=run)

        return self._cached("tenant_summary", month, tenant, compute=compute)

    # ------------------------------------------------------------------ budgets

    def tenant_budgets(self) -> dict[str, Decimal]:
        return self._cached("budgets-config", compute=lambda: load_budgets(self.settings))

    def budgets(self, month: str, scope: Scope) -> pd.DataFrame:
        def compute() -> pd.DataFrame:
            spent = self.cost_by(month, scope, ("tenant",))
            run = self.run(month)
            through = run.usage_watermark if run is not None else None
            return budget_table(month, spent, self.tenant_budgets(), scope, through)

        return self._cached("budgets", month, _scope_key(scope), compute=compute)

    # ------------------------------------------------------------------ SLOs

    def slo_reports(self, month: str, daily: bool = True) -> MonthReports | str:
        """The month's SLO reports for every tenant (cut to scope by callers), or why there are none.

        ``daily=False`` is enough for attainment (one report); the burn-down needs one per day.
        """
        full = self.slo_cache.peek(("slo-reports", month, True))
        if full is not None:
            return full
        return self.slo_cache.get(("slo-reports", month, daily), lambda: load_slo_reports(self, month, daily))

    def slo_attainment(self, month: str, scope: Scope) -> pd.DataFrame | str:
        reports = self.slo_reports(month, daily=False)
        return reports if isinstance(reports, str) else slo_view.attainment(reports, scope)

    def slo(self, month: str, scope: Scope, selected: bool = False) -> SloView | str:
        reports = self.slo_reports(month)
        return reports if isinstance(reports, str) else slo_view.view(self.store, reports, scope, selected)

    def warm(self) -> None:
        """Compute what is slow (the latest month's SLO reports) before anyone asks."""
        if self.settings.portal.slo_specs is None or self.settings.portal.slo_cache_ttl_s <= 0:
            return
        self.cache.clear()
        month = self.latest_month()
        if month:
            self.slo_cache.put(("slo-reports", month, True), load_slo_reports(self, month, True))


def load_budgets(settings) -> dict[str, Decimal]:
    """Tenant -> monthly budget from the chargeback tenancy file (``chargeback.tenancy``), if any."""
    section = getattr(settings, "chargeback", None)
    path = getattr(section, "tenancy", None) if section is not None else None
    if path is None:
        return {}
    from infermeter.chargeback.tenancy import load_tenancy

    return load_tenancy(path).budgets()


def load_slo_reports(data: PortalData, month: str, daily: bool = True) -> MonthReports | str:
    """The month's SLO reports, or why there are none (shown as "SLO data not available: <why>")."""
    specs = data.settings.portal.slo_specs
    if specs is None:
        return "no SLO specs are configured (portal.slo_specs)"
    try:
        slos = data.slo_cache.get(("slo-specs", str(specs)), lambda: slo_view.load_specs(specs))
        return slo_view.month_reports(data.store, slos, month, daily=daily)
    except InfermeterError as exc:
        log.warning("portal: SLO reports for %s unavailable: %s", month, exc)
        return str(exc)


def budget_table(
    month: str, spent: pd.DataFrame, budgets: dict[str, Decimal], scope: Scope, through: dt.datetime | dt.date | None
) -> pd.DataFrame:
    """Spend, budget, used %, a linear month-end forecast and a status per tenant in scope.

    ``through`` is how far the month's data goes (the run's usage watermark); the forecast
    extrapolates the spend to the whole month, and equals the spend once the month is over.
    """
    year, mon = (int(x) for x in month.split("-"))
    days = calendar.monthrange(year, mon)[1]
    first = dt.date(year, mon, 1)
    if isinstance(through, dt.datetime):
        through = through.date()
    elapsed = days if through is None else min(days, max(1, (through - first).days + 1))
    spend = {str(r["tenant"]): Decimal(str(r["cost"])) for r in spent.to_dict("records")}
    tenants = set(spend) | {t for t in budgets if scope is None or t in scope}
    tenants.discard(q.IDLE_TENANT)
    rows = []
    for tenant in sorted(tenants):
        cost = spend.get(tenant, Decimal("0"))
        forecast = (cost * days / elapsed).quantize(Decimal("0.01"))
        budget = budgets.get(tenant)
        used = float(cost / budget * 100) if budget else None
        if budget is None:
            status = "no budget"
        elif cost > budget:
            status = "over"
        elif forecast > budget:
            status = "at risk"
        else:
            status = "ok"
        rows.append({"tenant": tenant, "budget": budget, "spent": cost, "used_pct": used, "forecast": forecast, "status": status})
    df = pd.DataFrame(rows, columns=["tenant", "budget", "spent", "used_pct", "forecast", "status"])
    if not df.empty:
        df = df.sort_values("used_pct", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    return df
