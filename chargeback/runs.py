"""Chargeback runs: idempotent, versioned, recorded; late events become adjustments.

``run_month`` computes a month's ledger lines and records the run in ``chargeback_runs``:

- Each run of a month gets the next *version* and a run id ``YYYY-MM-vN-xxxxxxxx``. Its lines
  are written first, then the run is marked ``complete``; only then are the lines of the month's
  earlier runs deleted. Readers take the latest complete run (:func:`latest_run`), so a crash
  mid-run leaves the previous version in force, and re-running a month replaces its lines.
- Re-running a month records what changed since the version it supersedes: the events ingested
  after that run's watermark, and the difference in cost.
- Late events for an earlier month that is already billed (it has a complete run) do not reopen
  it: the next run of a later month recomputes that month, compares it with what was billed
  (its run plus any adjustments since) and writes the difference as ``adjustment`` lines, dated on
  the days they belong to, with ``adjusts_run_id`` naming the run they correct. Re-running a month
  that a later month has already been run after is refused for the same reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from infermeter.chargeback import conventions as c
from infermeter.chargeback.engine import EngineInput, Held, Line, attribute, usage_groups
from infermeter.chargeback.engine_sql import aggregate, discover
from infermeter.ingest.deletes import delete_where
from infermeter.chargeback.ledger import insert_lines, read_lines
from infermeter.chargeback.money import nano_to_decimal
from infermeter.chargeback.prices import PriceCatalog
from infermeter.chargeback.tenancy import Tenancy
from infermeter.errors import ConfigError
from infermeter.ingest.conventions import CHARGEBACK_RUNS, LEDGER, USAGE
from infermeter.ingest.store.base import Store


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` -> (first day, first day of the next month)."""
    try:
        year, mon = (int(part) for part in month.split("-"))
        start = dt.date(year, mon, 1)
    except (ValueError, TypeError):
        raise ConfigError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11") from None
    if len(month) != 7:
        raise ConfigError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11")
    end = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return start, end


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _shift(month_start: dt.date, months: int) -> dt.date:
    index = month_start.year * 12 + month_start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class RunInfo:
    """One row of ``chargeback_runs`` (the latest state of a run)."""

    run_id: str
    month: str
    period_start: dt.date
    period_end: dt.date
    version: int
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    usage_watermark: dt.datetime | None
    notes: dict

    @property
    def label(self) -> str:
        return f"{self.month} v{self.version} ({self.run_id})"


def list_runs(store: Store, month: str | None = None) -> list[RunInfo]:
    """Every run (of ``month``, or all), oldest first, each in its latest state."""
    where, params = "", {}
    if month is not None:
        start, _ = month_bounds(month)
        where, params = "WHERE period_start = {p:Date}", {"p": start}
    rows = store.query_rows(
        f"""SELECT run_id, any(period_start), any(period_end), max(version),
       argMax(status, ifNull(finished_at, started_at)), min(started_at), max(finished_at),
       argMax(usage_watermark, ifNull(finished_at, started_at)), argMax(notes, ifNull(finished_at, started_at))
FROM {CHARGEBACK_RUNS} {where}
GROUP BY run_id ORDER BY min(started_at), run_id""",
        params,
    )
    out = []
    for run_id, ps, pe, version, status, started, finished, watermark, notes in rows:
        try:
            parsed = json.loads(notes) if notes else {}
        except ValueError:
            parsed = {"text": notes}
        out.append(RunInfo(run_id, month_of(ps), ps, pe, int(version), status, started, finished, watermark, parsed))
    return out


def latest_run(store: Store, month: str) -> RunInfo | None:
    """The month's latest complete run: the one whose lines are in force."""
    complete = [r for r in list_runs(store, month) if r.status == c.STATUS_COMPLETE]
    return max(complete, key=lambda r: (r.version, r.started_at)) if complete else None


@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector while hundreds of thousands of lines are built.

    The lines hold no reference cycles; without this, the collector walks every live line again
    and again as they are made (a third of the time of the Python step).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Computation:
    lines: list[Line]
    usage_watermark: dt.datetime | None
    usage_events: int
    heartbeat_rows: int
    timings: dict[str, float] = field(default_factory=dict)
    phase_windows: int = 0  # (deployment, window) pairs split by vLLM's prefill/decode time


def compute_lines(
    store: Store, start: dt.date, end: dt.date, prices: PriceCatalog, tenancy: Tenancy, *, progress=None, max_cells: int | None = None
) -> Computation:
    """The ledger lines of the days ``[start, end)`` (no writes except the engine's scratch tables)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    disc = discover(store, start, end)
    kwargs = {} if max_cells is None else {"max_cells": max_cells}
    agg = aggregate(
        store, start, end, tenancy.weights,
        token_models=prices.token_models, token_deployments=tenancy.token_deployments(),
        discovery=disc, progress=progress, **kwargs,
    )
    t1 = time.perf_counter()
    timings["sql"] = t1 - t0
    with no_gc():
        groups = usage_groups(agg.usage, disc.max_slots, start)
        events = sum(g.requests for g in groups)
        if not groups and not agg.held:
            raise ConfigError(
                f"no usage events and no GPU allocation heartbeats from {start} to {end - dt.timedelta(days=1)} "
                f"in database {store.database}: nothing to charge (is the month right? was the data ingested?)"
            )
        held = {k: Held(*v) for k, v in agg.held.items()}
        lines = attribute(EngineInput(disc.skus, held, groups), prices, tenancy)
    timings["attribute"] = time.perf_counter() - t1
    return Computation(lines, agg.usage_watermark, events, disc.heartbeat_rows, timings, agg.phase_windows)


@dataclass
class RunResult:
    run_id: str
    month: str
    version: int
    lines: int
    total: Decimal
    currency: str
    supersedes: str | None
    issues: dict[str, int]
    adjustments: dict[str, Decimal]
    usage_events: int
    late_events: int | None
    cost_change: Decimal | None
    timings: dict[str, float]
    notes: dict


def _insert_run(store: Store, run_id: str, start: dt.date, end: dt.date, version: int, status: str,
                started: dt.datetime, finished: dt.datetime | None, watermark: dt.datetime | None, notes: dict) -> None:
    store.command(
        f"INSERT INTO {CHARGEBACK_RUNS} (run_id, period_start, period_end, version, status, started_at, finished_at, "
        "usage_watermark, notes) VALUES ({r:String}, {ps:Date}, {pe:Date}, {v:UInt32}, {s:String}, "
        "{st:DateTime64(3)}, {f:Nullable(DateTime64(3))}, {w:Nullable(DateTime64(3))}, {n:String})",
        {"r": run_id, "ps": start, "pe": end, "v": version, "s": status, "st": started, "f": finished, "w": watermark,
         "n": json.dumps(notes, default=str, sort_keys=True)},
    )


def _now(store: Store) -> dt.datetime:
    return store.query_scalar("SELECT now64(3, 'UTC')")


def run_month(
    store: Store,
    month: str,
    prices: PriceCatalog,
    tenancy: Tenancy,
    *,
    adjust_months: int = 3,
    progress=None,
) -> RunResult:
    """Compute and record the chargeback of ``month`` (see the module docstring)."""
    start, end = month_bounds(month)
    timings: dict[str, float] = {}
    runs = list_runs(store)
    later = [r for r in runs if r.period_start > start and r.status == c.STATUS_COMPLETE]
    if later:
        raise ConfigError(
            f"{month} is closed: {later[-1].label} was run after it; late events for {month} appear as "
            f"adjustment lines in the next run of {later[-1].month}"
        )
    mine = [r for r in runs if r.period_start == start]
    version = max((r.version for r in mine), default=0) + 1
    previous = max((r for r in mine if r.status == c.STATUS_COMPLETE), key=lambda r: r.version, default=None)
    run_id = f"{month}-v{version}-{uuid.uuid4().hex[:8]}"
    started = _now(store)
    base_notes = {
        "version": version,
        "prices": {"file": str(prices.source), "version": prices.version, "sha256": prices.digest},
        "tenancy": {"file": str(tenancy.source), "sha256": tenancy.digest},
        "idle_policy": tenancy.idle_policy,
        "weights": tenancy.weights.model_dump(),
        "supersedes": previous.run_id if previous else None,
    }
    _insert_run(store, run_id, start, end, version, c.STATUS_RUNNING, started, None, None, base_notes)
    try:
        comp = compute_lines(store, start, end, prices, tenancy, progress=progress)
        timings.update(comp.timings)
        t = time.perf_counter()
        adjustments, checked = _adjustments(store, start, runs, prices, tenancy, adjust_months, progress)
        timings["adjustments"] = time.perf_counter() - t
        lines = comp.lines + adjustments
        t = time.perf_counter()
        with no_gc():
            insert_lines(store, lines, run_id, start, prices.currency)
        timings["insert"] = time.perf_counter() - t
    except BaseException as exc:
        _insert_run(store, run_id, start, end, version, c.STATUS_FAILED, started, _now(store), None,
                    {**base_notes, "error": str(exc)[:500]})
        raise
    total = nano_to_decimal(sum(ln.cost for ln in lines), c.COST_PLACES)
    month_total = nano_to_decimal(sum(ln.cost for ln in comp.lines), c.COST_PLACES)
    issues = Counter(ln.issue for ln in lines if ln.issue)
    adj_totals: dict[str, Decimal] = {}
    for ln in adjustments:
        key = month_of(ln.day)
        adj_totals[key] = adj_totals.get(key, Decimal(0)) + nano_to_decimal(ln.cost, c.COST_PLACES)
    late = change = None
    if previous is not None:
        late = int(store.query_scalar(
            f"SELECT count() FROM {USAGE} WHERE ts >= {{s:DateTime64(3)}} AND ts < {{e:DateTime64(3)}} AND ingested_at > {{w:DateTime64(3)}}",
            {"s": dt.datetime(start.year, start.month, 1), "e": dt.datetime(end.year, end.month, 1), "w": previous.usage_watermark},
        ) or 0) if previous.usage_watermark else None
        change = month_total - Decimal(str(previous.notes.get("month_total", "0")))
    notes = {
        **base_notes,
        "lines": len(lines),
        "month_total": str(month_total),
        "total": str(total),
        "currency": prices.currency,
        "usage_events": comp.usage_events,
        "heartbeat_rows": comp.heartbeat_rows,
        "phase_windows": comp.phase_windows,
        "issues": dict(issues),
        "adjustments": {k: str(v) for k, v in adj_totals.items()},
        "checked": checked,
        "late_events_since_previous": late,
        "cost_change_since_previous": str(change) if change is not None else None,
    }
    t = time.perf_counter()
    _insert_run(store, run_id, start, end, version, c.STATUS_COMPLETE, started, _now(store), comp.usage_watermark, notes)
    # Now that this run is in force, the month's earlier lines go.
    delete_where(store, LEDGER, "billing_period = {p:Date} AND run_id != {r:String}", {"p": start, "r": run_id})
    timings["record"] = time.perf_counter() - t
    return RunResult(
        run_id=run_id, month=month, version=version, lines=len(lines), total=total, currency=prices.currency,
        supersedes=previous.run_id if previous else None, issues=dict(issues), adjustments=adj_totals,
        usage_events=comp.usage_events, late_events=late, cost_change=change, timings=timings, notes=notes,
    )


def _adjustments(
    store: Store, start: dt.date, runs: list[RunInfo], prices: PriceCatalog, tenancy: Tenancy, adjust_months: int, progress
) -> tuple[list[Line], dict[str, str]]:
    """Adjustment lines for late events in the ``adjust_months`` months before ``start``."""
    out: list[Line] = []
    checked: dict[str, str] = {}
    complete = [r for r in runs if r.status == c.STATUS_COMPLETE]
    for back in range(adjust_months, 0, -1):
        p_start = _shift(start, -back)
        p_end = _shift(p_start, 1)
        p_month = month_of(p_start)
        own = [r for r in complete if r.period_start == p_start]
        if not own:
            continue
        billed_run = max(own, key=lambda r: r.version)
        # Latest complete run of each month between p and this one: their adjustments count as billed.
        between: dict[dt.date, RunInfo] = {}
        for r in complete:
            if p_start < r.period_start < start:
                if r.period_start not in between or r.version > between[r.period_start].version:
                    between[r.period_start] = r
        marks = [_parse_ts(billed_run.usage_watermark)] + [
            _parse_ts(r.notes.get("checked", {}).get(p_month)) for r in between.values()
        ]
        covered = max((m for m in marks if m is not None), default=None)
        late = store.query_scalar(
            f"SELECT count() FROM {USAGE} WHERE ts >= {{s:DateTime64(3)}} AND ts < {{e:DateTime64(3)}}"
            + (" AND ingested_at > {w:DateTime64(3)}" if covered is not None else ""),
            {"s": _ts(p_start), "e": _ts(p_end), "w": covered},
        )
        comp_watermark = _now(store)
        checked[p_month] = str(comp_watermark)
        if not late:
            continue
        if progress:
            progress(f"adjusting {p_month}")
        current = compute_lines(store, p_start, p_end, prices, tenancy).lines
        billed = read_lines(store, billed_run.run_id, start=p_start, end=p_end)
        for r in between.values():
            billed.extend(read_lines(store, r.run_id, start=p_start, end=p_end))
        out.extend(diff_lines(current, billed, billed_run.run_id))
    return out, checked


def _ts(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _parse_ts(value) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def diff_lines(current: list[Line], billed: list[Line], adjusts_run_id: str) -> list[Line]:
    """Lines that turn ``billed`` into ``current``: per key, the difference, as ``adjustment`` lines."""
    totals: dict[tuple, list] = {}
    template: dict[tuple, Line] = {}
    for sign, lines in ((1, current), (-1, billed)):
        for ln in lines:
            k = ln.key()
            acc = totals.setdefault(k, [0, 0, 0, 0, 0, 0])
            for i, v in enumerate((ln.quantity, ln.cost, ln.requests, ln.input_tokens, ln.cached_input_tokens, ln.output_tokens)):
                acc[i] += sign * v
            if sign == 1 or k not in template:
                template[k] = ln
    out = []
    for k in sorted(totals, key=lambda k: tuple(str(x) for x in k)):
        q, cost, req, inp, cached, outp = totals[k]
        if not any((q, cost, req, inp, cached, outp)):
            continue
        t = template[k]
        out.append(
            Line(
                t.day, t.tenant, t.deployment, t.model, t.resource, t.gpu_model, t.mig_profile, q, t.unit, t.unit_price, cost,
                c.METHOD_ADJUSTMENT, t.issue, max(req, 0), max(inp, 0), max(cached, 0), max(outp, 0), adjusts_run_id,
            )
        )
    return out
