"""Synthetic inference traffic for the SLO report tests: gateway requests of three tenants, the
counters and histograms an exporter would expose for them (plus a vLLM counter that resets and
two Triton counters), as ClickHouse rows and as an OpenMetrics file for ``promtool tsdb
create-blocks-from openmetrics``.

Conventions, so that both stores see the same events:

* scrapes every ``interval_s`` on aligned ticks; the first tick has every counter at 0 and no
  request (the exporter's first-scrape delta is 0);
* a request is stamped with the tick of the scrape that first counts it (its ``usage.ts``);
* ``delta`` is the reset-aware increase since the previous tick (after a reset, the new value),
  the convention of the exporter's edge and of Prometheus' ``increase()``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from infermeter.ingest import schemas
from infermeter.slo import conventions as c

TENANTS = {  # requests per tick, 5xx share, 4xx share, share of requests slower than ~1s
    "acme": (4.0, 0.002, 0.01, 0.02),
    "globex": (3.0, 0.04, 0.03, 0.05),
    "initech": (2.0, 0.01, 0.0, 0.25),
}
MODEL = "llama-3-8b"
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TTFT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5)
VLLM_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
TRITON_MODEL = "resnet50"


def le_text(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))  # "1.0": Python clients' spelling


@dataclass
class Traffic:
    start: dt.datetime  # first tick (UTC)
    interval_s: int
    ticks: int
    series: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    increments: list[np.ndarray] = field(default_factory=list)  # per series, per tick (tick 0: 0)
    resets: dict[int, int] = field(default_factory=dict)  # series index -> tick where it restarts
    events: list[dict] = field(default_factory=list)

    def tick_time(self, k: int) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.interval_s * k)

    @property
    def end(self) -> dt.datetime:
        """The time after the last tick."""
        return self.tick_time(self.ticks)

    def _series(self, metric: str, labels: dict[str, str]) -> np.ndarray:
        self.series.append((metric, labels))
        arr = np.zeros(self.ticks)
        self.increments.append(arr)
        return arr

    def values(self, i: int) -> np.ndarray:
        """Cumulative values of series ``i`` as scraped (restarting from 0 after its reset)."""
        inc = self.increments[i]
        reset = self.resets.get(i)
        if reset is None:
            return np.cumsum(inc)
        out = np.cumsum(inc)
        out[reset:] = np.cumsum(inc[reset:])
        return out

    def deltas(self, i: int) -> np.ndarray:
        values = self.values(i)
        delta = np.diff(values, prepend=0.0)
        reset = self.resets.get(i)
        if reset is not None:
            delta[reset] = values[reset]
        delta[0] = 0.0
        return delta

    def ticks_in(self, start: dt.datetime, end: dt.datetime) -> np.ndarray:
        """Indices of the ticks in ``[start, end)``."""
        times = np.array([(self.tick_time(k) - self.start).total_seconds() for k in range(self.ticks)])
        a, b = (start - self.start).total_seconds(), (end - self.start).total_seconds()
        return np.nonzero((times >= a) & (times < b))[0]


def make_traffic(start: dt.datetime, hours: float = 4, interval_s: int = 15, seed: int = 7) -> Traffic:
    rng = random.Random(seed)
    ticks = int(hours * 3600 / interval_s) + 1
    tr = Traffic(start, interval_s, ticks)
    requests: dict[tuple[str, str], np.ndarray] = {}
    dur: dict[str, list[np.ndarray]] = {}
    ttft: dict[str, list[np.ndarray]] = {}
    for tenant in TENANTS:
        base = {c.GATEWAY_LABEL_TENANT: tenant, c.GATEWAY_LABEL_MODEL: MODEL}
        for klass in c.GATEWAY_STATUS_CLASSES:
            requests[(tenant, klass)] = tr._series(c.GATEWAY_REQUESTS_TOTAL, {**base, c.GATEWAY_LABEL_STATUS_CLASS: klass})
        dur[tenant] = [tr._series(c.GATEWAY_REQUEST_DURATION_SECONDS + "_bucket", {**base, "le": le_text(b)})
                       for b in (*DURATION_BUCKETS, math.inf)]
        dur[tenant].append(tr._series(c.GATEWAY_REQUEST_DURATION_SECONDS + "_count", base))
        ttft[tenant] = [tr._series(c.GATEWAY_TTFT_SECONDS + "_bucket", {**base, "le": le_text(b)})
                        for b in (*TTFT_BUCKETS, math.inf)]
        ttft[tenant].append(tr._series(c.GATEWAY_TTFT_SECONDS + "_count", base))
    vllm = {}
    for reason in ("stop", "length", "error"):
        vllm[reason] = tr._series(c.VLLM_REQUEST_SUCCESS_TOTAL, {c.VLLM_LABEL_MODEL: VLLM_MODEL, "finished_reason": reason})
        tr.resets[len(tr.series) - 1] = (2 * ticks) // 3  # the engine restarts: its counters start over
    triton_ok = tr._series(c.TRITON_REQUEST_SUCCESS, {c.TRITON_LABEL_MODEL: TRITON_MODEL})
    triton_fail = tr._series(c.TRITON_REQUEST_FAILURE, {c.TRITON_LABEL_MODEL: TRITON_MODEL})

    for k in range(1, ticks):
        ts = tr.tick_time(k)
        for tenant, (rate, p5, p4, p_slow) in TENANTS.items():
            for j in range(_poisson(rng, rate)):
                u = rng.random()
                code = rng.choice((500, 503)) if u < p5 else (429 if u < p5 + p4 else 200)
                slow = rng.random() < p_slow
                seconds = round(rng.uniform(1.0, 8.0) if slow else rng.uniform(0.05, 0.99), 3)
                first = round(min(seconds, rng.uniform(0.05, 1.2)), 3) if rng.random() < 0.8 else None
                requests[(tenant, f"{code // 100}xx")][k] += 1
                _observe(dur[tenant], DURATION_BUCKETS, seconds, k)
                if first is not None:
                    _observe(ttft[tenant], TTFT_BUCKETS, first, k)
                reason = "error" if code >= 500 else ("length" if rng.random() < 0.1 else "stop")
                if code != 429:
                    vllm[reason][k] += 1
                tr.events.append({
                    "event_id": f"ev-{k}-{tenant}-{j}", "ts": ts.replace(tzinfo=None), "tenant": tenant,
                    "api_key_id": f"key-{tenant}", "model": MODEL, "deployment": "llama", "instance": "pod-0",
                    "input_tokens": rng.randint(10, 2000), "cached_input_tokens": 0, "output_tokens": rng.randint(1, 500),
                    "ttft_ms": None if first is None else first * 1000.0, "duration_ms": seconds * 1000.0,
                    "status_code": code, "error_type": "" if code < 400 else "server_error", "attributes": [],
                    "source": "test",
                })
        triton_ok[k] += _poisson(rng, 10.0)
        triton_fail[k] += 1 if rng.random() < 0.03 else 0
    return tr


def _observe(hist: list[np.ndarray], bounds: tuple[float, ...], value: float, k: int) -> None:
    for bound, arr in zip((*bounds, math.inf), hist):
        if value <= bound:
            arr[k] += 1
    hist[-1][k] += 1  # _count


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


# --- Prometheus -------------------------------------------------------------------------------------
def _labels_text(labels: dict[str, str]) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + body + "}" if body else ""


def openmetrics(tr: Traffic) -> str:
    """Every series at every tick, for ``promtool tsdb create-blocks-from openmetrics``."""
    by_metric: dict[str, list[int]] = {}
    for i, (metric, _) in enumerate(tr.series):
        by_metric.setdefault(metric, []).append(i)
    times = [int(tr.tick_time(k).timestamp()) for k in range(tr.ticks)]
    lines = []
    for metric, indices in by_metric.items():
        lines.append(f"# TYPE {metric} unknown")
        for i in indices:
            prefix = metric + _labels_text(tr.series[i][1])
            values = tr.values(i)
            lines.extend(f"{prefix} {values[k]:.17g} {times[k]}" for k in range(tr.ticks))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# --- ClickHouse -------------------------------------------------------------------------------------
def series_key(metric: str, labels: dict[str, str]) -> int:
    text = "\x00".join([metric, *(x for kv in sorted(labels.items()) for x in kv)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def insert(store, tr: Traffic, duplicate_usage: int = 500) -> None:
    """Series, samples (value and delta) and usage rows; ``duplicate_usage`` events are inserted a
    second time (a retried batch with another token), which reports must count once."""
    first, last = tr.start, tr.tick_time(tr.ticks - 1)
    store.insert_arrow("series", pa.Table.from_pylist(
        [{"series_id": series_key(m, lab), "metric": m, "labels": list(lab.items()), "source": "generic",
          "target": "synthetic", "first_seen": first, "last_seen": last} for m, lab in tr.series],
        schema=schemas.SERIES))
    ts = pa.array([int(tr.tick_time(k).timestamp() * 1000) for k in range(tr.ticks)], pa.int64())
    ts = ts.cast(schemas.SAMPLES.field("ts").type)
    tables = []
    for i, (metric, labels) in enumerate(tr.series):
        sid = series_key(metric, labels)
        tables.append(pa.Table.from_arrays(
            [pa.array(np.full(tr.ticks, sid, np.uint64)), ts, pa.array(tr.values(i)), pa.array(tr.deltas(i))],
            schema=schemas.SAMPLES))
    store.insert_arrow("samples", pa.concat_tables(tables), dedup_token="samples-1")
    store.insert_arrow("usage", pa.Table.from_pylist(tr.events, schema=schemas.USAGE), dedup_token="usage-1")
    if duplicate_usage:
        again = tr.events[:: max(1, len(tr.events) // duplicate_usage)]
        store.insert_arrow("usage", pa.Table.from_pylist(again, schema=schemas.USAGE), dedup_token="usage-2")
