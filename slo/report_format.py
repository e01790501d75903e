"""An SLO report as records, JSON or CSV (the rich table is drawn by the CLI from the records)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from infermeter.slo.report import MET, MISSED, NO_DATA, Report, ReportRow

CSV_FIELDS = (
    "window_start", "window_end", "window", "slo_id", "service", "slo", "group", "source", "objective_percent",
    "sli_percent", "error_ratio", "total_events", "error_events", "budget_ratio", "allowed_error_events",
    "budget_consumed_percent", "budget_remaining_percent", "status",
)


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100.0


def record(row: ReportRow) -> dict[str, Any]:
    return {
        "slo_id": row.slo_id,
        "service": row.service,
        "slo": row.slo,
        "group": row.group_text,
        "labels": dict(row.group),
        "source": row.source,
        "objective_percent": row.objective,
        "sli_percent": _pct(row.sli),
        "error_ratio": row.error_ratio,
        "total_events": row.total,
        "error_events": row.errors,
        "budget_ratio": row.budget,
        "allowed_error_events": row.budget * row.total,
        "budget_consumed_percent": _pct(row.budget_consumed),
        "budget_remaining_percent": _pct(row.budget_remaining),
        "status": row.status,
    }


def summary(report: Report) -> dict[str, int]:
    counts = {MET: 0, MISSED: 0, NO_DATA: 0}
    for row in report.rows:
        counts[row.status] += 1
    return {"met": counts[MET], "missed": counts[MISSED], "no_data": counts[NO_DATA], "skipped": len(report.skipped)}


def to_json(report: Report) -> str:
    doc = {
        "window": {"start": report.window_start, "end": report.window_end, "label": report.window},
        "summary": summary(report),
        "slos": [record(r) for r in report.rows],
        "skipped": [{"file": f, "slo_id": s, "reason": why} for f, s, why in report.skipped],
    }
    return json.dumps(doc, indent=2) + "\n"


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        rec = record(row)
        rec.update(window_start=report.window_start, window_end=report.window_end, window=report.window)
        writer.writerow({k: ("" if v is None else v) for k, v in rec.items()})
    return buf.getvalue()


def fmt_pct(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}%"


def fmt_events(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.2f}"
