"""Ledger lines to and from the ``ledger`` table (columns of migrations 0001 and 0002)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Sequence

import pyarrow as pa

from infermeter.chargeback import conventions as c
from infermeter.chargeback.engine import Line
from infermeter.ingest.conventions import LEDGER
from infermeter.ingest.store.base import Store

QUANTITY = pa.decimal128(38, c.QUANTITY_PLACES)
UNIT_PRICE = pa.decimal128(38, c.UNIT_PRICE_PLACES)
COST = pa.decimal128(38, c.COST_PLACES)

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("period_start", pa.date32()),
        ("period_end", pa.date32()),
        ("billing_period", pa.date32()),
        ("tenant", pa.string()),
        ("deployment", pa.string()),
        ("model", pa.string()),
        ("resource", pa.string()),
        ("gpu_model", pa.string()),
        ("mig_profile", pa.string()),
        ("quantity", QUANTITY),
        ("unit", pa.string()),
        ("unit_price", UNIT_PRICE),
        ("cost", COST),
        ("currency", pa.string()),
        ("method", pa.string()),
        ("requests", pa.uint64()),
        ("input_tokens", pa.uint64()),
        ("cached_input_tokens", pa.uint64()),
        ("output_tokens", pa.uint64()),
        ("issue", pa.string()),
        ("adjusts_run_id", pa.string()),
    ]
)

KEY_COLUMNS = ("period_start", "tenant", "deployment", "model", "resource", "gpu_model", "mig_profile")


def _scaled(values: Sequence[int], dtype: pa.Decimal128Type) -> pa.Array:
    """Integers in units of 10**-scale as a decimal column, without building Decimal objects."""
    return pa.array(values, pa.int64()).cast(pa.decimal128(38, 0)).view(dtype)


def to_arrow(lines: Sequence[Line], run_id: str, billing_period: dt.date, currency: str) -> pa.Table:
    n = len(lines)
    if n == 0:
        return SCHEMA.empty_table()
    cols = dict(zip(Line._fields, zip(*lines)))  # one transposition in C, not a pass per column
    places = Decimal(1).scaleb(-c.UNIT_PRICE_PLACES)
    prices = {p: p.quantize(places) for p in set(cols["unit_price"])}
    days = pa.array(cols["day"], pa.date32())
    next_days = pa.array(days.cast(pa.int32()).to_numpy() + 1, pa.int32()).cast(pa.date32())

    def text(name: str) -> pa.Array:
        return pa.array(cols[name], pa.string())

    return pa.table(
        {
            "run_id": pa.array([run_id] * n, pa.string()),
            "period_start": days,
            "period_end": next_days,
            "billing_period": pa.array([billing_period] * n, pa.date32()),
            "tenant": text("tenant"),
            "deployment": text("deployment"),
            "model": text("model"),
            "resource": text("resource"),
            "gpu_model": text("gpu_model"),
            "mig_profile": text("mig_profile"),
            "quantity": _scaled(cols["quantity"], QUANTITY),
            "unit": text("unit"),
            "unit_price": pa.array([prices[p] for p in cols["unit_price"]], UNIT_PRICE),
            "cost": _scaled(cols["cost"], COST),
            "currency": pa.array([currency] * n, pa.string()),
            "method": text("method"),
            "requests": pa.array(cols["requests"], pa.uint64()),
            "input_tokens": pa.array(cols["input_tokens"], pa.uint64()),
            "cached_input_tokens": pa.array(cols["cached_input_tokens"], pa.uint64()),
            "output_tokens": pa.array(cols["output_tokens"], pa.uint64()),
            "issue": text("issue"),
            "adjusts_run_id": text("adjusts_run_id"),
        },
        schema=SCHEMA,
    )


def insert_lines(store: Store, lines: Sequence[Line], run_id: str, billing_period: dt.date, currency: str, batch: int = 500_000) -> int:
    """Insert a run's lines (readers see them once the run is marked complete)."""
    written = 0
    for i in range(0, len(lines), batch):
        chunk = lines[i : i + batch]
        # No deduplication token: a run id is never reused, and hashing the block doubles the cost.
        written += store.insert_arrow(LEDGER, to_arrow(chunk, run_id, billing_period, currency))
    return written


def read_lines(store: Store, run_id: str, *, start: dt.date | None = None, end: dt.date | None = None) -> list[Line]:
    """A run's lines (optionally only the days ``[start, end)``) as :class:`Line` objects, summed per key."""
    where = "run_id = {run:String}"
    params: dict = {"run": run_id}
    if start is not None and end is not None:
        where += " AND period_start >= {s:Date} AND period_start < {e:Date}"
        params.update(s=start, e=end)
    rows = store.query_rows(
        f"""SELECT period_start, tenant, deployment, model, resource, gpu_model, mig_profile,
       toString(sum(quantity)), any(unit), toString(max(unit_price)), toString(sum(cost)), any(method), max(issue),
       sum(requests), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens)
FROM {LEDGER} WHERE {where}
GROUP BY period_start, tenant, deployment, model, resource, gpu_model, mig_profile""",
        params,
    )
    out = []
    for r in rows:
        out.append(
            Line(
                day=r[0], tenant=r[1], deployment=r[2], model=r[3], resource=r[4], gpu_model=r[5], mig_profile=r[6],
                quantity=int(Decimal(r[7]).scaleb(c.QUANTITY_PLACES)), unit=r[8], unit_price=Decimal(r[9]),
                cost=int(Decimal(r[10]).scaleb(c.COST_PLACES)), method=r[11], issue=r[12],
                requests=int(r[13]), input_tokens=int(r[14]), cached_input_tokens=int(r[15]), output_tokens=int(r[16]),
            )
        )
    return out
