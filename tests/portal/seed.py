"""Test data for the portal: a complete chargeback run, its ledger lines, usage and allocation rows.

Rows are inserted directly (no engine run), following docs/chargeback.md "Ledger contract".
Each tenant's figures are distinctive so a test can tell whether one tenant's numbers leaked
into another's response: the daily cost of ``globex`` is 777.77. The month is the last complete
calendar month (raw samples have a 62-day TTL, so the alert samples must be recent).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from infermeter.chargeback.ledger import SCHEMA as LEDGER_SCHEMA
from infermeter.ingest.schemas import CHARGEBACK_RUNS as RUNS_SCHEMA

UTC = dt.timezone.utc


def _month_before(first: dt.date) -> dt.date:
    return (first - dt.timedelta(days=1)).replace(day=1)


_THIS = dt.datetime.now(UTC).date().replace(day=1)
_LAST = _month_before(_THIS)
MONTH = f"{_LAST:%Y-%m}"  # the month with a complete run for every tenant
PREVIOUS = f"{_month_before(_LAST):%Y-%m}"  # a complete run for acme only
CURRENT = f"{_THIS:%Y-%m}"  # a failed run
DAYS = (_THIS - _LAST).days
FIRST_DAY = _LAST
RUN_ID = f"run-{MONTH}-v1"
CURRENCY = "USD"

# tenant -> (deployment, model, gpu_model, daily gpu cost, daily idle cost, daily gpu-hours, tokens/day (in, cached, out))
TENANTS: dict[str, tuple[str, str, str, str, str, str, tuple[int, int, int]]] = {
    "acme": ("llama-shared", "llama-3-70b", "NVIDIA H100 80GB HBM3", "10.00", "1.00", "2.5", (1000, 100, 500)),
    "beta": ("llama-shared", "llama-3-70b", "NVIDIA H100 80GB HBM3", "20.00", "2.00", "5.0", (2000, 0, 800)),
    "globex": ("h100-pool-7", "mixtral-8x22b", "NVIDIA H100 80GB HBM3", "777.77", "0.00", "96.0", (5555, 55, 3333)),
}
# beta also uses a token-priced model at list price
TOKEN_LINES = {"beta": ("gateway-ext", "gpt-4o-mini", "3.00", (7000, 0, 1200))}


def month_total(tenant: str) -> Decimal:
    _, _, _, gpu, idle, _, _ = TENANTS[tenant]
    total = (Decimal(gpu) + Decimal(idle)) * DAYS
    if tenant in TOKEN_LINES:
        total += Decimal(TOKEN_LINES[tenant][2]) * DAYS
    return total


def shown(amount: Decimal) -> str:
    """How the portal shows an amount: ``24,110.87 USD``."""
    return f"{amount:,.2f} USD"


SECRET_MARKERS = {"globex": ("globex", f"{month_total('globex'):.2f}", f"{month_total('globex'):,.2f}", "mixtral-8x22b", "h100-pool-7")}





def _line(run_id, day, tenant, deployment, model, resource, gpu_model, quantity, unit, price, cost, method, tokens=(0, 0, 0), requests=0):
    return {
        "run_id": run_id,
        "billing_period": day.replace(day=1),
        "period_start": day,
        "period_end": day + dt.timedelta(days=1),
        "tenant": tenant,
        "deployment": deployment,
        "model": model,
        "resource": resource,
        "gpu_model": gpu_model,
        "mig_profile": "",
        "quantity": Decimal(quantity),
        "unit": unit,
        "unit_price": Decimal(price),
        "cost": Decimal(cost),
        "currency": CURRENCY,
        "method": method,
        "requests": requests,
        "input_tokens": tokens[0],
        "cached_input_tokens": tokens[1],
        "output_tokens": tokens[2],
        "issue": "",
        "adjusts_run_id": "",
    }


def ledger_rows(run_id: str = RUN_ID, month: str = MONTH) -> list[dict]:
    year, mon = (int(x) for x in month.split("-"))
    first = dt.date(year, mon, 1)
    days = ((first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - first).days
    rows = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        for tenant, (dep, model, gpu_model, gpu_cost, idle_cost, hours, tokens) in TENANTS.items():
            method = "dedicated" if dep == "h100-pool-7" else "shared"
            rows.append(_line(run_id, day, tenant, dep, model, "gpu", gpu_model, hours, "GPU-hour", "4", gpu_cost, method, tokens, requests=10))
            if Decimal(idle_cost):
                rows.append(_line(run_id, day, tenant, dep, model, "gpu_idle", gpu_model, "0.25", "GPU-hour", "4", idle_cost, "idle-proportional"))
        for tenant, (dep, model, cost, tokens) in TOKEN_LINES.items():
            rows.append(_line(run_id, day, tenant, dep, model, "input_tokens", "", "0.007", "1M tokens", "0.15", cost, "list-price", tokens, requests=7))
    return rows


def insert_run(store, run_id: str, month: str, status: str = "complete", version: int = 1) -> None:
    year, mon = (int(x) for x in month.split("-"))
    start = dt.date(year, mon, 1)
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    started = dt.datetime(end.year, end.month, 1, 2, 0, tzinfo=UTC)
    row = {
        "run_id": run_id,
        "period_start": start,
        "period_end": end,
        "version": version,
        "status": status,
        "started_at": started,
        "finished_at": started + dt.timedelta(minutes=3),
        "usage_watermark": dt.datetime(end.year, end.month, 1, tzinfo=UTC),
        "notes": "",
    }
    store.insert_arrow("chargeback_runs", pa.Table.from_pylist([row], schema=RUNS_SCHEMA))


def usage_rows(month: str = MONTH, per_tenant: int = 20) -> pa.Table:
    from infermeter.ingest import schemas

    year, mon = (int(x) for x in month.split("-"))
    base = dt.datetime(year, mon, 1)
    rows = []
    for tenant, (dep, model, *_rest) in TENANTS.items():
        for i in range(per_tenant):
            rows.append(
                {
                    "event_id": f"{tenant}-{month}-{i}",
                    "ts": base + dt.timedelta(hours=i * 7),
                    "tenant": tenant,
                    "api_key_id": f"key-{tenant}",
                    "model": model,
                    "deployment": dep,
                    "instance": f"{dep}-0",
                    "input_tokens": 100,
                    "cached_input_tokens": 10,
                    "output_tokens": 50,
                    "ttft_ms": 120.0,
                    "duration_ms": 900.0,
                    "status_code": 200 if i % 10 else 500,
                    "error_type": "" if i % 10 else "server_error",
                    "attributes": [],
                    "source": "test",
                }
            )
    return pa.Table.from_pylist(rows, schema=schemas.USAGE)


def allocation_rows(month: str = MONTH) -> pa.Table:
    from infermeter.ingest import schemas

    year, mon = (int(x) for x in month.split("-"))
    base = dt.datetime(year, mon, 1)
    rows = [
        {
            "ts": base + dt.timedelta(minutes=m),
            "interval_s": 60.0,
            "deployment": dep,
            "instance": f"{dep}-0",
            "gpu_uuid": f"GPU-{dep}",
            "gpu_model": "NVIDIA H100 80GB HBM3",
            "mig_profile": "",
            "fraction": 1.0,
            "source": "test",
        }
        for dep in ("llama-shared", "h100-pool-7")
        for m in range(0, 24 * 60, 10)
    ]
    return pa.Table.from_pylist(rows, schema=schemas.GPU_ALLOCATION)


def alert_rows(month: str = MONTH) -> tuple[pa.Table, pa.Table]:
    """Prometheus' ALERTS series as scraped into the store: acme fires 30 min on the 3rd, globex 2 h on the 5th."""
    from infermeter.ingest import schemas

    year, mon = (int(x) for x in month.split("-"))
    series, samples = [], []
    for sid, tenant, day, minutes in ((9001, "acme", 3, 30), (9002, "globex", 5, 120)):
        labels = {"alertname": "TenantAvailability", "alertstate": "firing", "severity": "page",
                  "sloth_slo": "tenant-availability", "sloth_service": "llm-gateway", "tenant": tenant}  # fmt: skip
        start = dt.datetime(year, mon, day, 10, 0, tzinfo=UTC)
        series.append({"series_id": sid, "metric": "ALERTS", "labels": list(labels.items()), "source": "generic",
                       "target": "prometheus", "first_seen": start, "last_seen": start})  # fmt: skip
        samples += [{"series_id": sid, "ts": start + dt.timedelta(minutes=m), "value": 1.0, "delta": 0.0} for m in range(minutes)]
    return pa.Table.from_pylist(series, schema=schemas.SERIES), pa.Table.from_pylist(samples, schema=schemas.SAMPLES)


def seed(store) -> None:
    """Last month (complete run), the month before (complete, acme only), this month (failed run)."""
    insert_run(store, RUN_ID, MONTH)
    store.insert_arrow("ledger", pa.Table.from_pylist(ledger_rows(), schema=LEDGER_SCHEMA))
    insert_run(store, f"run-{PREVIOUS}-v1", PREVIOUS)
    before = [r for r in ledger_rows(f"run-{PREVIOUS}-v1", PREVIOUS) if r["tenant"] == "acme"]
    store.insert_arrow("ledger", pa.Table.from_pylist(before, schema=LEDGER_SCHEMA))
    insert_run(store, f"run-{CURRENT}-v1", CURRENT, status="failed")
    store.insert_arrow("usage", usage_rows())
    store.insert_arrow("gpu_allocation", allocation_rows())
    series, samples = alert_rows()
    store.insert_arrow("series", series)
    store.insert_arrow("samples", samples)
