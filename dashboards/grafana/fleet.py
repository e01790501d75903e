"""Fleet overview: traffic, errors and tokens from the sidecars' gateway metrics, GPUs held
(allocation heartbeats in ClickHouse) and busy (dcgm-exporter), cost today and SLOs at risk."""

from __future__ import annotations

from typing import Any

from infermeter.chargeback import conventions as cb
from infermeter.dashboards.grafana import common
from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana import variables as v
from infermeter.dashboards.grafana.panels import (
    Grid, Row, ch, column_link, hide_columns, prom, stat, table, timeseries,
)
from infermeter.dashboards.grafana.promql import dcgm_by_deployment, dcgm_sel, sel, sum_rate
from infermeter.dashboards.grafana.sql import LATEST_RUNS, any_of, currency_unit
from infermeter.slo import conventions as s

# The sidecars' gateway metrics are per tenant and model (no deployment: one gateway serves many);
# vLLM and Triton series carry the `deployment` target label.
GW = sel(**{c.GATEWAY_LABEL_MODEL: c.VAR_MODEL, c.GATEWAY_LABEL_TENANT: c.VAR_TENANT})
GW_5XX = sel('status_class="5xx"', **{c.GATEWAY_LABEL_MODEL: c.VAR_MODEL, c.GATEWAY_LABEL_TENANT: c.VAR_TENANT})
GW_ERRORS = sel('status_class=~"4xx|5xx"', **{c.GATEWAY_LABEL_MODEL: c.VAR_MODEL, c.GATEWAY_LABEL_TENANT: c.VAR_TENANT})
ENGINE = sel(**{c.LABEL_DEPLOYMENT: c.VAR_DEPLOYMENT})
DCGM = dcgm_sel(gpu_var=False)
KEY = f"{s.LABEL_SERVICE}, {s.LABEL_SLO}, {c.GATEWAY_LABEL_TENANT}"
AT_RISK = (
    f"max by ({KEY}) ({s.CURRENT_BURN_RATE_METRIC} > {c.AT_RISK_BURN_RATE:g})"
    f" or max by ({KEY}) ({s.PERIOD_ERROR_BUDGET_REMAINING_METRIC} < {c.AT_RISK_BUDGET_REMAINING:g})"
)
ALLOCATION = (
    f"FROM {c.GPU_ALLOCATION} FINAL\nWHERE $__timeFilter(ts)\n  AND {any_of('deployment', c.VAR_DEPLOYMENT)}"
)


ENGINES = f'{{__name__=~"{c.VLLM_NUM_REQUESTS_RUNNING}|{c.TRITON_SUCCESS}"}}'


def variables() -> list[v.Variable]:
    return [
        v.prometheus_datasource(),
        v.clickhouse_datasource(),
        v.prom_label_values(c.VAR_DEPLOYMENT, "Deployment", ENGINES, c.LABEL_DEPLOYMENT),
        v.prom_label_values(c.VAR_MODEL, "Model (gateway)", c.GATEWAY_REQUESTS, c.GATEWAY_LABEL_MODEL),
        v.prom_label_values(c.VAR_TENANT, "Tenant", c.GATEWAY_REQUESTS, c.GATEWAY_LABEL_TENANT),
    ]


def dashboard(*, currency: str = "USD") -> dict[str, Any]:
    money = currency_unit(currency)
    slo_link = (
        f"{c.dashboard_path(c.UID_SLOS)}?var-{c.VAR_SERVICE}=${{__data.fields.{s.LABEL_SERVICE}}}"
        f"&var-{c.VAR_SLO}=${{__data.fields.{s.LABEL_SLO}}}&${{__url_time_range}}"
    )
    cost_filter = f"{LATEST_RUNS}\n  AND {any_of('deployment', c.VAR_DEPLOYMENT)}\n  AND {any_of('tenant', c.VAR_TENANT)}"
    grid = Grid().add(
        Row("Now"),
        stat("Requests/s", [prom(sum_rate(c.GATEWAY_REQUESTS, GW))], unit="reqps", w=4),
        stat("5xx error ratio", [prom(f"{sum_rate(c.GATEWAY_REQUESTS, GW_5XX)} / {sum_rate(c.GATEWAY_REQUESTS, GW)}")],
             unit="percentunit", decimals=2, w=4, thresholds=((None, "green"), (0.01, "orange"), (0.05, "red"))),
        stat("Tokens/s", [prom(sum_rate(c.GATEWAY_TOKENS, GW))], w=4),
        stat(
            "GPUs held / busy",
            [
                ch(f"""
                    SELECT sum(interval_s * fraction) / 300 AS held
                    FROM {c.GPU_ALLOCATION} FINAL
                    WHERE ts > $__toTime - INTERVAL 5 MINUTE AND ts <= $__toTime
                      AND {any_of('deployment', c.VAR_DEPLOYMENT)}
                """),
                prom(f"count({c.DCGM_GPU_UTIL}{DCGM} > 0) or vector(0)", "busy"),
            ],
            w=4, graph=False,
            description="Held: GPUs allocated over the last 5 minutes (heartbeats x fraction, ClickHouse). "
                        "Busy: GPUs with non-zero utilisation at the last scrape (dcgm-exporter).",
        ),
        stat(
            "Cost today",
            [ch(f"""
                SELECT sum(cost) AS cost
                FROM {c.LEDGER}
                WHERE {cost_filter}
                  AND period_start = toDate($__toTime)
                  AND method != '{cb.METHOD_ADJUSTMENT}'
            """)],
            unit=money, decimals=2, w=4, graph=False,
            description="Ledger lines dated today (UTC) from this month's latest complete chargeback run: run "
                        "`infermeter chargeback run --month <this month>` on a schedule for a live figure.",
        ),
        stat(
            "SLOs at risk",
            [prom(f"count({AT_RISK}) or vector(0)")],
            w=4, graph=False, thresholds=((None, "green"), (1, "red")),
            description=f"Burn rate over {c.AT_RISK_BURN_RATE:g} or less than "
                        f"{c.AT_RISK_BUDGET_REMAINING:.0%} of the period's error budget left.",
        ),
        Row("Traffic"),
        timeseries(
            "Requests/s by deployment (engines)",
            [
                prom(sum_rate(c.VLLM_REQUEST_SUCCESS, ENGINE, c.LABEL_DEPLOYMENT), "{{deployment}} (vLLM)"),
                prom(sum_rate(c.TRITON_SUCCESS, ENGINE, c.LABEL_DEPLOYMENT), "{{deployment}} (Triton)"),
            ],
            unit="reqps", w=8, stack=True,
            description="Requests finished by the vLLM engines and answered by Triton, per deployment.",
        ),
        timeseries(
            "Requests/s by tenant (gateway)",
            [prom(sum_rate(c.GATEWAY_REQUESTS, GW, c.GATEWAY_LABEL_TENANT), "{{tenant}}")],
            unit="reqps", w=8, stack=True,
        ),
        timeseries(
            "Errors/s by status class (gateway)",
            [
                prom(sum_rate(c.GATEWAY_REQUESTS, GW_ERRORS, c.GATEWAY_LABEL_STATUS_CLASS), "{{status_class}}"),
            ],
            unit="reqps", w=8, stack=True,
        ),
        timeseries(
            "Tokens/s by kind (gateway)",
            [prom(sum_rate(c.GATEWAY_TOKENS, GW, c.GATEWAY_LABEL_TOKEN_KIND), "{{kind}}")],
            w=12, stack=True, description="`input` counts every input token, the cached ones included.",
        ),
        timeseries(
            "Engine tokens/s by deployment (vLLM)",
            [
                prom(sum_rate(c.VLLM_PROMPT_TOKENS, ENGINE, c.LABEL_DEPLOYMENT), "prompt {{deployment}}"),
                prom(sum_rate(c.VLLM_GENERATION_TOKENS, ENGINE, c.LABEL_DEPLOYMENT), "generation {{deployment}}"),
            ],
            w=12, stack=True,
        ),
        Row("GPUs"),
        timeseries(
            "GPUs held by deployment",
            [ch(f"""
                SELECT $__timeInterval(ts) AS time, deployment, sum(interval_s * fraction) / $__interval_s AS gpus_held
                {ALLOCATION}
                GROUP BY time, deployment
                ORDER BY time
            """)],
            w=12, stack=True, interval="1m",
            description="GPU-seconds held per interval (allocation heartbeats x fraction) over the interval: "
                        "the average number of GPUs held.",
        ),
        timeseries(
            "GPUs busy by deployment",
            [
                prom(f"count by ({c.LABEL_DEPLOYMENT}) ({dcgm_by_deployment(c.DCGM_GPU_UTIL + DCGM)} > 0)",
                     "busy {{deployment}}"),
                prom(f"sum by ({c.LABEL_DEPLOYMENT}) ({dcgm_by_deployment(c.DCGM_GPU_UTIL + DCGM)}) / 100",
                     "busy GPU-equivalents {{deployment}}"),
            ],
            w=12,
            description="GPUs with non-zero utilisation, and the sum of utilisation in GPU-equivalents.",
        ),
        Row("SLOs and cost"),
        table(
            "At-risk SLOs",
            [
                prom(f"max by ({KEY}) ({s.CURRENT_BURN_RATE_METRIC}) and on ({KEY}) ({AT_RISK})", table=True),
                prom(f"min by ({KEY}) ({s.PERIOD_ERROR_BUDGET_REMAINING_METRIC}) and on ({KEY}) ({AT_RISK})",
                     table=True),
            ],
            w=12, h=9,
            transformations=[
                {"id": "merge", "options": {}},
                hide_columns("Time"),
                {"id": "organize", "options": {"renameByName": {"Value #A": "burn rate",
                                                                "Value #B": "budget remaining"}}},
            ],
            overrides=[column_link(s.LABEL_SLO, "Open the SLO", slo_link),
                       {"matcher": {"id": "byName", "options": "budget remaining"},
                        "properties": [{"id": "unit", "value": "percentunit"}]}],
        ),
        timeseries(
            "Cost per day by deployment",
            [ch(f"""
                SELECT toDateTime(period_start) AS time, deployment, sum(cost) AS cost
                FROM {c.LEDGER}
                WHERE {cost_filter}
                  AND $__dateFilter(period_start)
                  AND method != '{cb.METHOD_ADJUSTMENT}'
                GROUP BY time, deployment
                ORDER BY time
            """)],
            unit=money, w=12, h=9, draw="bars", stack=True,
        ),
    )
    return common.build(
        c.UID_FLEET,
        description="The fleet at a glance: traffic, errors, tokens, GPUs held and busy, cost today, SLOs at risk.",
        variables=variables(),
        grid=grid,
        tags=("fleet",),
    )
