"""Helpers for the engine tests (no tests here): writing usage and heartbeats, building catalogs and
tenancies from dicts, and an exact reference attribution in plain Python (fractions, per event)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

import pyarrow as pa

from infermeter.chargeback.config import Weights
from infermeter.chargeback.prices import CatalogFile, PriceCatalog
from infermeter.chargeback.tenancy import Tenancy, TenancyFile
from infermeter.ingest import schemas

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Event:
    event_id: str
    ts: dt.datetime  # naive UTC, millisecond precision
    tenant: str
    deployment: str
    model: str
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Beat:
    ts: dt.datetime  # naive UTC: the end of the interval it covers
    interval_s: float
    deployment: str
    instance: str
    gpu_model: str
    mig_profile: str = ""
    fraction: float = 1.0


@dataclass(frozen=True)
class Timing:
    """One scrape's increase of a vLLM phase histogram's ``_sum`` (seconds of prefill or decode)."""

    ts: dt.datetime  # naive UTC
    phase: str  # "prefill" | "decode"
    seconds: float
    deployment: str = ""  # the series' ``deployment`` label ('' = none)
    pod: str = ""  # the series' ``pod`` label, looked up in gpu_allocation.instance


def insert_timing(store, timings: list[Timing]) -> None:
    """Series and samples as the sidecar writes them (samples_1m fills through its materialized view)."""
    from infermeter.chargeback import conventions as cc
    from infermeter.exporters.series import series_id

    if not timings:
        return
    series = {}
    samples = []
    for t in timings:
        metric = cc.PREFILL_TIME_SUM if t.phase == "prefill" else cc.DECODE_TIME_SUM
        labels = {"model_name": "m"}
        if t.deployment:
            labels["deployment"] = t.deployment
        if t.pod:
            labels["pod"] = t.pod
        key = tuple(sorted(labels.items()))
        sid = series_id(metric, key)
        series[sid] = {"series_id": sid, "metric": metric, "labels": list(key), "source": "vllm", "target": "t",
                       "first_seen": t.ts, "last_seen": t.ts}
        samples.append({"series_id": sid, "ts": t.ts, "value": 0.0, "delta": t.seconds})
    store.insert_arrow("series", pa.Table.from_pylist(list(series.values()), schema=schemas.SERIES))
    store.insert_arrow("samples", pa.Table.from_pylist(samples, schema=schemas.SAMPLES))


def insert_usage(store, events: list[Event]) -> None:
    if not events:
        return
    n = len(events)
    table = pa.table(
        {
            "event_id": [e.event_id for e in events],
            "ts": pa.array([e.ts for e in events], pa.timestamp("ms")),
            "tenant": [e.tenant for e in events],
            "api_key_id": [""] * n,
            "model": [e.model for e in events],
            "deployment": [e.deployment for e in events],
            "instance": [""] * n,
            "input_tokens": pa.array([e.input_tokens for e in events], pa.uint64()),
            "cached_input_tokens": pa.array([e.cached_input_tokens for e in events], pa.uint64()),
            "output_tokens": pa.array([e.output_tokens for e in events], pa.uint64()),
            "ttft_ms": pa.array([None] * n, pa.float64()),
            "duration_ms": pa.array([0.0] * n, pa.float64()),
            "status_code": pa.array([200] * n, pa.uint16()),
            "error_type": [""] * n,
            "attributes": pa.array([[] for _ in range(n)], pa.map_(pa.string(), pa.string())),
            "source": ["test"] * n,
        },
        schema=schemas.USAGE,
    )
    store.insert_arrow("usage", table)


def insert_beats(store, beats: list[Beat]) -> None:
    if not beats:
        return
    table = pa.table(
        {
            "ts": pa.array([b.ts for b in beats], pa.timestamp("ms")),
            "interval_s": [b.interval_s for b in beats],
            "deployment": [b.deployment for b in beats],
            "instance": [b.instance for b in beats],
            "gpu_uuid": [f"GPU-{b.instance}" for b in beats],
            "gpu_model": [b.gpu_model for b in beats],
            "mig_profile": [b.mig_profile for b in beats],
            "fraction": [b.fraction for b in beats],
            "source": ["test"] * len(beats),
        },
        schema=schemas.GPU_ALLOCATION,
    )
    store.insert_arrow("gpu_allocation", table)


def catalog(data: dict) -> PriceCatalog:
    return PriceCatalog(CatalogFile.model_validate(data), "prices.yaml")


def tenancy(data: dict, **overrides) -> Tenancy:
    return Tenancy(TenancyFile.model_validate(data), "tenancy.yaml", **overrides)


def simple_catalog(gpu: dict[str, str] | None = None, tokens: dict | None = None, mig: dict | None = None) -> PriceCatalog:
    return catalog(
        {
            "version": "test",
            "currency": "USD",
            "periods": [
                {
                    "effective_from": "2020-01-01",
                    "gpu_hour": gpu or {"H100": "4.00", "A100": "2.50"},
                    "mig_hour": mig or {},
                    "tokens": tokens or {},
                }
            ],
        }
    )


# ----------------------------------------------------------------------------- the reference

def _ms(ts: dt.datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp() * 1000)


def _phase_shares(timings: list[Timing], beats: list[Beat], start: dt.date, end: dt.date, window: int) -> dict:
    """(deployment, window index) -> prefill share, from the timing samples (the engine's rule for
    naming a series' deployment: its label, else its pod looked up in the period's heartbeats)."""
    lo = dt.datetime(start.year, start.month, start.day)
    hi = dt.datetime(end.year, end.month, end.day)
    # The heartbeats that touch the period (the engine's discovery).
    touching = [b for b in sorted(beats, key=lambda b: (b.deployment, b.gpu_model, b.mig_profile, b.instance))
                if lo < b.ts < hi + dt.timedelta(days=1) and _ms(b.ts) - round(b.interval_s * 1000) < _ms(hi)]
    inst: dict[str, str] = {}
    for b in touching:
        inst.setdefault(b.instance, b.deployment)
    held_deps = {b.deployment for b in touching}
    acc: dict[tuple, list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for t in timings:
        dep = t.deployment or inst.get(t.pod, "")
        if dep not in held_deps or not (lo <= t.ts < hi) or t.seconds <= 0:
            continue
        minute = (_ms(t.ts) - _ms(lo)) // 60000
        acc[(dep, minute // window)][t.phase == "decode"] += Fraction(t.seconds)
    return {k: pre / (pre + dec) for k, (pre, dec) in acc.items() if pre + dec > 0}


def reference(
    events: list[Event], beats: list[Beat], start: dt.date, end: dt.date, weights: Weights, token_models=(), token_deps=(),
    timings: list[Timing] = (),
):
    """Per-minute attribution, event by event, in exact fractions of GPU-milliseconds.

    Returns (held, idle, busy): held and idle per (deployment, day, gpu_model, mig_profile) in
    integer GPU-ms; busy per (day, tenant, deployment, model, gpu_model, mig_profile) as a Fraction.
    With ``weights.phase_split`` and ``timings`` each minute's held GPU-ms are cut by the window's
    prefill share into an input-work part and an output-work part (see engine_sql).
    """
    shares = _phase_shares(list(timings), beats, start, end, weights.phase_window_minutes) if weights.phase_split else {}
    p0 = _ms(dt.datetime(start.year, start.month, start.day))
    minutes = (end - start).days * 1440
    held: dict[tuple, int] = defaultdict(int)  # (dep, minute, sku) -> ms
    seen = set()
    for b in beats:  # gpu_allocation is a ReplacingMergeTree on (deployment, instance, gpu_uuid, ts)
        key = (b.deployment, b.instance, b.ts)
        if key in seen:
            continue
        seen.add(key)
        e = _ms(b.ts) - p0
        s = e - round(b.interval_s * 1000)
        for m in range(s // 60000, (e - 1) // 60000 + 1):
            if 0 <= m < minutes:
                o = min(e, (m + 1) * 60000) - max(s, m * 60000)
                held[(b.deployment, m, (b.gpu_model, b.mig_profile))] += round(o * b.fraction)
    unique = {}
    for ev in events:
        unique[(ev.ts.date(), ev.tenant, ev.event_id)] = ev
    work_of = {}
    work: dict[tuple, Fraction] = defaultdict(Fraction)
    pre_work: dict[tuple, Fraction] = defaultdict(Fraction)
    dec_work: dict[tuple, Fraction] = defaultdict(Fraction)
    for ev in unique.values():
        if not (p0 <= _ms(ev.ts) < p0 + minutes * 60000):
            continue
        if ev.model in token_models or ev.deployment in token_deps:
            wp = wd = Fraction(0)
        else:
            cached = min(ev.cached_input_tokens, ev.input_tokens)
            wp = Fraction(weights.input) * (ev.input_tokens - cached) + Fraction(weights.cached) * cached
            wd = Fraction(weights.output) * ev.output_tokens
        m = (_ms(ev.ts) - p0) // 60000
        work_of[ev] = (m, wp, wd)
        work[(ev.deployment, m)] += wp + wd
        pre_work[(ev.deployment, m)] += wp
        dec_work[(ev.deployment, m)] += wd
    held_day: dict[tuple, int] = defaultdict(int)
    idle_day: dict[tuple, int] = defaultdict(int)
    for (dep, m, sku), ms in held.items():
        day = start + dt.timedelta(days=m // 1440)
        held_day[(dep, day, *sku)] += ms
        if not work.get((dep, m)):
            idle_day[(dep, day, *sku)] += ms
    busy: dict[tuple, Fraction] = defaultdict(Fraction)
    for ev, (m, wp, wd) in work_of.items():
        cell = (ev.deployment, m)
        total = work.get(cell)
        if not (wp + wd) or not total:
            continue
        pre, dec = pre_work[cell], dec_work[cell]
        p = shares.get((ev.deployment, m // weights.phase_window_minutes))
        if p is None or not pre or not dec:
            p = pre / total
        share = (wp * p / pre if pre else 0) + (wd * (1 - p) / dec if dec else 0)
        day = start + dt.timedelta(days=m // 1440)
        for (dep, mm, sku), ms in held.items():
            if dep == ev.deployment and mm == m:
                busy[(day, ev.tenant, ev.deployment, ev.model, *sku)] += Fraction(ms) * share
    return dict(held_day), dict(idle_day), dict(busy), list(unique.values())
