"""CSV (one row per ledger line, summed over the month per price) and JSON (the whole report)."""

from __future__ import annotations

import csv
import io
import json

from infermeter.chargeback.reports.fmt import dec, money, plain
from infermeter.chargeback.reports.model import MonthlyReport

CSV_COLUMNS = (
    "month", "run_id", "run_version", "tenant", "deployment", "model", "resource", "gpu_model", "mig_profile",
    "method", "period_start", "period_end", "quantity", "unit", "unit_price", "cost", "currency", "requests",
    "input_tokens", "cached_input_tokens", "output_tokens", "issue", "adjusts_run_id",
)  # fmt: skip


def render_csv(report: MonthlyReport) -> bytes:
    """The bill as lines: the ``cost`` column sums to the report's total to the cent."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for line in report.lines:
        w.writerow(
            (
                report.period.label, report.run.run_id, report.run.version, line.tenant, line.deployment,
                line.model, line.resource, line.gpu_model, line.mig_profile, line.method,
                line.period_start.isoformat(), line.period_end.isoformat(), dec(line.quantity), line.unit,
                dec(line.unit_price), money(line.cost), line.currency, line.tokens.requests, line.tokens.input,
                line.tokens.cached_input, line.tokens.output, line.issue, line.adjusts_run_id,
            )  # fmt: skip
        )
    return buf.getvalue().encode("utf-8")


def report_dict(report: MonthlyReport) -> dict:
    """The report as plain JSON data (decimals as exact strings), with derived totals."""
    data = plain(report.model_dump(mode="python"))
    data["title"] = report.title
    data["month"] = report.period.label
    for summary, raw in zip(data["tenants"], report.tenants):
        summary["tokens"]["total"] = raw.tokens.total
        summary["slo"] = summary["slo"] if summary["slo"] is not None else "n/a"
    return data


def render_json(report: MonthlyReport) -> bytes:
    return (json.dumps(report_dict(report), indent=2, sort_keys=False) + "\n").encode("utf-8")
