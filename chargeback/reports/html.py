"""A self-contained HTML report: tables and plotly charts, plotly.js embedded so it works offline."""

from __future__ import annotations

from decimal import Decimal
from html import escape

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from infermeter.chargeback.reports.fmt import count, hours, money_grouped, share
from infermeter.chargeback.reports.model import MonthlyReport

CHART_WIDTH = 900
CHART_HEIGHT = 290
MAX_MODELS = 12  # the rest is one "other" bar
_PLOT_CONFIG = {"displaylogo": False, "responsive": False, "modeBarButtonsToRemove": ["sendDataToCloud"]}

_CSS = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1b1f24; margin: 24px; font-size: 13px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 16px; margin: 22px 0 8px 0; border-bottom: 1px solid #d0d7de; padding-bottom: 3px; }
h3 { font-size: 14px; margin: 14px 0 6px 0; }
.meta { color: #57606a; font-size: 12px; margin-bottom: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; min-width: 140px; }
.card .v { font-size: 18px; font-weight: bold; }
.card .k { color: #57606a; font-size: 11px; text-transform: uppercase; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px 0; }
th, td { border-bottom: 1px solid #e1e4e8; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-size: 12px; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 2px solid #8c959f; }
.warn { color: #9a6700; }
.chart { page-break-inside: avoid; break-inside: avoid; }
.tenant { page-break-inside: auto; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { margin: 0; } h2 { break-after: avoid; } .modebar-container { display: none; } }
"""


def _td(value: str, numeric: bool = False) -> str:
    return f'<td class="n">{escape(value)}</td>' if numeric else f"<td>{escape(value)}</td>"


def _table(headers: list[tuple[str, bool]], rows: list[list[str]], total: list[str] | None = None) -> str:
    head = "".join(f'<th class="n">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>" for h, n in headers)
    body = "".join("<tr>" + "".join(_td(v, n) for v, (_, n) in zip(row, headers)) + "</tr>" for row in rows)
    if total is not None:
        body += '<tr class="total">' + "".join(_td(v, n) for v, (_, n) in zip(total, headers)) + "</tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(key: str, value: str) -> str:
    return f'<div class="card"><div class="k">{escape(key)}</div><div class="v">{escape(value)}</div></div>'


def _chart(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        margin={"l": 60, "r": 60, "t": 40, "b": 50},
        template="plotly_white",
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 12},
        legend={"orientation": "h", "y": -0.2},
    )
    snippet = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=_PLOT_CONFIG)
    return f'<div class="chart">{snippet}</div>'


def daily_trend_figure(report: MonthlyReport) -> go.Figure:
    days = [p.day.isoformat() for p in report.daily]
    fig = go.Figure()
    fig.add_bar(x=days, y=[float(p.cost) for p in report.daily], name=f"cost ({report.currency})", marker_color="#0969da")
    fig.add_scatter(
        x=days, y=[float(p.gpu_hours) for p in report.daily], name="GPU-hours", yaxis="y2",
        mode="lines+markers", line={"color": "#bf8700"},
    )  # fmt: skip
    fig.update_layout(
        title=f"Daily trend, {report.period.label}",
        yaxis={"title": f"cost ({report.currency})", "rangemode": "tozero"},
        yaxis2={"title": "GPU-hours", "overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False},
        bargap=0.2,
    )
    return fig


def model_figure(report: MonthlyReport) -> go.Figure:
    models = list(report.models)
    names = [m.model or "(none)" for m in models[:MAX_MODELS]]
    costs = [float(m.cost) for m in models[:MAX_MODELS]]
    if len(models) > MAX_MODELS:
        names.append("other")
        costs.append(float(sum((m.cost for m in models[MAX_MODELS:]), Decimal(0))))
    fig = go.Figure(go.Bar(x=costs[::-1], y=names[::-1], orientation="h", marker_color="#8250df"))
    fig.update_layout(title="Cost by model", xaxis={"title": f"cost ({report.currency})", "rangemode": "tozero"})
    return fig


def top_tenants_figure(report: MonthlyReport) -> go.Figure | None:
    if report.fleet is None or not report.fleet.top_tenants:
        return None
    top = list(report.fleet.top_tenants)
    fig = go.Figure(go.Bar(x=[float(t.cost) for t in top][::-1], y=[t.tenant for t in top][::-1], orientation="h",
                           marker_color="#1a7f37"))  # fmt: skip
    fig.update_layout(title="Top tenants by cost", xaxis={"title": f"cost ({report.currency})", "rangemode": "tozero"})
    return fig


def _slo_text(summary) -> str:
    if summary.slo is None:
        return "n/a"
    if not summary.slo:
        return "no SLOs"
    parts = []
    for s in summary.slo:
        value = share(s.attainment if s.attainment is None or s.attainment <= 1 else s.attainment / 100)
        target = "" if s.objective is None else f" (objective {s.objective:g}{'%' if s.objective > 1 else ''})"
        parts.append(f"{s.slo}: {value}{target}")
    return "; ".join(parts)


def _budget_text(summary) -> str:
    if summary.budget is None:
        return "n/a"
    return f"{share(summary.budget_used)} of {money_grouped(summary.budget)}"


def _tenants_table(report: MonthlyReport) -> str:
    cur = report.currency
    headers = [
        ("tenant", False), ("GPU-hours", True), ("idle share", True), ("input tokens", True),
        ("cached input", True), ("output tokens", True), (f"cost ({cur})", True), ("per 1M tokens", True),
        ("budget used", True), ("SLO attainment", False),
    ]  # fmt: skip
    rows = [
        [
            s.tenant, hours(s.gpu_hours), share(s.idle_share), count(s.tokens.input), count(s.tokens.cached_input),
            count(s.tokens.output), money_grouped(s.cost), money_grouped(s.cost_per_1m_tokens) if s.cost_per_1m_tokens is not None else "n/a",
            _budget_text(s), _slo_text(s),
        ]  # fmt: skip
        for s in report.tenants
    ]
    total = None
    if len(report.tenants) > 1:
        gh = sum((s.gpu_hours for s in report.tenants), Decimal(0))
        total = [
            "total", hours(gh), "", count(sum(s.tokens.input for s in report.tenants)),
            count(sum(s.tokens.cached_input for s in report.tenants)), count(sum(s.tokens.output for s in report.tenants)),
            money_grouped(report.total_cost), "", "", "",
        ]  # fmt: skip
    return _table(headers, rows, total)


def _lines_table(summary, currency: str) -> str:
    headers = [
        ("deployment", False), ("model", False), ("GPU-hours", True), ("idle GPU-hours", True),
        ("requests", True), ("tokens in / cached / out", True), (f"cost ({currency})", True),
        ("per 1M tokens", True), ("adjustments", True), ("issues", False),
    ]  # fmt: skip
    rows = [
        [
            line.deployment or "(none)", line.model or "(none)", hours(line.gpu_hours), hours(line.idle_gpu_hours),
            count(line.tokens.requests),
            f"{count(line.tokens.input)} / {count(line.tokens.cached_input)} / {count(line.tokens.output)}",
            money_grouped(line.cost), money_grouped(line.cost_per_1m_tokens) if line.cost_per_1m_tokens is not None else "n/a",
            money_grouped(line.adjustment_cost) if line.adjustment_cost else "", ", ".join(line.issues),
        ]  # fmt: skip
        for line in summary.lines
    ]
    total = ["total", "", hours(summary.gpu_hours), hours(summary.idle_gpu_hours), count(summary.tokens.requests),
             "", money_grouped(summary.cost), "", "", ""]  # fmt: skip
    return _table(headers, rows, total)


def _efficiency_table(report: MonthlyReport) -> str:
    cur = report.currency
    headers = [
        ("deployment", False), ("GPUs", False), ("held GPU-hours", True), ("busy share", True),
        ("telemetry coverage", True), (f"GPU cost ({cur})", True), (f"idle cost ({cur})", True),
        ("no-request idle GPU-hours", True), ("tokens", True), ("per 1M tokens", True),
    ]  # fmt: skip
    rows = []
    for e in report.efficiency:
        coverage = share(e.covered_gpu_seconds / e.held_gpu_seconds) if e.held_gpu_seconds else "n/a"
        rows.append([
            e.deployment, f"{e.gpus} {' '.join(e.gpu_models)}".strip(), hours(e.held_gpu_hours), share(e.busy_share),
            coverage, money_grouped(e.gpu_cost), money_grouped(e.idle_cost), hours(e.ledger_idle_gpu_hours),
            count(e.tokens.total), money_grouped(e.cost_per_1m_tokens),
        ])  # fmt: skip
    return _table(headers, rows) + (
        '<p class="meta">Busy share = GPU-seconds busy (DCGM graphics-engine activity, else GPU utilisation) / '
        "GPU-seconds held, over the minutes with telemetry. Idle cost = GPU cost x (1 - busy share). No-request "
        "idle = held GPU time in minutes without requests, as the ledger places it.</p>"
    )


def _run_meta(report: MonthlyReport) -> str:
    run = report.run
    parts = [
        f"run {run.run_id} (version {run.version}, {run.status})",
        f"finished {run.finished_at:%Y-%m-%d %H:%M} UTC" if run.finished_at else "",
        f"usage up to {run.usage_watermark:%Y-%m-%d %H:%M} UTC" if run.usage_watermark else "",
        f"generated {report.generated_at:%Y-%m-%d %H:%M} UTC by {report.generator}",
    ]
    return " &middot; ".join(escape(p) for p in parts if p)


def render_html(report: MonthlyReport) -> bytes:
    cur = report.currency
    out: list[str] = []
    out.append(f"<h1>{escape(report.title)}</h1>")
    out.append(f'<div class="meta">{_run_meta(report)}</div>')
    if report.fleet is not None:
        f = report.fleet
        cards = [
            _card("total cost", money_grouped(f.cost, cur)), _card("GPU-hours", hours(f.gpu_hours)),
            _card("idle GPU-hours", hours(f.idle_gpu_hours)), _card("idle cost", money_grouped(f.idle_cost, cur)),
            _card("tokens", count(f.tokens.total)), _card("requests", count(f.tokens.requests)),
            _card("tenants", count(f.tenants)), _card("deployments", count(f.deployments)),
        ]  # fmt: skip
        if f.adjustment_cost:
            cards.append(_card("adjustments", money_grouped(f.adjustment_cost, cur)))
    else:
        s = report.tenants[0]
        cards = [
            _card("cost", money_grouped(s.cost, cur)), _card("GPU-hours", hours(s.gpu_hours)),
            _card("idle share", share(s.idle_share)), _card("tokens", count(s.tokens.total)),
            _card("per 1M tokens", money_grouped(s.cost_per_1m_tokens, cur)),
            _card("budget used", _budget_text(s)), _card("SLO attainment", _slo_text(s)),
        ]  # fmt: skip
        if s.adjustment_cost:
            cards.append(_card("adjustments", money_grouped(s.adjustment_cost, cur)))
    out.append('<div class="cards">' + "".join(cards) + "</div>")
    out.append("<h2>Tenants</h2>" if report.tenant is None else "<h2>Summary</h2>")
    out.append(_tenants_table(report))
    out.append("<h2>Charts</h2>")
    out.append(_chart(daily_trend_figure(report), "chart-daily"))
    out.append(_chart(model_figure(report), "chart-models"))
    top = top_tenants_figure(report)
    if top is not None:
        out.append(_chart(top, "chart-tenants"))
    out.append("<h2>Cost by deployment and model</h2>")
    for s in report.tenants:
        out.append(f'<div class="tenant"><h3>{escape(s.tenant)}</h3>{_lines_table(s, cur)}</div>')
    if report.efficiency:
        out.append("<h2>GPU efficiency by deployment</h2>")
        out.append(_efficiency_table(report))
    if report.issues:
        out.append('<h2 class="warn">Lines that need a look</h2>')
        headers = [("issue", False), ("tenant", False), ("deployment", False), ("model", False),
                   ("GPU-hours", True), ("requests", True), (f"cost ({cur})", True)]  # fmt: skip
        rows = [[i.issue, i.tenant, i.deployment, i.model, hours(i.gpu_hours), count(i.requests), money_grouped(i.cost)]
                for i in report.issues]  # fmt: skip
        out.append(_table(headers, rows))
    out.append(
        '<p class="meta">Costs are the ledger lines of the run above, rounded so that lines add up to the '
        "cent. Idle share = idle GPU-hours attributed to the tenant / all its GPU-hours. Cost per 1M tokens = "
        "cost / (input + output tokens) x 1,000,000. Adjustments correct usage of earlier months that arrived "
        "late.</p>"
    )
    body = "\n".join(out)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(report.title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )
    return page.encode("utf-8")
