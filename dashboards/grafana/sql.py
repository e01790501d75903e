"""ClickHouse SQL pieces shared by the dashboards: which ledger lines count, variable filters, money.

The ledger rules are chargeback's (docs/chargeback.md, "Ledger contract"): read the lines of each
month's latest *complete* run (the newest version whose latest status is ``complete``), GPU-hours
are the ``gpu`` and ``gpu_idle`` lines, ``cost`` is authoritative. The vocabulary is imported from
:mod:`infermeter.chargeback.conventions` so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from infermeter.chargeback import conventions as cb
from infermeter.dashboards.grafana import conventions as c

GPU_RESOURCES = f"('{cb.GPU}', '{cb.GPU_IDLE}')"

# Each month's latest complete run, as chargeback.queries.list_runs/run_info choose it.
LATEST_RUNS = f"""run_id IN (
    SELECT argMax(run_id, (run_version, run_started)) FROM (
        SELECT run_id, any(period_start) AS run_month,
               argMax(version, ifNull(finished_at, started_at)) AS run_version,
               argMax(status, ifNull(finished_at, started_at)) AS run_status,
               min(started_at) AS run_started
        FROM {c.CHARGEBACK_RUNS} GROUP BY run_id)
    WHERE run_status = '{cb.STATUS_COMPLETE}' GROUP BY run_month)"""

# Lines dated in the dashboard's range (a line is one day: period_start); adjustments correct an
# earlier month's bill and are left out of dated views, as in the reports' daily trend.
LEDGER_IN_RANGE = f"{LATEST_RUNS}\n  AND $__dateFilter(period_start)\n  AND method != '{cb.METHOD_ADJUSTMENT}'"


def any_of(column: str, var: str) -> str:
    """``$__conditionalAll(column IN (${var:singlequote}), $var)``: no filter when All is chosen."""
    return f"$__conditionalAll({column} IN (${{{var}:singlequote}}), ${var})"


def budgets_table(budgets: Mapping[str, Decimal]) -> str:
    """Tenants' monthly budgets as an inline table ``(tenant String, budget Decimal)``."""
    if not budgets:
        return "SELECT '' AS tenant, toDecimal128(0, 2) AS budget WHERE 0"
    rows = ", ".join(f"({_quote(t)}, toDecimal128('{Decimal(b)}', 2))" for t, b in sorted(budgets.items()))
    return f"SELECT tupleElement(b, 1) AS tenant, tupleElement(b, 2) AS budget FROM (SELECT arrayJoin([{rows}]) AS b)"


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


CURRENCY_UNITS = {"USD": "currencyUSD", "EUR": "currencyEUR", "GBP": "currencyGBP", "JPY": "currencyJPY",
                  "CHF": "currencyCHF", "CAD": "currencyCAD", "AUD": "currencyAUD", "INR": "currencyINR"}


def currency_unit(code: str) -> str:
    """Grafana's unit id for a currency code (a suffix for codes Grafana has no unit for)."""
    return CURRENCY_UNITS.get(code.upper(), f"suffix: {code.upper()}")
