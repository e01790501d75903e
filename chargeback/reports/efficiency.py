"""The efficiency view rendered: a terminal table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from rich.table import Table

from infermeter.chargeback.queries import DeploymentEfficiency
from infermeter.chargeback.reports.fmt import dec, hours, money, money_grouped, plain, share

CSV_COLUMNS = (
    "deployment", "gpu_models", "gpus", "held_gpu_hours", "busy_gpu_hours", "covered_gpu_hours", "busy_share",
    "telemetry", "gpu_cost", "idle_cost", "ledger_idle_gpu_hours", "ledger_idle_cost", "requests", "input_tokens",
    "cached_input_tokens", "output_tokens", "cost", "cost_per_1m_tokens",
)  # fmt: skip


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.3f}"


def _row(r: DeploymentEfficiency) -> list[str]:
    return [
        r.deployment, " ".join(r.gpu_models), str(r.gpus), _h(r.held_gpu_seconds), _h(r.busy_gpu_seconds),
        _h(r.covered_gpu_seconds), "" if r.busy_share is None else f"{r.busy_share:.4f}", r.telemetry,
        money(r.gpu_cost), money(r.idle_cost), dec(r.ledger_idle_gpu_hours), money(r.ledger_idle_cost),
        str(r.tokens.requests), str(r.tokens.input), str(r.tokens.cached_input), str(r.tokens.output),
        money(r.cost), dec(r.cost_per_1m_tokens),
    ]  # fmt: skip


def render_efficiency_csv(rows: Sequence[DeploymentEfficiency]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(_row(r) for r in rows)
    return buf.getvalue().encode("utf-8")


def efficiency_dicts(rows: Sequence[DeploymentEfficiency]) -> list[dict]:
    out = []
    for r in rows:
        d = plain(r.model_dump(mode="python"))
        d["held_gpu_hours"] = r.held_gpu_hours
        d["idle_gpu_seconds"] = r.idle_gpu_seconds
        out.append(d)
    return out


def render_efficiency_json(rows: Sequence[DeploymentEfficiency], month: str) -> bytes:
    return (json.dumps({"month": month, "deployments": efficiency_dicts(rows)}, indent=2) + "\n").encode("utf-8")


def efficiency_table(rows: Sequence[DeploymentEfficiency], month: str) -> Table:
    table = Table(title=f"GPU efficiency {month}", title_justify="left")
    for name, right in (
        ("deployment", False), ("GPUs", True), ("held GPU-h", True), ("busy", True), ("idle cost", True),
        ("GPU cost", True), ("no-request idle GPU-h", True), ("tokens", True), ("per 1M tokens", True),
        ("telemetry", False),
    ):  # fmt: skip
        table.add_column(name, justify="right" if right else "left")
    for r in rows:
        busy = share(r.busy_share)
        if r.busy_share is not None and r.covered_gpu_seconds < r.held_gpu_seconds:
            busy += f" ({share(r.covered_gpu_seconds / r.held_gpu_seconds)} covered)"
        table.add_row(
            r.deployment, f"{r.gpus} {' '.join(r.gpu_models)}".strip(), hours(r.held_gpu_hours), busy,
            money_grouped(r.idle_cost), money_grouped(r.gpu_cost), hours(r.ledger_idle_gpu_hours),
            f"{r.tokens.total:,}", money_grouped(r.cost_per_1m_tokens), r.telemetry or "none",
        )  # fmt: skip
    return table
