"""Seed data for the report, query and FOCUS tests (no tests here): ledger lines, runs, allocation
heartbeats and utilisation samples written straight into the store, with the totals they add up to."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from infermeter.chargeback.ledger import SCHEMA as _LEDGER
from infermeter.ingest.schemas import CHARGEBACK_RUNS as _RUNS
from infermeter.ingest import schemas

UTC = dt.timezone.utc


def _previous_month(today: dt.date) -> dt.date:
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


# Last month: recent enough that the minute rollup of the telemetry is still kept (its TTL).
MONTH_START = _previous_month(dt.datetime.now(UTC).date())
MONTH_END = (MONTH_START + dt.timedelta(days=32)).replace(day=1)
MONTH = f"{MONTH_START:%Y-%m}"
RUN = f"run-{MONTH}-v2"
STALE_RUN = f"run-{MONTH}-v1"  # an older complete run: its lines must never show
RUNNING_RUN = f"run-{MONTH}-v3"  # newer but not complete: ignored

D = Decimal

# (day offset in the month, tenant, deployment, model, resource, quantity, unit, unit_price, cost, method,
#  requests, input, cached, output, gpu_model, issue, adjusts_run_id)
LINES = [
    (0, "acme", "llama-shared", "llama-70b", "gpu", "10.5", "GPU-hour", "2.5", "26.25", "shared", 100, 50000, 10000, 20000, "H100", "", ""),
    (0, "globex", "llama-shared", "llama-70b", "gpu", "3.5", "GPU-hour", "2.5", "8.75", "shared", 40, 20000, 0, 5000, "H100", "", ""),
    (0, "acme", "llama-shared", "llama-70b", "gpu_idle", "1.5", "GPU-hour", "2.5", "3.75", "idle-proportional", 0, 0, 0, 0, "H100", "", ""),
    (0, "globex", "llama-shared", "llama-70b", "gpu_idle", "0.5", "GPU-hour", "2.5", "1.25", "idle-proportional", 0, 0, 0, 0, "H100", "", ""),
    (0, "acme", "acme-dedicated", "mistral-7b", "gpu", "20", "GPU-hour", "1.2", "24.00", "dedicated", 500, 100000, 0, 80000, "A100", "", ""),
    (0, "acme", "acme-dedicated", "mistral-7b", "gpu_idle", "4", "GPU-hour", "1.2", "4.80", "idle-dedicated", 0, 0, 0, 0, "A100", "", ""),
    (0, "globex", "gpt-api", "gpt-4o", "input_tokens", "0.8", "1M tokens", "2.5", "2.00", "list-price", 200, 1000000, 200000, 300000, "", "", ""),
    (0, "globex", "gpt-api", "gpt-4o", "cached_input_tokens", "0.2", "1M tokens", "1.25", "0.25", "list-price", 0, 0, 0, 0, "", "", ""),
    (0, "globex", "gpt-api", "gpt-4o", "output_tokens", "0.3", "1M tokens", "10", "3.00", "list-price", 0, 0, 0, 0, "", "", ""),
    (1, "acme", "llama-shared", "llama-70b", "gpu", "2.0", "GPU-hour", "2.5", "5.00", "shared", 20, 10000, 0, 4000, "H100", "", ""),
    (1, "(idle)", "llama-shared", "llama-70b", "gpu_idle", "2.0", "GPU-hour", "2.5", "5.00", "idle-separate", 0, 0, 0, 0, "H100", "", ""),
    (1, "mystery", "llama-shared", "llama-70b", "gpu", "0.4", "GPU-hour", "2.5", "1.00", "shared", 3, 300, 0, 100, "H100", "unknown-tenant", ""),
    # late usage of the month before, corrected in this month's bill
    (-2, "acme", "llama-shared", "llama-70b", "gpu", "0.2", "GPU-hour", "2.5", "0.50", "adjustment", 2, 1000, 0, 500, "H100", "", "run-previous-v1"),
    # the dedicated GPU's price changed on the 20th
    (19, "acme", "acme-dedicated", "mistral-7b", "gpu", "10", "GPU-hour", "1.5", "15.00", "dedicated", 100, 20000, 0, 10000, "A100", "", ""),
]

TOTAL = {"acme": D("79.30"), "globex": D("15.25"), "(idle)": D("5.00"), "mystery": D("1.00")}
FLEET_TOTAL = D("100.55")
ACME_GPU_HOURS = D("48.2")
ACME_IDLE_GPU_HOURS = D("5.5")
ACME_TOKENS = {"input": 181000, "cached_input": 10000, "output": 114500, "requests": 722}



def ledger_table(run_id: str, lines, month_start: dt.date = MONTH_START, currency: str = "USD") -> pa.Table:
    rows = []
    for (day, tenant, dep, model, res, qty, unit, price, cost, method, req, inp, cached, out, gpu, issue, adj) in lines:
        start = month_start + dt.timedelta(days=day)
        rows.append(
            {
                "run_id": run_id, "period_start": start, "period_end": start + dt.timedelta(days=1),
                "billing_period": month_start, "tenant": tenant, "deployment": dep,
                "model": model, "resource": res, "quantity": D(qty).quantize(D("1e-9")), "unit": unit,
                "unit_price": D(price).quantize(D("1e-12")), "cost": D(cost).quantize(D("0.01")),
                "currency": currency, "method": method, "gpu_model": gpu, "mig_profile": "",
                "requests": req, "input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
                "issue": issue, "adjusts_run_id": adj,
            }
        )
    return pa.Table.from_pylist(rows, schema=_LEDGER)




def add_run(store, run_id: str, version: int, status: str, started: dt.datetime, month_start=MONTH_START,
            month_end=MONTH_END, finished: dt.datetime | None = None) -> None:
    store.insert_arrow(
        "chargeback_runs",
        pa.Table.from_pylist(
            [{"run_id": run_id, "period_start": month_start, "period_end": month_end, "version": version,
              "status": status, "started_at": started, "finished_at": finished,
              "usage_watermark": finished and finished - dt.timedelta(minutes=5), "notes": f"test run v{version}"}],
            schema=_RUNS,
        ),
    )


def seed_ledger(store) -> None:
    """Three runs of the month (a stale complete one, the latest complete one, a newer running one)."""
    t0 = dt.datetime.combine(MONTH_END, dt.time(1, 0), tzinfo=UTC)
    add_run(store, STALE_RUN, 1, "running", t0)
    add_run(store, STALE_RUN, 1, "complete", t0, finished=t0 + dt.timedelta(minutes=2))
    add_run(store, RUN, 2, "running", t0 + dt.timedelta(days=2))
    add_run(store, RUN, 2, "complete", t0 + dt.timedelta(days=2), finished=t0 + dt.timedelta(days=2, minutes=3))
    add_run(store, RUNNING_RUN, 3, "running", t0 + dt.timedelta(days=3))
    store.insert_arrow("ledger", ledger_table(RUN, LINES))
    stale = [(0, "acme", "llama-shared", "llama-70b", "gpu", "999", "GPU-hour", "2.5", "2497.50", "shared",
              9, 9, 0, 9, "H100", "", ""),
             (0, "initech", "llama-shared", "llama-70b", "gpu", "1", "GPU-hour", "2.5", "2.50", "shared",
              1, 1, 0, 1, "H100", "", "")]  # fmt: skip
    store.insert_arrow("ledger", ledger_table(STALE_RUN, stale))
    store.insert_arrow("ledger", ledger_table(RUNNING_RUN, stale))


# --- telemetry for the efficiency view ---------------------------------------------------------

T0 = dt.datetime.combine(MONTH_START, dt.time(), tzinfo=UTC)


def _naive(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=None)


def seed_telemetry(store) -> None:
    """llama-shared holds GPU-a and GPU-b for an hour; acme-dedicated half of GPU-c for 30 minutes.

    GPU-a: DCGM GPU_UTIL 50% all hour. GPU-b: PROF_GR_ENGINE_ACTIVE 0.25 (and GPU_UTIL 90%, which
    the ranking ignores) for the first 30 minutes only. GPU-c: NVML utilisation 100%.
    Expected: llama-shared held 7200 s, covered 5400 s, busy 2250 s; acme-dedicated held 900 s, busy 900 s.
    """
    hb = []
    for minute in range(60):
        ts = _naive(T0 + dt.timedelta(minutes=minute))
        for gpu in ("GPU-a", "GPU-b"):
            hb.append({"ts": ts, "interval_s": 60.0, "deployment": "llama-shared", "instance": "llama-0",
                       "gpu_uuid": gpu, "gpu_model": "H100", "mig_profile": "", "fraction": 1.0, "source": "config"})
        if minute < 30:
            hb.append({"ts": ts, "interval_s": 60.0, "deployment": "acme-dedicated", "instance": "mistral-0",
                       "gpu_uuid": "GPU-c", "gpu_model": "A100", "mig_profile": "3g.40gb", "fraction": 0.5,
                       "source": "config"})
    table = pa.Table.from_pylist(hb, schema=schemas.GPU_ALLOCATION)
    store.insert_arrow("gpu_allocation", table)
    store.insert_arrow("gpu_allocation", table.slice(0, 10))  # a replayed batch: must count once
    series = [
        (1, "DCGM_FI_DEV_GPU_UTIL", {"UUID": "GPU-a", "gpu": "0", "modelName": "NVIDIA H100"}, "dcgm"),
        (2, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", {"UUID": "GPU-b", "gpu": "1"}, "dcgm"),
        (3, "DCGM_FI_DEV_GPU_UTIL", {"UUID": "GPU-b", "gpu": "1"}, "dcgm"),
        (4, "infermeter_gpu_utilization_percent", {"uuid": "GPU-c", "gpu": "0", "model": "A100"}, "nvml"),
        (5, "DCGM_FI_DEV_FB_USED", {"UUID": "GPU-a"}, "dcgm"),  # not a utilisation metric
    ]
    store.insert_arrow(
        "series",
        pa.Table.from_pylist(
            [{"series_id": sid, "metric": m, "labels": list(labels.items()), "source": src, "target": "t",
              "first_seen": T0, "last_seen": T0} for sid, m, labels, src in series],
            schema=schemas.SERIES,
        ),
    )
    samples = []
    for second in range(0, 3600, 15):
        ts = T0 + dt.timedelta(seconds=second)
        samples.append({"series_id": 1, "ts": ts, "value": 50.0, "delta": 0.0})
        samples.append({"series_id": 5, "ts": ts, "value": 1e9, "delta": 0.0})
        if second < 1800:
            samples.append({"series_id": 2, "ts": ts, "value": 0.25, "delta": 0.0})
            samples.append({"series_id": 3, "ts": ts, "value": 90.0, "delta": 0.0})
            samples.append({"series_id": 4, "ts": ts, "value": 100.0, "delta": 0.0})
    store.insert_arrow("samples", pa.Table.from_pylist(samples, schema=schemas.SAMPLES))


def seed_path(url: str, database: str = "infermeter") -> None:
    """Migrate and seed a store of its own (for CLI tests, run in a subprocess: one chdb path per process)."""
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store import open_store_url

    with open_store_url(url, database) as st:
        migrate(st, RenderOptions(database=database))
        seed_ledger(st)
        seed_telemetry(st)
