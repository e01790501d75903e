"""Monthly chargeback reports: CSV, JSON, HTML, PDF and FOCUS 1.2, from the query layer.

``build_report`` gathers a month (optionally one tenant) once; ``render`` turns it into bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from infermeter.chargeback.reports.model import MonthlyReport, NoTenantData, build_report
from infermeter.errors import ConfigError

FORMATS = ("csv", "json", "html", "pdf", "focus")
EXTENSIONS = {"csv": "csv", "json": "json", "html": "html", "pdf": "pdf", "focus": "focus.csv"}


def _renderer(fmt: str) -> Callable[[MonthlyReport], bytes]:
    if fmt == "csv":
        from infermeter.chargeback.reports.tabular import render_csv

        return render_csv
    if fmt == "json":
        from infermeter.chargeback.reports.tabular import render_json

        return render_json
    if fmt == "html":
        from infermeter.chargeback.reports.html import render_html

        return render_html
    if fmt == "pdf":
        from infermeter.chargeback.reports.html import render_html
        from infermeter.chargeback.reports.pdf import html_to_pdf

        return lambda report: html_to_pdf(render_html(report))
    if fmt == "focus":
        from infermeter.chargeback.focus import render_focus

        return render_focus
    raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def render(report: MonthlyReport, fmt: str) -> bytes:
    """The report in ``fmt`` (csv, json, html, pdf or focus)."""
    return _renderer(fmt)(report)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


__all__ = ["FORMATS", "EXTENSIONS", "MonthlyReport", "NoTenantData", "build_report", "render", "check_format"]
