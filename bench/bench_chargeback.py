"""Chargeback benchmark: a month of usage events on chdb, against the same computation in pandas.

    python bench/bench_chargeback.py                 # 100 million events (the goal: <= 10 s on 2 cores)
    python bench/bench_chargeback.py --events 10M    # a quick run
    python bench/bench_chargeback.py --keep DIR      # keep (and reuse) the generated store

The data is generated INSIDE chdb (INSERT ... SELECT FROM numbers()): 1,000 tenants (skewed),
50 deployments (1-8 GPUs each, five dedicated, five on MIG slices, half of them quiet at night so
there is idle time), minute-level allocation heartbeats with a few gaps, a token-priced API,
0.5 % of the events sent twice (the same event_id), a price change on the 15th, and vLLM's
prefill/decode time per deployment and minute (``vllm:request_{prefill,decode}_time_seconds_sum``
deltas in ``samples``, so the engine runs its phase split; ``--no-phases`` leaves them out).
Generation runs in a child process, so the peak memory printed is the chargeback run's own.

Printed: the full ``run`` (SQL, Decimal rounding, ledger insert, run record) on chdb; the same
attribution in pandas on one day of the data (deduplicate by event_id, spread heartbeats over
minutes, work per minute, rate, join, group by tenant), both as nanoseconds per usage event, and
their ratio; the peak resident memory of the process after the chdb run (getrusage).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import emit

MONTH = "2026-11"
DB = "bench"
N_TENANTS = 1000
N_DEPLOYMENTS = 50


def parse_count(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in "KMG" else text) * mult)


# ----------------------------------------------------------------------------- data (child process)

def _dep_expr(d: str) -> dict[str, str]:
    return {
        "name": f"concat('dep-', leftPad(toString({d}), 2, '0'))",
        "gpus": f"(1 + {d} % 8)",
        "model": f"if({d} >= 45, 'H100-80GB', ['H100-80GB', 'A100-80GB', 'L40S'][{d} % 3 + 1])",
        "mig": f"if({d} >= 45, '3g.40gb', '')",
        "fraction": f"if({d} >= 45, 3 / 7, 1.)",
    }


def generate(path: Path, events: int, settle: bool = True, phases: bool = True) -> dict:
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store.chdb_store import ChdbStore

    st = ChdbStore(path, DB)
    migrate(st, RenderOptions(database=DB))
    st.use_database(DB)
    start = dt.datetime(2026, 11, 1)
    minutes = 30 * 1440
    d = _dep_expr("d")
    t0 = time.perf_counter()
    # Heartbeats: one per GPU (or MIG slice) per minute, at the end of the minute it covers; 2.5 % of
    # GPU-hours missing (a sidecar down).
    per_minute = N_DEPLOYMENTS * 8
    st.command(
        f"""INSERT INTO gpu_allocation (ts, interval_s, deployment, instance, gpu_uuid, gpu_model, mig_profile, fraction, source)
SELECT toDateTime64({{start:DateTime64(3)}}, 3, 'UTC') + toIntervalSecond((m + 1) * 60), 60., {d['name']},
       concat({d['name']}, '-', toString(i)), concat('GPU-', toString(d), '-', toString(i)), {d['model']}, {d['mig']}, {d['fraction']}, 'bench'
FROM (SELECT number % {N_DEPLOYMENTS} AS d, intDiv(number, {N_DEPLOYMENTS}) % 8 AS i, intDiv(number, {per_minute}) AS m
      FROM numbers({per_minute * minutes}))
WHERE i < {d['gpus']} AND cityHash64(d, i, intDiv(m, 60)) % 40 != 0""",
        {"start": start},
    )
    t1 = time.perf_counter()
    # Usage: tenants skewed (u^2), each on three deployments; even deployments quiet 00-06h; 5 % on a
    # token-priced API; a few unknown tenants. Inserted in 3-day slices, as an ingest would.
    slices = 10
    per = events // slices
    for k in range(slices):
        n0, n = k * per, (per if k < slices - 1 else events - k * per)
        st.command(
            f"""INSERT INTO usage (event_id, ts, tenant, api_key_id, model, deployment, instance, input_tokens,
       cached_input_tokens, output_tokens, ttft_ms, duration_ms, status_code, error_type, attributes, source)
SELECT lower(hex(cityHash64(number, 'event'))), ts,
       if(h % 10000 = 7, 'unknown-tenant', concat('t-', toString(t))), '', model, dep, '', inp, intDiv(inp * (h % 5), 8), outp,
       100., 1000., 200, '', map(), 'bench'
FROM (
    SELECT number, cityHash64(number) AS h,
           toDateTime64({{start:DateTime64(3)}}, 3, 'UTC') + toIntervalMillisecond(intDiv(number * {30 * 86400000}, {events})) AS ts,
           toUInt32(pow((h % 1000003) / 1000003., 2) * {N_TENANTS}) AS t,
           (t * 7 + intDiv(h, 1000) % 3) % {N_DEPLOYMENTS} AS d0,
           if(toHour(ts) < 6 AND d0 % 2 = 0, d0 + 1, d0) AS d1,
           intDiv(h, 100000) % 20 = 0 AS api,
           if(api, 'openai', concat('dep-', leftPad(toString(d1), 2, '0'))) AS dep,
           if(api, ['gpt-4o', 'gpt-4o-mini'][intDiv(h, 7) % 2 + 1], concat('model-', toString(d1 % 20))) AS model,
           toUInt64(1 + pow((intDiv(h, 13) % 1000) / 1000., 3) * 4000) AS inp,
           toUInt64(1 + intDiv(h, 17) % 800) AS outp
    FROM numbers({n0}, {n})
)""",
            {"start": start},
        )
    if phases:
        # vLLM's phase timing: per GPU deployment and minute, the increase of the prefill and decode
        # time histograms' _sum (one series each, labelled with the deployment); prefill's share
        # differs by deployment and drifts through the day.
        from infermeter.chargeback import conventions as cc

        st.command(
            f"""INSERT INTO series (series_id, metric, labels, source, target, first_seen, last_seen)
SELECT cityHash64(d, ph), if(ph = 0, {{pre:String}}, {{dec:String}}),
       map('deployment', {d['name']}, 'model_name', concat('model-', toString(d % 20))), 'vllm', {d['name']},
       {{start:DateTime64(3)}}, {{start:DateTime64(3)}}
FROM (SELECT number % {N_DEPLOYMENTS} AS d, intDiv(number, {N_DEPLOYMENTS}) AS ph FROM numbers({2 * N_DEPLOYMENTS}))""",
            {"start": start, "pre": cc.PREFILL_TIME_SUM, "dec": cc.DECODE_TIME_SUM},
        )
        st.command(
            f"""INSERT INTO samples (series_id, ts, value, delta)
SELECT cityHash64(d, ph), toDateTime64({{start:DateTime64(3)}}, 3, 'UTC') + toIntervalSecond(m * 60 + 30), 0.,
       if(ph = 0, 4. + d % 7 + 3 * sin(m / 240.), 40. + (d * 13) % 50 + 10 * cos(m / 300.))
FROM (SELECT number % {N_DEPLOYMENTS} AS d, intDiv(number, {N_DEPLOYMENTS}) % 2 AS ph, intDiv(number, {2 * N_DEPLOYMENTS}) AS m
      FROM numbers({2 * N_DEPLOYMENTS * minutes}))""",
            {"start": start},
        )
    # 0.5 % of the events again: the same event_id (a retried send), ingested later.
    st.command(
        "INSERT INTO usage SELECT * EXCEPT (ingested_at), now64(3) + INTERVAL 1 SECOND FROM usage "
        "WHERE cityHash64(event_id) % 200 = 0"
    )
    t2 = time.perf_counter()
    inserted = st.query_scalar("SELECT count() FROM usage")
    if settle:
        # A closed month at rest: background merges have folded the ingest parts together (and
        # collapsed the duplicates), as they do within hours. --unmerged skips this.
        st.command("OPTIMIZE TABLE usage FINAL")
        st.command("OPTIMIZE TABLE gpu_allocation FINAL")
    t3 = time.perf_counter()
    info = {
        "heartbeats": st.query_scalar("SELECT count() FROM gpu_allocation"),
        "usage_rows": st.query_scalar("SELECT count() FROM usage"),
        "inserted_rows": inserted,
        "gen_heartbeats_s": t1 - t0,
        "gen_usage_s": t2 - t1,
        "merge_s": t3 - t2,
        "usage_parts": st.query_scalar("SELECT count() FROM system.parts WHERE active AND database = {d:String} AND table = 'usage'", {"d": DB}),
        "settled": settle,
        "phase_rows": st.query_scalar("SELECT count() FROM samples_1m"),
    }
    st.close()
    return info


def write_configs(directory: Path) -> tuple[Path, Path]:
    import yaml

    prices = {
        "version": "bench-2026-11",
        "currency": "USD",
        "periods": [
            {
                "effective_from": "2026-10-01",
                "effective_to": "2026-11-15",
                "gpu_hour": {"H100-80GB": "4.00", "A100-80GB": "2.20", "L40S": "1.10"},
                "mig_hour": {"H100-80GB": {"3g.40gb": "1.90"}},
                "tokens": {
                    "gpt-4o": {"input": "2.50", "cached_input": "1.25", "output": "10.00"},
                    "gpt-4o-mini": {"input": "0.15", "cached_input": "0.075", "output": "0.60"},
                },
            },
            {
                "effective_from": "2026-11-15",
                "gpu_hour": {"H100-80GB": "3.60", "A100-80GB": "2.00", "L40S": "1.00"},
                "mig_hour": {"H100-80GB": {"3g.40gb": "1.70"}},
                "tokens": {
                    "gpt-4o": {"input": "2.50", "cached_input": "1.25", "output": "10.00"},
                    "gpt-4o-mini": {"input": "0.15", "cached_input": "0.075", "output": "0.60"},
                },
            },
        ],
    }
    deployments = {}
    for d in range(N_DEPLOYMENTS):
        name = f"dep-{d:02d}"
        if d % 10 == 9:
            deployments[name] = {"mode": "dedicated", "tenant": f"t-{d}"}
        else:
            deployments[name] = {"mode": "shared", "owner": "t-0", "model": f"model-{d % 20}"}
    deployments["openai"] = {"billing": "tokens"}
    tenancy = {
        "idle_policy": "proportional",
        "weights": {"input": 1, "output": 2, "cached_input": 0.25},
        "tenants": {f"t-{t}": {"monthly_budget": "5000.00"} for t in range(N_TENANTS)},
        "deployments": deployments,
    }
    p, t = directory / "prices.yaml", directory / "tenancy.yaml"
    p.write_text(yaml.safe_dump(prices, sort_keys=False))
    t.write_text(yaml.safe_dump(tenancy, sort_keys=False))
    return p, t


# ----------------------------------------------------------------------------- the pandas baseline

def _epoch_ms(col):
    """Milliseconds since the epoch, whatever the column's time unit (pandas keeps ClickHouse's ms)."""
    if col.dtype.kind != "M":
        return col
    unit = "datetime64[ms, UTC]" if getattr(col.dtype, "tz", None) is not None else "datetime64[ms]"
    return col.astype(unit).astype("int64")


def pandas_attribution(
    usage, alloc, day: dt.date, w_in: float, w_cached: float, w_out: float, token_deps: set[str], timing=None, window: int = 60
):
    """The same per-minute attribution as the engine, in pandas, for one day (with the phase split
    when ``timing`` has per (deployment, minute) prefill and decode seconds)."""
    import numpy as np
    import pandas as pd

    p0 = pd.Timestamp(day).value // 10**6
    u = usage.sort_values("ingested_at").drop_duplicates(["event_id"], keep="last")
    ts_ms = _epoch_ms(u["ts"])
    u = u.assign(mi=((ts_ms - p0) // 60000).astype("int64"))
    inp = u["input_tokens"].astype("float64")
    cached = np.minimum(u["cached_input_tokens"].astype("float64"), inp)
    billed = ~u["deployment"].isin(token_deps)
    pre = np.where(billed, (inp - cached) * w_in + cached * w_cached, 0.0)
    dec = np.where(billed, u["output_tokens"].astype("float64") * w_out, 0.0)
    u = u.assign(pre=pre, dec=dec, work=pre + dec)
    a = alloc.drop_duplicates(["deployment", "instance", "gpu_uuid", "ts"], keep="last")
    e = _epoch_ms(a["ts"]) - p0
    s = e - (a["interval_s"] * 1000).round().astype("int64")
    first, last = s // 60000, (e - 1) // 60000
    reps = (last - first + 1).clip(lower=1)
    a = a.loc[a.index.repeat(reps)].assign(
        mi=np.concatenate([np.arange(f, f + r) for f, r in zip(first, reps)]) if len(a) else np.array([], "int64"),
        e=np.repeat(e.to_numpy(), reps),
        s=np.repeat(s.to_numpy(), reps),
    )
    overlap = np.minimum(a["e"], (a["mi"] + 1) * 60000) - np.maximum(a["s"], a["mi"] * 60000)
    a = a.assign(held=(overlap * a["fraction"]).round())
    a = a[(a["mi"] >= 0) & (a["mi"] < 1440)]
    held = a.groupby(["deployment", "mi", "gpu_model", "mig_profile"], observed=True)["held"].sum().reset_index()
    w = u.groupby(["deployment", "mi"], observed=True)[["pre", "dec"]].sum().reset_index()
    w = w.assign(total=w["pre"] + w["dec"])
    share = w["pre"] / w["total"].where(w["total"] > 0)
    if timing is not None and len(timing):
        t = timing.assign(win=timing["mi"] // window).groupby(["deployment", "win"], observed=True)[["prefill", "decode"]].sum()
        t = (t["prefill"] / (t["prefill"] + t["decode"])).rename("p").reset_index()
        w = w.assign(win=w["mi"] // window).merge(t, on=["deployment", "win"], how="left")
        share = np.where(w["p"].notna() & (w["pre"] > 0) & (w["dec"] > 0), w["p"], share)
    w = w.assign(
        fp=np.where(w["pre"] > 0, share / w["pre"].where(w["pre"] > 0), 0.0),
        fd=np.where(w["dec"] > 0, (1 - share) / w["dec"].where(w["dec"] > 0), 0.0),
    )
    rate = held.merge(w[["deployment", "mi", "fp", "fd", "total"]], on=["deployment", "mi"], how="inner")
    rate = rate[rate["total"] > 0]
    j = u.merge(rate[["deployment", "mi", "gpu_model", "mig_profile", "held", "fp", "fd"]], on=["deployment", "mi"], how="left")
    j = j.assign(gpu_ms=j["held"].fillna(0.0) * (j["pre"] * j["fp"].fillna(0.0) + j["dec"] * j["fd"].fillna(0.0)))
    return (
        j.groupby(["tenant", "deployment", "model", "gpu_model", "mig_profile"], observed=True, dropna=False)
        .agg(gpu_ms=("gpu_ms", "sum"), requests=("event_id", "size"), input_tokens=("input_tokens", "sum"))
        .reset_index()
    )


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", default="100M", help="usage events in the month (100M, 10M, 500K ...)")
    ap.add_argument("--keep", type=Path, default=None, help="store directory to keep and reuse")
    ap.add_argument("--generate-only", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--skip-pandas", action="store_true", help="only the chdb run")
    ap.add_argument("--unmerged", action="store_true", help="leave the ingest parts unmerged (FINAL merges them at query time)")
    ap.add_argument("--no-phases", action="store_true", help="no vLLM prefill/decode timing (token weights only)")
    args = ap.parse_args(argv)
    events = parse_count(args.events)

    if args.generate_only:
        print(json.dumps(generate(args.generate_only, events, settle=not args.unmerged, phases=not args.no_phases)))
        return 0

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-chargeback-"))
    store_dir = workdir / (f"chdb-{events}" + ("-unmerged" if args.unmerged else "") + ("-nophases" if args.no_phases else ""))
    marker = store_dir / ".generated"
    if not marker.exists():
        print(f"generating {events:,} events in chdb ({store_dir}) ...", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--events", str(events), "--generate-only", str(store_dir)]
            + (["--unmerged"] if args.unmerged else []) + (["--no-phases"] if args.no_phases else []),
            check=True, capture_output=True, text=True,
        )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        marker.write_text(json.dumps(info))
        print(
            f"  heartbeats {info['heartbeats']:,} in {info['gen_heartbeats_s']:.1f} s, "
            f"usage rows inserted {info['inserted_rows']:,} (0.5 % sent twice) in {info['gen_usage_s']:.1f} s, "
            f"merged in {info['merge_s']:.1f} s into {info['usage_parts']} part(s)"
        )
    info = json.loads(marker.read_text())
    prices_path, tenancy_path = write_configs(workdir)

    from infermeter.chargeback.prices import load_prices
    from infermeter.chargeback.runs import run_month
    from infermeter.chargeback.tenancy import load_tenancy
    from infermeter.ingest.store.chdb_store import ChdbStore

    prices = load_prices(prices_path)
    tenancy = load_tenancy(tenancy_path)
    st = ChdbStore(store_dir, DB)
    st.use_database(DB)
    threads = st.query_scalar("SELECT getSetting('max_threads')")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = run_month(st, MONTH, prices, tenancy)
    chdb_s = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n_usage = info["usage_rows"]
    print(f"cores: {os.cpu_count()}, chdb max_threads: {threads}")
    print(
        f"chdb run {MONTH}: {chdb_s:.2f} s for {n_usage:,} usage rows + {info['heartbeats']:,} heartbeats "
        f"({chdb_s / n_usage * 1e9:.1f} ns/event); run {result.run_id} v{result.version}, "
        f"{result.lines:,} ledger lines, total {result.total} {result.currency}; "
        f"{result.notes['phase_windows']:,} (deployment, hour) windows split by prefill/decode time"
    )
    for phase, secs in result.timings.items():
        print(f"  {phase:<12} {secs:6.2f} s")
    print(f"peak RSS after the chdb run: {rss1 / 1024:.0f} MiB (before it: {rss0 / 1024:.0f} MiB)")

    if not args.skip_pandas:
        day = dt.date(2026, 11, 20)
        p = {"a": dt.datetime(2026, 11, 20), "b": dt.datetime(2026, 11, 21), "c": dt.datetime(2026, 11, 21, 0, 1)}
        usage = st.query_df(
            "SELECT event_id, ts, tenant, model, deployment, input_tokens, cached_input_tokens, output_tokens, ingested_at "
            "FROM usage WHERE ts >= {a:DateTime64(3)} AND ts < {b:DateTime64(3)}",
            p,
        )
        alloc = st.query_df(
            "SELECT ts, interval_s, deployment, instance, gpu_uuid, gpu_model, mig_profile, fraction FROM gpu_allocation "
            "WHERE ts > {a:DateTime64(3)} AND ts < {c:DateTime64(3)}",
            p,
        )
        timing = None if args.no_phases else st.query_df(
            "SELECT s.labels['deployment'] AS deployment, "
            "intDiv(toInt64(toUnixTimestamp(m.ts)) - toInt64(toUnixTimestamp({a:DateTime64(3)})), 60) AS mi, "
            "sumIf(m.delta, s.metric LIKE '%prefill%') AS prefill, sumIf(m.delta, s.metric LIKE '%decode%') AS decode "
            "FROM samples_1m AS m INNER JOIN series AS s ON m.series_id = s.series_id "
            "WHERE m.ts >= {a:DateTime64(3)} AND m.ts < {b:DateTime64(3)} GROUP BY deployment, mi",
            p,
        )
        w = tenancy.weights
        t1 = time.perf_counter()
        out = pandas_attribution(
            usage, alloc, day, w.input, w.cached, w.output, tenancy.token_deployments(), timing, w.phase_window_minutes
        )
        pandas_s = time.perf_counter() - t1
        per_pandas = pandas_s / len(usage) * 1e9
        per_chdb = chdb_s / n_usage * 1e9
        print(
            f"pandas, one day ({len(usage):,} usage rows, {len(alloc):,} heartbeats): {pandas_s:.2f} s "
            f"({per_pandas:.1f} ns/event), {len(out):,} groups"
        )
        print(f"ratio per event, pandas / chdb full run: {per_pandas / per_chdb:.1f}x")
        # The two agree: busy GPU-hours per (tenant, shared deployment) on that day.
        ledger = {
            (t, d): float(q)
            for t, d, q in st.query_rows(
                "SELECT tenant, deployment, sum(quantity) FROM ledger WHERE run_id = {r:String} AND resource = 'gpu' "
                "AND method = 'shared' AND period_start = {d:Date} GROUP BY tenant, deployment",
                {"r": result.run_id, "d": day},
            )
        }
        theirs = out.groupby(["tenant", "deployment"], observed=True)["gpu_ms"].sum() / 3.6e6
        diff = max((abs(theirs.get((t, d), 0.0) - q) for (t, d), q in ledger.items()), default=0.0)
        print(f"  pandas and chdb agree per (tenant, shared deployment) on {day}: max difference {diff:.2e} GPU-hours")
        emit(f"chargeback run, {n_usage:,} events", f"{chdb_s:.2f} s ({per_chdb:.0f} ns/event)",
             f"pandas {per_pandas:.0f} ns/event", per_pandas / per_chdb, "<= 10 s for 100M; >= 10x per event")
    st.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
