"""The attribution engine's SQL: the heavy work, done in ClickHouse where the data is.

For a period ``[start, end)`` (whole UTC days) the engine never pulls events into Python:

1. *held*: allocation heartbeats (``gpu_allocation FINAL``) are spread over the minutes they
   cover (a heartbeat at ``ts`` covers ``[ts - interval_s, ts)``) and summed per (deployment,
   minute, sku) as integer GPU-milliseconds (``interval · fraction``) and instance-milliseconds.
2. *work*: usage (``usage FINAL``: a duplicated ``event_id`` counts once) summed per
   (deployment, minute) as weighted tokens. Token-priced models do no GPU work.
3. *summary*: per (deployment, day, sku) the GPU-milliseconds held and the idle ones (held in
   minutes without work), exact integers.
4. *attribution*: per (deployment, minute, sku) a rate, GPU-ms per unit of work, laid out as one
   dense array indexed by (deployment, minute) and read by every event through a plain array
   lookup (no per-event join, no per-minute groups); events are summed per (day, tenant,
   deployment, model): tens of thousands of rows, whatever the number of events.

Steps 1 and 2 land in two scratch tables (dropped at the end) so that 3 and 4 reuse them. The
period is cut into chunks of days so that no rate array exceeds ``max_cells`` entries.

What made it fast (100 million events, 2 cores; bench/bench_chargeback.py): names become ids
through ``transform()``, computed once per distinct value of a LowCardinality column (``indexOf``
per row cost 100x more); whole months select partitions (``_partition_id``) instead of filtering
``ts`` row by row (1 s of CPU per pass); step 2 groups on one UInt32 cell key and step 4 on one
packed UInt64 key instead of several columns; token-priced exclusions are ``transform()``
multipliers rather than per-row ``IN`` tests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import pyarrow as pa

from infermeter.chargeback import phases
from infermeter.chargeback.config import Weights
from infermeter.ingest.conventions import GPU_ALLOCATION, USAGE
from infermeter.ingest.store.base import Store

MINUTES_PER_DAY = 1440
MS_PER_DAY = 86_400_000
SEP = "\x1f"
DEFAULT_MAX_CELLS = 8_000_000


@dataclass
class Discovery:
    """The deployments that held GPUs in the period (index order), their skus, the heartbeat rows.

    Usage on any other deployment had no GPU under it: its events keep their tokens and get no
    GPU-hours (their lines are flagged), so the engine need not scan usage to list deployments.
    """

    deployments: list[str]
    skus: dict[str, list[tuple[str, str]]]  # deployment -> [(gpu_model, mig_profile)] by slot
    heartbeat_rows: int
    instances: dict[str, str] = field(default_factory=dict)  # instance -> deployment

    @property
    def max_slots(self) -> int:
        return max((len(v) for v in self.skus.values()), default=0)


@dataclass
class Aggregates:
    """The engine's SQL output: small, exact where it matters."""

    start: dt.date
    end: dt.date
    discovery: Discovery
    # (deployment, day, slot) -> (held_ms, inst_ms, idle_ms)
    held: dict[tuple[str, dt.date, int], tuple[int, int, int]] = field(default_factory=dict)
    # columns: day_index (days after start), tenant, deployment, model, g0..g{S-1} (GPU-ms, float), requests, input_tokens,
    # cached_input_tokens, output_tokens
    usage: pa.Table | None = None
    usage_watermark: dt.datetime | None = None
    # (deployment, window) pairs with vLLM prefill/decode timing: 0 = token weights alone
    phase_windows: int = 0


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)


def _ts(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def discover(store: Store, start: dt.date, end: dt.date) -> Discovery:
    """Deployments, skus and instances that held GPUs in the period (a scan of low-cardinality columns)."""
    p = {"start": _ts(start), "end": _ts(end), "end_plus": _ts(end + dt.timedelta(days=1))}
    rows = store.query_rows(
        f"SELECT deployment, gpu_model, mig_profile, instance, count() FROM {GPU_ALLOCATION} "
        "WHERE ts > {start:DateTime64(3)} AND ts < {end_plus:DateTime64(3)} "
        "AND toUnixTimestamp64Milli(ts) - toInt64(round(interval_s * 1000)) < toUnixTimestamp64Milli({end:DateTime64(3)}) "
        "GROUP BY deployment, gpu_model, mig_profile, instance ORDER BY deployment, gpu_model, mig_profile, instance",
        p,
    )
    skus: dict[str, list[tuple[str, str]]] = {}
    instances: dict[str, str] = {}
    for dep, model, mig, instance, _n in rows:
        slots = skus.setdefault(dep, [])
        if not slots or slots[-1] != (model, mig):
            slots.append((model, mig))
        if instance:
            instances.setdefault(instance, dep)
    return Discovery(
        deployments=sorted(skus), skus=skus, heartbeat_rows=sum(int(r[4]) for r in rows), instances=instances
    )


# Weighted tokens of one request: its input work (prefill; cached input clamped to the input) and
# its output work (decode). Token-priced models and deployments do no GPU work: multipliers from
# ``transform()`` on the LowCardinality columns (computed once per distinct value, not per row).
_INPUT_WORK = (
    "toFloat64(input_tokens) * {w_in:Float64} + toFloat64(least(cached_input_tokens, input_tokens)) * {w_cached_delta:Float64}"
)
_OUTPUT_WORK = "toFloat64(output_tokens) * {w_out:Float64}"
_EXCLUDED = (
    " * transform(model, {tok_models:Array(String)}, {tok_models_zero:Array(Float64)}, 1.)"
    " * transform(deployment, {tok_deps:Array(String)}, {tok_deps_zero:Array(Float64)}, 1.)"
)


def _prefill_work_expr() -> str:
    return f"({_INPUT_WORK}){_EXCLUDED}"


def _decode_work_expr() -> str:
    return f"({_OUTPUT_WORK}){_EXCLUDED}"


def _work_expr() -> str:
    return f"({_INPUT_WORK} + {_OUTPUT_WORK}){_EXCLUDED}"


def _usage_period(store: Store, start: dt.date, end: dt.date, prefix: str) -> tuple[str, dict]:
    """The WHERE condition selecting usage of ``[start, end)``, and its parameters.

    Whole months select whole partitions (``_partition_id``), which costs nothing per row; a row
    filter on ``ts`` over 100 million rows costs about a second of CPU.
    """
    params = {f"{prefix}start": _ts(start), f"{prefix}end": _ts(end)}
    row_filter = f"ts >= {{{prefix}start:DateTime64(3)}} AND ts < {{{prefix}end:DateTime64(3)}}"
    if start.day != 1 or end.day != 1 or _usage_partition_key(store) != "toYYYYMM(ts)":
        return row_filter, params
    months = []
    day = start
    while day < end:
        months.append(f"{day.year:04d}{day.month:02d}")
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    params[f"{prefix}parts"] = months
    return f"_partition_id IN {{{prefix}parts:Array(String)}}", params


def _usage_partition_key(store: Store) -> str:
    key = store.query_scalar(
        "SELECT partition_key FROM system.tables WHERE database = {d:String} AND name = {t:String}",
        {"d": store.database, "t": USAGE},
    )
    return (key or "").replace(" ", "")


class _Scratch:
    """Two scratch tables for one engine pass.

    Keyed by *cell* = minute · stride + deployment index (1-based; ``stride`` = deployments + 1), so
    the cells of one minute, and of one day, are adjacent, and index 0 of each minute is never a
    deployment: events on a deployment that held no GPU read a zero there.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        tag = uuid.uuid4().hex[:12]
        self.held = f"_chargeback_held_{tag}"
        self.work = f"_chargeback_work_{tag}"
        self.phase = f"_chargeback_phase_{tag}"

    def __enter__(self) -> "_Scratch":
        self.store.command(
            f"CREATE TABLE {self.held} (slot UInt8, cell UInt32, held_ms Int64, inst_ms Int64) "
            "ENGINE = MergeTree ORDER BY (slot, cell)"
        )
        self.store.command(
            f"CREATE TABLE {self.work} (cell UInt32, pre Float64, dec Float64) ENGINE = MergeTree ORDER BY cell"
        )
        self.store.command(f"CREATE TABLE {self.phase} {phases.SCRATCH_COLUMNS} ENGINE = MergeTree ORDER BY dw")
        return self

    def __exit__(self, *exc: object) -> None:
        for name in (self.held, self.work, self.phase):
            try:
                self.store.command(f"DROP TABLE IF EXISTS {name}")
            except Exception:  # pragma: no cover - best effort cleanup
                pass


def aggregate(
    store: Store,
    start: dt.date,
    end: dt.date,
    weights: Weights,
    *,
    token_models: frozenset[str] | set[str] = frozenset(),
    token_deployments: frozenset[str] | set[str] = frozenset(),
    discovery: Discovery | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    progress=None,
) -> Aggregates:
    """Run the engine's SQL for ``[start, end)`` and return the small aggregated result."""
    disc = discovery or discover(store, start, end)
    out = Aggregates(start=start, end=end, discovery=disc)
    deps = disc.deployments
    n_days = (end - start).days
    minutes = n_days * MINUTES_PER_DAY
    stride = len(deps) + 1
    if minutes * stride >= 2**32:
        raise ValueError(f"period too long for {len(deps)} deployments: run it month by month")
    slots = disc.max_slots
    sku_keys, sku_di, sku_slot = [], [], []
    for di, dep in enumerate(deps, start=1):
        for slot, (model, mig) in enumerate(disc.skus.get(dep, [])):
            sku_keys.append(SEP.join((dep, model, mig)))
            sku_di.append(di)
            sku_slot.append(slot)
    base = {
        "start": _ts(start),
        "end": _ts(end),
        "end_plus": _ts(end + dt.timedelta(days=1)),
        "p0": _ms(start),
        "minutes": minutes,
        "stride": stride,
        "deps": deps,
        "dep_ids": list(range(1, len(deps) + 1)),
        "tok_models": sorted(token_models),
        "tok_models_zero": [0.0] * len(token_models),
        "tok_deps": sorted(token_deployments),
        "tok_deps_zero": [0.0] * len(token_deployments),
        "w_in": float(weights.input),
        "w_cached_delta": float(weights.cached) - float(weights.input),
        "w_out": float(weights.output),
    }
    # Everything ingested before this instant is in the run (the store's clock, as ``ingested_at``).
    out.usage_watermark = store.query_scalar("SELECT now64(3, 'UTC')")
    with _Scratch(store) as scratch:
        if sku_keys:
            store.command(
                f"""INSERT INTO {scratch.held} (slot, cell, held_ms, inst_ms)
SELECT {{sku_slot:Array(UInt8)}}[k] AS slot, toUInt32(mi * {{stride:UInt32}} + {{sku_di:Array(UInt32)}}[k]) AS cell,
       sum(h) AS held_ms, sum(o) AS inst_ms
FROM (
    SELECT k, mi, toInt64(round(o * fraction)) AS h, o
    FROM (
        SELECT transform(concat(deployment, '{SEP}', gpu_model, '{SEP}', mig_profile), {{sku_keys:Array(String)}},
                         {{sku_ids:Array(UInt32)}}, toUInt32(0)) AS k,
               fraction,
               toUnixTimestamp64Milli(ts) - {{p0:Int64}} AS e,
               e - toInt64(round(interval_s * 1000)) AS s,
               arrayJoin(range(toInt64(floor(s / 60000)), toInt64(floor((e - 1) / 60000)) + 1)) AS mi,
               least(e, (mi + 1) * 60000) - greatest(s, mi * 60000) AS o
        FROM {GPU_ALLOCATION} FINAL
        WHERE ts > {{start:DateTime64(3)}} AND ts < {{end_plus:DateTime64(3)}}
    )
    WHERE k > 0 AND mi >= 0 AND mi < {{minutes:Int64}}
)
GROUP BY slot, cell""",
                {**base, "sku_keys": sku_keys, "sku_ids": list(range(1, len(sku_keys) + 1)), "sku_di": sku_di, "sku_slot": sku_slot},
            )
        if progress:
            progress("held")
        # One UInt32 key per (deployment, minute): a far cheaper hash table than a pair of keys.
        # Usage on deployments that held no GPU (di = 0) does no GPU work.
        period, period_params = _usage_period(store, start, end, "u")
        if deps:
            store.command(
                f"""INSERT INTO {scratch.work} (cell, pre, dec)
SELECT cell, sum(wp) AS pre, sum(wd) AS dec
FROM (
    SELECT transform(deployment, {{deps:Array(String)}}, {{dep_ids:Array(UInt32)}}, toUInt32(0)) AS di,
           toUInt32(intDiv(toUnixTimestamp64Milli(ts) - {{p0:Int64}}, 60000) * {{stride:UInt32}} + di) AS cell,
           {_prefill_work_expr()} AS wp, {_decode_work_expr()} AS wd
    FROM {USAGE} FINAL
    WHERE {period} AND di > 0
)
GROUP BY cell
HAVING pre + dec > 0""",
                {**base, **period_params},
            )
        if progress:
            progress("work")
        if deps and weights.phase_split:
            out.phase_windows = phases.fill(store, scratch.phase, base, weights.phase_window_minutes, disc.instances)
            if progress:
                progress("phases")
        for day_index, di, slot, held_ms, inst_ms, idle_ms in store.query_rows(
            f"""SELECT intDiv(h.cell, {{stride:UInt32}} * {MINUTES_PER_DAY}) AS d, h.cell % {{stride:UInt32}} AS di, h.slot,
       sum(h.held_ms), sum(h.inst_ms), sumIf(h.held_ms, w.pre + w.dec = 0)
FROM {scratch.held} AS h LEFT JOIN {scratch.work} AS w ON h.cell = w.cell
GROUP BY d, di, h.slot""",
            base,
        ):
            day = start + dt.timedelta(days=int(day_index))
            out.held[(deps[int(di) - 1], day, int(slot))] = (int(held_ms), int(inst_ms), int(idle_ms))
        if progress:
            progress("summary")
        days_per_chunk = max(1, min(n_days, max_cells // (stride * MINUTES_PER_DAY)))
        split = weights.phase_window_minutes if out.phase_windows else None
        names = _usage_names(store, period, period_params)
        tables = []
        for d0 in range(0, n_days, days_per_chunk):
            d1 = min(n_days, d0 + days_per_chunk)
            tables.append(_attribute_chunk(store, scratch, base, start, d0, d1, slots, names, split))
            if progress:
                progress(f"days {d0}-{d1}")
        out.usage = pa.concat_tables(tables)
    return out


# The packed group key of the attribution query: day (9 bits) | tenant (24) | deployment (16) | model (15).
_KEY_BITS = {"day": 9, "tenant": 24, "deployment": 16, "model": 15}


@dataclass
class _Names:
    """The distinct tenants, deployments and models of the period's usage (ids are 1-based; 0 = unknown)."""

    tenants: list[str]
    deployments: list[str]
    models: list[str]

    def fit(self, days: int) -> bool:
        b = _KEY_BITS
        return (
            days < 2 ** b["day"] and len(self.tenants) < 2 ** b["tenant"]
            and len(self.deployments) < 2 ** b["deployment"] and len(self.models) < 2 ** b["model"]
        )


def _usage_names(store: Store, period: str, params: dict) -> _Names:
    """DISTINCT on a LowCardinality column reads its dictionary positions: cheap."""

    def distinct(column: str) -> list[str]:
        return sorted(r[0] for r in store.query_rows(f"SELECT DISTINCT {column} FROM {USAGE} WHERE {period}", params))

    return _Names(distinct("tenant"), distinct("deployment"), distinct("model"))


def _attribute_chunk(
    store: Store, scratch: _Scratch, base: dict, start: dt.date, d0: int, d1: int, slots: int, names: _Names | None,
    split: int | None = None,
) -> pa.Table:
    """Per (day, tenant, deployment, model) of days ``[d0, d1)``: GPU-ms by sku slot, requests, tokens.

    Without ``split`` an event's GPU-ms on a slot = its work x the minute's rate (held / work).
    With ``split`` (the phase window in minutes) each minute's held GPU-ms are cut into a prefill
    share ``p`` (the window's measured prefill time / (prefill + decode); where the window has no
    timing, or the minute has no input or no output work, the minute's input work / total work)
    and the rest; an event's GPU-ms = held x (input work x p / the minute's input work + output
    work x (1 - p) / the minute's output work). Either way the events of a minute with work share
    exactly its held GPU-ms.

    With ``names`` the groups are keyed by one packed UInt64 (ids from ``transform()``, which runs
    per distinct value), far cheaper to hash than four columns; a name that was not in ``names``
    (a row ingested meanwhile) reads id 0, and the chunk is then grouped by the columns instead.
    """
    stride = base["stride"]
    c0 = d0 * MINUTES_PER_DAY * stride
    period, period_params = _usage_period(store, start + dt.timedelta(days=d0), start + dt.timedelta(days=d1), "c")
    params = {
        **base,
        **period_params,
        "c0": c0,
        "c1": d1 * MINUTES_PER_DAY * stride,
        "m0": d0 * MINUTES_PER_DAY,
        "d0": d0,
        "cells": (d1 - d0) * MINUTES_PER_DAY * stride,
    }
    # Array position (0-based) of a scratch cell within the chunk: cell - c0.
    def work_arr(column: str) -> str:
        return (
            f"(SELECT groupArrayInsertAt(0., {{cells:UInt64}})({column}, toUInt32(cell - {{c0:UInt32}})) FROM {scratch.work} "
            "WHERE cell >= {c0:UInt32} AND cell < {c1:UInt32})"
        )

    scalars = []
    sums = []
    if split:
        # Phase rows of the chunk: dw = window · stride + deployment index; the chunk starts a window.
        win_cells = (d1 - d0) * MINUTES_PER_DAY // split * stride
        params.update(win=split, w0=d0 * MINUTES_PER_DAY // split * stride, win_cells=win_cells)
        phase_arr = (
            f"(SELECT groupArrayInsertAt(-1., {{win_cells:UInt64}})(prefill / (prefill + decode), toUInt32(dw - {{w0:UInt32}})) "
            f"FROM {scratch.phase} WHERE dw >= {{w0:UInt32}} AND dw < {{w0:UInt32}} + {{win_cells:UInt32}})"
        )
        ph_at = "PH[intDiv(intDiv(i, {stride:UInt32}), {win:UInt32}) * {stride:UInt32} + i % {stride:UInt32} + 1]"
        share = f"multiIf(a > 0 AND b > 0 AND {ph_at} >= 0, {ph_at}, a + b > 0, a / (a + b), 0.)"
        # Per cell, the held share per unit of input work (fp) and of output work (fd).
        factor = {
            name: f"(SELECT arrayMap((a, b, i) -> {expr}, A, B, range({{cells:UInt64}})) FROM "
            f"(SELECT {work_arr('pre')} AS A, {work_arr('dec')} AS B, {phase_arr} AS PH))"
            for name, expr in (("fp", f"if(a > 0, ({share}) / a, 0.)"), ("fd", f"if(b > 0, (1. - ({share})) / b, 0.)"))
        }
    for s in range(slots):
        params[f"slot{s}"] = s
        held_arr = (
            f"(SELECT groupArrayInsertAt(toInt64(0), {{cells:UInt64}})(held_ms, toUInt32(cell - {{c0:UInt32}})) "
            f"FROM {scratch.held} WHERE slot = {{slot{s}:UInt8}} AND cell >= {{c0:UInt32}} AND cell < {{c1:UInt32}})"
        )
        # One scalar subquery per slot, so the array is built once, not once per block.
        if split:
            # GPU-ms per unit of input work and of output work: two lookups per event and slot.
            scalars.append(f"(SELECT arrayMap((h, f) -> h * f, {held_arr}, {factor['fp']})) AS ratep{s}")
            scalars.append(f"(SELECT arrayMap((h, f) -> h * f, {held_arr}, {factor['fd']})) AS rated{s}")
            sums.append(f"sum(wp * ratep{s}[pos] + wd * rated{s}[pos]) AS g{s}")
        else:
            scalars.append(f"(SELECT arrayMap((h, w) -> if(w > 0, h / w, 0.), {held_arr}, {work_arr('pre + dec')})) AS rate{s}")
            sums.append(f"sum(w * rate{s}[pos]) AS g{s}")
    with_clause = ("WITH " + ",\n     ".join(scalars)) if slots else ""
    select_g = "".join(f"{x},\n       " for x in sums)
    aggregates = (
        f"{select_g}count() AS requests, sum(input_tokens) AS input_tokens,\n"
        "       sum(cached_input_tokens) AS cached_input_tokens, sum(output_tokens) AS output_tokens"
    )
    # pos: 1-based array index; a deployment that held no GPU (di = 0) reads the minute's zero slot.
    if split and slots:
        work = f"{_prefill_work_expr()} AS wp, {_decode_work_expr()} AS wd"
    else:
        work = f"{_work_expr()} AS w"
    inner = f"""    SELECT tenant, deployment, model, input_tokens, cached_input_tokens, output_tokens,
           toUInt32(intDiv(toUnixTimestamp64Milli(ts) - {{p0:Int64}}, 60000) - {{m0:Int64}}) AS m,
           m * {{stride:UInt32}} + transform(deployment, {{deps:Array(String)}}, {{dep_ids:Array(UInt32)}}, toUInt32(0)) + 1 AS pos,
           {work}
    FROM {USAGE} FINAL
    WHERE {period}"""
    if names is not None and names.fit(d1 - d0):
        b = _KEY_BITS
        m_bits, d_bits, t_bits = b["model"], b["model"] + b["deployment"], b["model"] + b["deployment"] + b["tenant"]
        params.update(
            n_tenants=names.tenants, n_tids=list(range(1, len(names.tenants) + 1)),
            n_deps=names.deployments, n_dids=list(range(1, len(names.deployments) + 1)),
            n_models=names.models, n_mids=list(range(1, len(names.models) + 1)),
        )
        key = (
            f"bitOr(bitOr(bitShiftLeft(toUInt64(intDiv(m, {MINUTES_PER_DAY})), {t_bits}), "
            f"bitShiftLeft(toUInt64(transform(tenant, {{n_tenants:Array(String)}}, {{n_tids:Array(UInt32)}}, toUInt32(0))), {d_bits})), "
            f"bitOr(bitShiftLeft(toUInt64(transform(deployment, {{n_deps:Array(String)}}, {{n_dids:Array(UInt32)}}, toUInt32(0))), {m_bits}), "
            f"toUInt64(transform(model, {{n_models:Array(String)}}, {{n_mids:Array(UInt32)}}, toUInt32(0)))))"
        )
        packed = store.query_arrow(f"{with_clause}\nSELECT {key} AS k,\n       {aggregates}\nFROM (\n{inner}\n)\nGROUP BY k", params)
        decoded = _decode(packed, names, d0)
        if decoded is not None:
            return decoded
    sql = f"""{with_clause}
SELECT toUInt16({{d0:UInt16}} + intDiv(m, {MINUTES_PER_DAY})) AS day_index, tenant, deployment, model,
       {aggregates}
FROM (
{inner}
)
GROUP BY intDiv(m, {MINUTES_PER_DAY}) AS dd, tenant, deployment, model"""
    return store.query_arrow(sql, params)


def _decode(packed: pa.Table, names: _Names, d0: int) -> pa.Table | None:
    """The packed keys back to (day_index, tenant, deployment, model); None if a name was unknown."""
    import numpy as np

    b = _KEY_BITS
    keys = packed.column("k").to_numpy()
    model = (keys & ((1 << b["model"]) - 1)).astype(np.int64)
    dep = ((keys >> b["model"]) & ((1 << b["deployment"]) - 1)).astype(np.int64)
    tenant = ((keys >> (b["model"] + b["deployment"])) & ((1 << b["tenant"]) - 1)).astype(np.int64)
    day = (keys >> (b["model"] + b["deployment"] + b["tenant"])).astype(np.int64)
    if len(keys) and (model.min() == 0 or dep.min() == 0 or tenant.min() == 0):
        return None

    def names_of(values: list[str], ids) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(ids - 1, pa.int32()), pa.array(values, pa.string())).cast(pa.string())

    columns = {
        "day_index": pa.array(day + d0, pa.uint16()),
        "tenant": names_of(names.tenants, tenant),
        "deployment": names_of(names.deployments, dep),
        "model": names_of(names.models, model),
    }
    for name in packed.column_names[1:]:
        columns[name] = packed.column(name)
    return pa.table(columns)
