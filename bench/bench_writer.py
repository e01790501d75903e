"""Writer throughput and storage density on the embedded engine (chdb), on one core.

Writes N realistic `samples` rows (about 1,700 vLLM/DCGM-like series scraped every 15 s: counters,
histogram buckets and gauges) three ways in the same process and reports rows/s:
  writer   - through infermeter's Writer (durable: write-ahead spool + deduplicated Arrow insert),
             fed one scrape (one Arrow batch of ~1,700 rows) at a time, as the scraper does;
  naive    - the same rows as Python tuples joined into one `INSERT ... VALUES` string
             (measured on a slice, --naive-rows, since the string for 10M rows is ~0.5 GB);
  ceiling  - one Arrow insert of all columns built beforehand, and (ceiling2) direct Arrow inserts
             of the same columns in the writer's batch size: the engine's own cost.
Then bytes per stored sample after merging (the Prometheus TSDB's ~1.3 bytes is the anchor).

usage: python bench/bench_writer.py [--rows 10000000] [--naive-rows 1000000] [--cores 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchlib import emit
from infermeter.ingest import schemas
from infermeter.ingest.migrate import RenderOptions, migrate
from infermeter.ingest.spool import Spool
from infermeter.ingest.store.chdb_store import ChdbStore
from infermeter.ingest.writer import Writer

SCRAPE_MS = 15_000
BATCH_ROWS = 500_000


def fleet(n_rows: int, seed: int = 7) -> tuple[np.ndarray, list[pa.Table]]:
    """Realistic series, returned as one Arrow table per scrape."""
    rng = np.random.default_rng(seed)
    # 40 counters x 8 label sets, 12 histograms x 8 label sets x 14 buckets (+sum/count), 
    # 60 gauges x 8 GPUs: about 1,700 series.
    kinds = []
    kinds += ["counter"] * (40 * 8)
    kinds += ["bucket"] * (12 * 8 * 16)
    kinds += ["gauge_int"] * (20 * 8) + ["gauge_float"] * (20 * 8) + ["gauge_const"] * (20 * 8)
    kinds = np.array(kinds)
    n_series = len(kinds)
    scrapes = max(1, n_rows // n_series)
    series_id = np.sort(rng.integers(1, 2**63, n_series, dtype=np.uint64))
    t0 = (int(time.time() * 1000) // SCRAPE_MS * SCRAPE_MS) - scrapes * SCRAPE_MS
    value = np.zeros(n_series)
    value[kinds == "gauge_const"] = rng.choice([80.0e9, 141.0e9, 1.0, 0.0], (kinds == "gauge_const").sum())
    value[kinds == "gauge_int"] = rng.integers(30, 90, (kinds == "gauge_int").sum())
    value[kinds == "gauge_float"] = rng.random((kinds == "gauge_float").sum())
    counter = np.isin(kinds, ["counter", "bucket"])
    rates = np.where(counter, rng.gamma(1.0, 20.0, n_series), 0.0)
    tables = []
    for i in range(scrapes):
        inc = np.where(counter, rng.poisson(rates), 0.0)
        value = value + inc
        gi = kinds == "gauge_int"
        value[gi] = np.clip(value[gi] + rng.integers(-2, 3, gi.sum()), 0, 100)
        gf = kinds == "gauge_float"
        value[gf] = np.clip(value[gf] + rng.normal(0, 0.01, gf.sum()), 0, 1).round(4)
        tables.append(
            pa.table(
                {
                    "series_id": pa.array(series_id),
                    "ts": pa.array(np.full(n_series, t0 + i * SCRAPE_MS), type=pa.timestamp("ms", tz="UTC")),
                    "value": pa.array(value.copy()),
                    "delta": pa.array(inc.astype(np.float64)),
                },
                schema=schemas.SAMPLES,
            )
        )
    return series_id, tables


def reset(store: ChdbStore) -> None:
    for t in ("samples", "samples_1m", "samples_1h"):
        store.command(f"TRUNCATE TABLE {t}")


def run_writer(store: ChdbStore, tables: list[pa.Table], spool_dir: Path) -> float:
    reset(store)
    writer = Writer(store, Spool(spool_dir), max_batch_rows=BATCH_ROWS, durable=True, background=False)
    t = time.perf_counter()
    for tb in tables:
        writer.write("samples", tb)
    writer.close()
    return time.perf_counter() - t


def run_naive(store: ChdbStore, tables: list[pa.Table], n_rows: int) -> tuple[float, int]:
    reset(store)
    big = pa.concat_tables(tables).slice(0, n_rows)
    rows = list(zip(*(c.to_pylist() for c in big.columns)))  # Python tuples, as an app would hold them
    t = time.perf_counter()
    values = ",".join(f"({s},'{ts.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}',{v!r},{d!r})" for s, ts, v, d in rows)
    store.command("INSERT INTO samples (series_id, ts, value, delta) VALUES " + values)
    return time.perf_counter() - t, len(rows)


def run_ceiling(store: ChdbStore, tables: list[pa.Table]) -> float:
    reset(store)
    big = pa.concat_tables(tables).combine_chunks()
    t = time.perf_counter()
    store.insert_arrow("samples", big)
    return time.perf_counter() - t


def run_ceiling_batched(store: ChdbStore, tables: list[pa.Table], batch_rows: int) -> float:
    """Direct Arrow inserts in the writer's batch size, with no buffering, spool or tokens."""
    reset(store)
    big = pa.concat_tables(tables)
    batches = [big.slice(i, batch_rows).combine_chunks() for i in range(0, big.num_rows, batch_rows)]
    t = time.perf_counter()
    for b in batches:
        store.insert_arrow("samples", b)
    return time.perf_counter() - t


def bytes_per_sample(store: ChdbStore) -> dict[str, float]:
    store.command("OPTIMIZE TABLE samples FINAL")
    rows = store.query_scalar("SELECT sum(rows) FROM system.parts WHERE active AND database = currentDatabase() AND table = 'samples'")
    out = {"total_on_disk": store.query_scalar(
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = currentDatabase() AND table = 'samples'") / rows}
    for name, size in store.query_rows(
        "SELECT name, data_compressed_bytes FROM system.columns WHERE database = currentDatabase() AND table = 'samples'"
    ):
        out[name] = size / rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--naive-rows", type=int, default=1_000_000)
    ap.add_argument("--cores", type=int, default=1)
    args = ap.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    tmp = Path(tempfile.mkdtemp(prefix="bench-writer-"))
    try:
        store = ChdbStore(tmp / "store", "bench")
        migrate(store, RenderOptions(database="bench"))
        _, tables = fleet(args.rows)
        n = sum(t.num_rows for t in tables)
        w_s = run_writer(store, tables, tmp / "spool")
        assert store.query_scalar("SELECT count() FROM samples") == n
        density = bytes_per_sample(store)
        c_s = run_ceiling(store, tables)
        cb_s = run_ceiling_batched(store, tables, BATCH_ROWS)
        nv_s, nv_rows = run_naive(store, tables, min(args.naive_rows, n))
        writer_rate, ceiling_rate, naive_rate = n / w_s, n / c_s, nv_rows / nv_s
        batched_rate = n / cb_s
        print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} core(s) pinned, chdb engine")
        print(f"rows: {n:,} in {len(tables):,} scrapes of {tables[0].num_rows:,} series")
        print(f"writer  : {writer_rate:12,.0f} rows/s  ({w_s:.2f} s)")
        print(f"naive   : {naive_rate:12,.0f} rows/s  ({nv_s:.2f} s for {nv_rows:,} rows)")
        print(f"ceiling : {ceiling_rate:12,.0f} rows/s  ({c_s:.2f} s, one Arrow insert)")
        print(f"ceiling2: {batched_rate:12,.0f} rows/s  ({cb_s:.2f} s, direct Arrow inserts of {BATCH_ROWS:,} rows)")
        print(f"writer / naive    = {writer_rate / naive_rate:.1f}x")
        emit("writer into chdb", f"{writer_rate:,.0f} rows/s", f"naive row inserts {naive_rate:,.0f} rows/s", writer_rate / naive_rate)
        emit("writer vs direct batched inserts", f"{writer_rate:,.0f} rows/s", f"direct Arrow inserts {batched_rate:,.0f} rows/s", writer_rate / batched_rate, "close to 1")
        print(f"writer / ceiling  = {writer_rate / ceiling_rate:.0%} (one insert of everything)")
        print(f"writer / ceiling2 = {writer_rate / batched_rate:.0%} (same batch size, no writer)")
        print("bytes per stored sample: " + ", ".join(f"{k} {v:.3f}" for k, v in density.items()))
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
