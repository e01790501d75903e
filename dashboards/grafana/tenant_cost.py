"""Tenant cost (ClickHouse): GPU-hours, tokens and cost by tenant and model, top tenants, idle
share and budget used, from the chargeback ledger (latest complete run of each month), the usage
table (FINAL: a duplicate event counts once) and GPU allocation heartbeats."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from infermeter.chargeback import conventions as cb
from infermeter.dashboards.grafana import common
from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana import variables as v
from infermeter.dashboards.grafana.panels import (
    Grid, Row, bargauge, ch, column_unit, stat, table, timeseries,
)
from infermeter.dashboards.grafana.sql import (
    GPU_RESOURCES, LATEST_RUNS, LEDGER_IN_RANGE, any_of, budgets_table, currency_unit,
)

LEDGER_FILTERS = (
    f"{LEDGER_IN_RANGE}\n  AND {any_of('tenant', c.VAR_TENANT)}\n  AND {any_of('deployment', c.VAR_DEPLOYMENT)}"
    f"\n  AND {any_of('model', c.VAR_MODEL)}"
)
USAGE_FILTERS = (
    f"$__timeFilter(ts)\n  AND {any_of('tenant', c.VAR_TENANT)}\n  AND {any_of('deployment', c.VAR_DEPLOYMENT)}"
    f"\n  AND {any_of('model', c.VAR_MODEL)}"
)
GPU_HOURS = f"sumIf(quantity, resource IN {GPU_RESOURCES})"
IDLE_HOURS = f"sumIf(quantity, resource = '{cb.GPU_IDLE}')"
IDLE_SHARE = f"toFloat64({IDLE_HOURS}) / nullIf(toFloat64({GPU_HOURS}), 0)"
TOKENS = "input_tokens + output_tokens"


def variables() -> list[v.Variable]:
    def ledger_values(column: str) -> str:
        return f"SELECT DISTINCT {column} FROM {c.LEDGER} WHERE $__dateFilter(period_start) ORDER BY {column}"

    return [
        v.clickhouse_datasource(),
        v.clickhouse_values(c.VAR_TENANT, "Tenant", ledger_values("tenant")),
        v.clickhouse_values(c.VAR_DEPLOYMENT, "Deployment", ledger_values("deployment")),
        v.clickhouse_values(c.VAR_MODEL, "Model", ledger_values("model")),
    ]


def dashboard(*, currency: str = "USD", budgets: Mapping[str, Decimal] | None = None) -> dict[str, Any]:
    money = currency_unit(currency)
    budgets = dict(budgets or {})
    grid = Grid().add(
        Row("Totals in range"),
        stat("Cost", [ch(f"SELECT sum(cost) AS cost\nFROM {c.LEDGER}\nWHERE {LEDGER_FILTERS}")],
             unit=money, decimals=2, w=4, graph=False),
        stat("GPU-hours", [ch(f"SELECT {GPU_HOURS} AS gpu_hours\nFROM {c.LEDGER}\nWHERE {LEDGER_FILTERS}")],
             decimals=1, w=4, graph=False),
        stat("Tokens", [ch(f"SELECT sum({TOKENS}) AS tokens\nFROM {c.USAGE} FINAL\nWHERE {USAGE_FILTERS}")],
             w=4, graph=False),
        stat(
            "Idle share",
            [ch(f"SELECT {IDLE_SHARE} AS idle_share\nFROM {c.LEDGER}\nWHERE {LEDGER_FILTERS}")],
            unit="percentunit", w=4, graph=False,
            thresholds=((None, "green"), (0.3, "orange"), (0.6, "red")),
            description="Idle GPU-hours (held, no requests) over all GPU-hours of the selection.",
        ),
        stat(
            "Cost per 1M tokens",
            [ch(f"""
                SELECT toFloat64(l.cost) * 1000000 / nullIf(u.tokens, 0) AS cost_per_1m_tokens
                FROM (SELECT sum(cost) AS cost FROM {c.LEDGER} WHERE {LEDGER_FILTERS}) AS l
                CROSS JOIN (SELECT sum({TOKENS}) AS tokens FROM {c.USAGE} FINAL WHERE {USAGE_FILTERS}) AS u
            """)],
            unit=money, decimals=4, w=4, graph=False,
        ),
        stat(
            "Tenants",
            [ch(f"SELECT uniqExactIf(tenant, tenant != '{cb.IDLE_TENANT}') AS tenants\nFROM {c.LEDGER}\nWHERE {LEDGER_FILTERS}")],
            w=4, graph=False,
        ),
        Row("Tenants"),
        bargauge(
            "Top tenants by cost",
            [ch(f"""
                SELECT tenant, sum(cost) AS cost
                FROM {c.LEDGER}
                WHERE {LEDGER_FILTERS}
                GROUP BY tenant
                ORDER BY cost DESC, tenant
                LIMIT 10
            """)],
            unit=money, w=8, h=10,
        ),
        bargauge(
            "Budget used (month of the range's end)",
            [ch(f"""
                SELECT b.tenant AS tenant, toFloat64(ifNull(m.cost, 0)) / nullIf(toFloat64(b.budget), 0) AS budget_used
                FROM ({budgets_table(budgets)}) AS b
                LEFT JOIN (
                    SELECT tenant, sum(cost) AS cost
                    FROM {c.LEDGER}
                    WHERE {LATEST_RUNS}
                      AND run_id IN (SELECT run_id FROM {c.CHARGEBACK_RUNS}
                                     WHERE period_start = toStartOfMonth($__toTime))
                    GROUP BY tenant
                ) AS m ON m.tenant = b.tenant
                WHERE {any_of('b.tenant', c.VAR_TENANT)}
                ORDER BY budget_used DESC, tenant
            """)],
            unit="percentunit", w=8, h=10, max_value=1,
            thresholds=((None, "green"), (0.8, "orange"), (1, "red")),
            description="The month's bill so far (latest complete run, adjustments included) over the tenant's "
                        "monthly budget from the tenancy file given to `infermeter dashboards generate`.",
        ),
        bargauge(
            "Idle share by deployment",
            [ch(f"""
                SELECT deployment, {IDLE_SHARE} AS idle_share
                FROM {c.LEDGER}
                WHERE {LEDGER_FILTERS}
                GROUP BY deployment
                HAVING {GPU_HOURS} > 0
                ORDER BY idle_share DESC, deployment
            """)],
            unit="percentunit", w=8, h=10, max_value=1,
            thresholds=((None, "green"), (0.3, "orange"), (0.6, "red")),
        ),
        timeseries(
            "Daily cost by tenant (top 10)",
            [ch(f"""
                SELECT toDateTime(period_start) AS time, tenant, sum(cost) AS cost
                FROM {c.LEDGER}
                WHERE {LEDGER_FILTERS}
                  AND tenant IN (
                    SELECT tenant FROM {c.LEDGER} WHERE {LEDGER_FILTERS}
                    GROUP BY tenant ORDER BY sum(cost) DESC LIMIT 10)
                GROUP BY time, tenant
                ORDER BY time
            """)],
            unit=money, w=12, draw="bars", stack=True,
        ),
        timeseries(
            "Tokens by model",
            [ch(f"""
                SELECT $__timeInterval(ts) AS time, model, sum({TOKENS}) AS tokens
                FROM {c.USAGE} FINAL
                WHERE {USAGE_FILTERS}
                GROUP BY time, model
                ORDER BY time
            """)],
            w=12, draw="bars", stack=True,
        ),
        Row("By tenant and model"),
        table(
            "Cost and GPU-hours by tenant and model",
            [ch(f"""
                SELECT l.tenant AS tenant, l.model AS model, l.gpu_hours AS gpu_hours,
                       l.idle_gpu_hours AS idle_gpu_hours, u.input_tokens AS input_tokens,
                       u.cached_input_tokens AS cached_input_tokens, u.output_tokens AS output_tokens,
                       l.cost AS cost,
                       toFloat64(l.cost) * 1000000 / nullIf(u.input_tokens + u.output_tokens, 0) AS cost_per_1m_tokens
                FROM (
                    SELECT tenant, model, {GPU_HOURS} AS gpu_hours, {IDLE_HOURS} AS idle_gpu_hours, sum(cost) AS cost
                    FROM {c.LEDGER}
                    WHERE {LEDGER_FILTERS}
                    GROUP BY tenant, model
                ) AS l
                LEFT JOIN (
                    SELECT tenant, model, sum(input_tokens) AS input_tokens,
                           sum(cached_input_tokens) AS cached_input_tokens, sum(output_tokens) AS output_tokens
                    FROM {c.USAGE} FINAL
                    WHERE {USAGE_FILTERS}
                    GROUP BY tenant, model
                ) AS u ON u.tenant = l.tenant AND u.model = l.model
                ORDER BY cost DESC, tenant, model
                LIMIT 500
            """)],
            w=24, h=10,
            overrides=[column_unit("cost", money), column_unit("cost_per_1m_tokens", money),
                       column_unit("gpu_hours", "none"), column_unit("idle_gpu_hours", "none")],
        ),
        bargauge(
            "Cost by model",
            [ch(f"""
                SELECT model, sum(cost) AS cost
                FROM {c.LEDGER}
                WHERE {LEDGER_FILTERS}
                GROUP BY model
                ORDER BY cost DESC, model
            """)],
            unit=money, w=12,
        ),
        timeseries(
            "GPU-hours per day: busy and idle",
            [ch(f"""
                SELECT toDateTime(period_start) AS time, resource, sum(quantity) AS gpu_hours
                FROM {c.LEDGER}
                WHERE {LEDGER_FILTERS}
                  AND resource IN {GPU_RESOURCES}
                GROUP BY time, resource
                ORDER BY time
            """)],
            w=12, draw="bars", stack=True,
        ),
    )
    return common.build(
        c.UID_TENANT_COST,
        description="Chargeback by tenant and model: cost, GPU-hours, tokens, idle share, budgets.",
        variables=variables(),
        grid=grid,
        time_from="now/M",
        time_to="now",
        refresh="",
        tags=("cost", "chargeback"),
    )
