"""ClickHouse rows for the dashboards' SQL: gateway usage, GPU allocation heartbeats, chargeback
runs and ledger lines (the chargeback ledger contract of docs/chargeback.md), generated in SQL
relative to a fixed end time.

Runs: February has two complete runs (v1's lines are kept, with ten times the cost, so a query
that forgets to pick the latest run gives a visibly wrong total); March has a complete v1 and a
v2 still ``running`` (its lines must not count). Lines are daily; one March line adjusts February.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from infermeter.ingest.store import Store

END = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.timezone.utc)
TENANTS = ("acme", "globex", "initech")
BUDGETS = {"acme": Decimal("2000"), "globex": Decimal("500"), "initech": Decimal("150"), "umbrella": Decimal("75")}

# (deployment, model, tenants, GPU-hours busy per tenant-day, idle per day, price per GPU-hour, idle method)
GPU_DEPLOYMENTS = (
    ("llama-8b", "llama-3.1-8b", TENANTS, 6.0, 4.0, "2.50", "idle-proportional"),
    ("qwen-32b", "qwen-2.5-32b", ("acme",), 30.0, 10.0, "2.50", "idle-dedicated"),
    ("triton-embed", "bge-large", ("globex", "initech"), 3.0, 9.0, "1.20", "idle-separate"),
)
RUNS = (  # run_id, month start, version, status, started, finished, cost factor, last day covered
    ("feb-v1", dt.date(2025, 2, 1), 1, "complete", dt.datetime(2025, 3, 1, 2), dt.datetime(2025, 3, 1, 3), 10, dt.date(2025, 2, 28)),
    ("feb-v2", dt.date(2025, 2, 1), 2, "complete", dt.datetime(2025, 3, 2, 2), dt.datetime(2025, 3, 2, 3), 1, dt.date(2025, 2, 28)),
    ("mar-v1", dt.date(2025, 3, 1), 1, "complete", dt.datetime(2025, 3, 14, 1), dt.datetime(2025, 3, 14, 2), 1, dt.date(2025, 3, 14)),
    ("mar-v2", dt.date(2025, 3, 1), 2, "running", dt.datetime(2025, 3, 14, 11), None, 3, dt.date(2025, 3, 14)),
)


def _q(text: str) -> str:
    return "'" + text.replace("'", "\\'") + "'"


def _ledger_lines() -> list[tuple]:
    rows = []
    for run_id, month, _v, _s, started, _f, factor, last in RUNS:
        day = month
        while day <= last:
            for deployment, model, tenants, busy, idle, price, idle_method in GPU_DEPLOYMENTS:
                unit_price = Decimal(price)
                for k, tenant in enumerate(tenants):
                    hours = Decimal(str(busy * (1 + 0.1 * k) * (1 + (day.day % 5) / 10)))
                    method = "dedicated" if len(tenants) == 1 else "shared"
                    rows.append((run_id, day, tenant, deployment, model, "gpu", hours, "GPU-hour", unit_price,
                                 (hours * unit_price * factor).quantize(Decimal("0.01")), method))
                idle_hours = Decimal(str(idle))
                owners = ("(idle)",) if idle_method == "idle-separate" else tenants
                for tenant in owners:
                    share = idle_hours / len(owners)
                    rows.append((run_id, day, tenant, deployment, model, "gpu_idle", share, "GPU-hour", unit_price,
                                 (share * unit_price * factor).quantize(Decimal("0.01")), idle_method))
            for tenant, m_in, m_out in (("acme", "1.8", "0.4"), ("initech", "0.6", "0.2")):
                for resource, qty, price in (("input_tokens", m_in, "2.50"), ("output_tokens", m_out, "10.00")):
                    q = Decimal(qty)
                    rows.append((run_id, day, tenant, "openai-proxy", "gpt-4o", resource, q, "1M tokens",
                                 Decimal(price), (q * Decimal(price) * factor).quantize(Decimal("0.01")), "list-price"))
            day += dt.timedelta(days=1)
        if run_id == "mar-v1":  # late February events billed in March
            rows.append((run_id, dt.date(2025, 2, 27), "globex", "llama-8b", "llama-3.1-8b", "gpu", Decimal("1.5"),
                         "GPU-hour", Decimal("2.50"), Decimal("3.75"), "adjustment"))
    return rows


def _ledger_rows() -> list[str]:
    out = []
    for run_id, day, tenant, deployment, model, resource, qty, unit, price, cost, method in _ledger_lines():
        out.append(
            f"({_q(run_id)}, '{day}', '{day + dt.timedelta(days=1)}', {_q(tenant)}, {_q(deployment)}, {_q(model)}, "
            f"{_q(resource)}, {qty}, {_q(unit)}, {price}, {cost}, 'USD', {_q(method)})"
        )
    return out


def expected_cost(start: dt.date, end: dt.date, tenant: str | None = None) -> Decimal:
    """Sum of the latest complete runs' non-adjustment lines dated in [start, end] (the oracle)."""
    latest = {"feb-v2", "mar-v1"}
    total = Decimal(0)
    for run_id, day, t, _d, _m, _r, _q, _u, _p, cost, method in _ledger_lines():
        if run_id in latest and start <= day <= end and method != "adjustment" and (tenant is None or t == tenant):
            total += cost
    return total


def load(store: Store) -> None:
    """Insert the rows into a migrated store (its own database)."""
    end = END.strftime("%Y-%m-%d %H:%M:%S")
    # ~30k gateway requests over the last three days, with 2% duplicated event ids.
    store.command(f"""
        INSERT INTO usage (event_id, ts, tenant, api_key_id, model, deployment, instance, input_tokens,
                           cached_input_tokens, output_tokens, ttft_ms, duration_ms, status_code, error_type,
                           attributes, source)
        SELECT concat('ev-', toString(if(number % 50 = 0, number - 1, number))) AS event_id,
               toDateTime64('{end}', 3, 'UTC') - toIntervalMillisecond(number * 8640) AS ts,
               ['acme', 'globex', 'initech', 'umbrella'][number % 4 + 1] AS tenant,
               concat('key-', toString(number % 7)),
               ['llama-3.1-8b', 'qwen-2.5-32b', 'bge-large', 'gpt-4o'][intDiv(number, 4) % 4 + 1] AS model,
               ['llama-8b', 'qwen-32b', 'triton-embed', 'openai-proxy'][intDiv(number, 4) % 4 + 1],
               'i-0', 200 + number % 900, (number % 900) / 3, 50 + number % 400, 80 + number % 300,
               900 + number % 9000, if(number % 97 = 0, 500, 200), if(number % 97 = 0, 'server_error', ''),
               map(), 'test'
        FROM numbers(30000)""")
    # Heartbeats every 60 s for two days: five whole GPUs and one MIG slice (3/7 of a GPU).
    store.command(f"""
        INSERT INTO gpu_allocation (ts, interval_s, deployment, instance, gpu_uuid, gpu_model, mig_profile, fraction, source)
        SELECT toDateTime64('{end}', 3, 'UTC') - toIntervalSecond(60 * intDiv(number, 6)) AS ts, 60,
               ['llama-8b', 'llama-8b', 'qwen-32b', 'qwen-32b', 'triton-embed', 'triton-embed'][number % 6 + 1],
               ['llama-8b-0', 'llama-8b-1', 'qwen-32b-0', 'qwen-32b-0', 'triton-embed-0', 'triton-embed-0'][number % 6 + 1],
               concat('GPU-', toString(number % 6)), 'NVIDIA H100 80GB HBM3',
               if(number % 6 = 5, '3g.40gb', ''), if(number % 6 = 5, 3 / 7, 1), 'config'
        FROM numbers(6 * 2 * 1440)""")
    runs = ", ".join(
        f"({_q(r)}, '{m}', '{(m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)}', {v}, {_q(s)}, "
        f"'{st:%Y-%m-%d %H:%M:%S}', {'NULL' if f is None else repr(f.strftime('%Y-%m-%d %H:%M:%S'))}, NULL, '')"
        for r, m, v, s, st, f, _factor, _last in RUNS
    )
    store.command(
        "INSERT INTO chargeback_runs (run_id, period_start, period_end, version, status, started_at, finished_at, "
        f"usage_watermark, notes) VALUES {runs}"
    )
    store.command(
        "INSERT INTO ledger (run_id, period_start, period_end, tenant, deployment, model, resource, quantity, unit, "
        "unit_price, cost, currency, method) VALUES " + ", ".join(_ledger_rows())
    )
