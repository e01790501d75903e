"""The prefill/decode time split: how much of a deployment's GPU time went to each phase.

vLLM observes, for every finished request, the seconds it spent in prefill and in decode
(``vllm:request_prefill_time_seconds`` and ``vllm:request_decode_time_seconds``, histograms). The
sidecar stores their ``_sum`` series with a reset-aware per-scrape ``delta``, rolled up per minute
in ``samples_1m``. Per (deployment, window) this module sums those deltas into prefill and
decode seconds; the engine then cuts each minute's GPU-seconds in that window into a prefill part
(split by input work) and a decode part (split by output work).

A series' deployment is its ``deployment`` label (a target's static label), else its instance
(``pod``, else ``target``) looked up among the instances the engine discovered in the period's
allocation heartbeats; series with neither are ignored. Windows divide the day, so the days of a month computed one by one give the month.

One write: the rows land in the engine's scratch table ``phase`` (``dw`` = window · stride +
deployment index, prefill and decode seconds); nothing comes back to Python but a count.
"""

from __future__ import annotations

from infermeter.chargeback import conventions as c
from infermeter.ingest import conventions as tables
from infermeter.ingest.store.base import Store

SCRATCH_COLUMNS = "(dw UInt32, prefill Float64, decode Float64)"


def fill(store: Store, scratch_table: str, base: dict, window_minutes: int, instances: dict[str, str]) -> int:
    """Insert per (deployment, window) prefill and decode seconds of ``[start, end)`` into
    ``scratch_table``; returns how many (deployment, window) rows have timing data.

    ``instances`` maps the period's heartbeat instances to their deployments (the engine's discovery).
    """
    labels = c.INSTANCE_LABELS
    instance_of = "multiIf(" + ", ".join(f"l[{{il{i}:String}}] != '', l[{{il{i}:String}}]" for i in range(len(labels))) + ", '')"
    params = {
        **base,
        "metrics": [c.PREFILL_TIME_SUM, c.DECODE_TIME_SUM],
        "decode_metric": c.DECODE_TIME_SUM,
        "dep_label": c.DEPLOYMENT_LABEL,
        "insts": list(instances),
        "inst_deps": list(instances.values()),
        "win_ms": window_minutes * 60_000,
        **{f"il{i}": label for i, label in enumerate(labels)},
    }
    store.command(
        f"""INSERT INTO {scratch_table} (dw, prefill, decode)
SELECT toUInt32(intDiv(toInt64(toUnixTimestamp(m.ts)) * 1000 - {{p0:Int64}}, {{win_ms:Int64}}) * {{stride:UInt32}} + s.di) AS dw,
       sumIf(greatest(m.delta, 0.), s.is_decode = 0) AS prefill, sumIf(greatest(m.delta, 0.), s.is_decode = 1) AS decode
FROM {tables.SAMPLES_1M} AS m
INNER JOIN (
    SELECT series_id, is_decode,
           transform(if(dep != '', dep, transform(inst, {{insts:Array(String)}}, {{inst_deps:Array(String)}}, '')),
                     {{deps:Array(String)}}, {{dep_ids:Array(UInt32)}}, toUInt32(0)) AS di
    FROM (
        SELECT series_id, any(metric) = {{decode_metric:String}} AS is_decode, any(labels) AS l,
               l[{{dep_label:String}}] AS dep, {instance_of} AS inst
        FROM {tables.SERIES} WHERE metric IN {{metrics:Array(String)}} GROUP BY series_id
    )
    WHERE di > 0
) AS s ON m.series_id = s.series_id
WHERE m.ts >= {{start:DateTime64(3)}} AND m.ts < {{end:DateTime64(3)}} AND isFinite(m.delta)
GROUP BY dw
HAVING prefill + decode > 0""",
        params,
    )
    return int(store.query_scalar(f"SELECT count() FROM {scratch_table}") or 0)
