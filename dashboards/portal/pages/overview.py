"""Overview: the month's cost, GPU-hours and tokens, where the money went, SLO status."""

from __future__ import annotations

from dash import Input, Output, html

from infermeter.dashboards.portal import auth, charts
from infermeter.dashboards.portal.pages import common

PATH = "/"
TITLE = "Overview"


def layout(ctx: common.PageContext):
    scope = auth.resolve_tenants(ctx.principal, None)
    months = ctx.data.months(scope)
    if not months:
        return html.Div([html.H2(TITLE), common.no_months()])
    title = "Fleet" if ctx.principal.admin else "My tenants"
    return html.Div(
        [
            html.H2(f"{TITLE}: {title}"),
            common.controls(("Month", common.month_dropdown("ov-month", months))),
            html.Div(id="ov-kpis", className="kpis"),
            html.Div([common.graph("ov-cost-by"), common.graph("ov-daily")], className="row"),
            html.H3("SLO status"),
            html.Div(id="ov-slo"),
        ]
    )


def register(app, data) -> None:
    @app.callback(
        Output("ov-kpis", "children"),
        Output("ov-cost-by", "figure"),
        Output("ov-daily", "figure"),
        Output("ov-slo", "children"),
        Input("ov-month", "value"),
    )
    @common.guarded
    def update(principal, month):
        month = common.check_month(month)
        scope = auth.resolve_tenants(principal, None)
        cur = data.currency(month)
        s = data.summary(month, scope)
        kpis = [
            charts.kpi("Cost", charts.money(s["cost"], cur), "ov-cost"),
            charts.kpi("GPU-hours", charts.number(s["gpu_hours"], 1)),
            charts.kpi("Tokens (in / out)", f"{charts.number(s['input_tokens'])} / {charts.number(s['output_tokens'])}"),
            charts.kpi("Idle share", f"{s['idle_share'] * 100:.1f} %" if s["idle_share"] is not None else "–"),
            charts.kpi("Tenants", charts.number(s["tenants"])),
        ]
        if principal.admin:
            by = charts.top_n(data.cost_by(month, scope, ("tenant",)), "tenant", "cost")
            cost_fig = charts.bar(by, "tenant", "cost", f"Cost by tenant, top {charts.TOP_N} ({cur})", horizontal=True)
        else:
            by = data.cost_by(month, scope, ("deployment",))
            cost_fig = charts.bar(by, "deployment", "cost", f"Cost by deployment ({cur})", horizontal=True)
        daily = data.daily(month, scope, by_tenant=False)
        daily_fig = charts.lines(daily, "day", "cost", f"Daily cost ({cur})")
        return kpis, cost_fig, daily_fig, slo_status(data, month, scope)


def slo_status(data, month: str, scope) -> html.Div:
    att = data.slo_attainment(month, scope)
    if isinstance(att, str):
        return common.slo_unavailable(att)
    if att.empty:
        return html.Div("No SLO results for this month.", className="notice")
    worst = att.sort_values("budget_remaining_pct", na_position="last", kind="stable").head(20)
    cols = [("slo", "SLO"), ("tenant", "Tenant"), ("objective_pct", "Objective %"), ("attainment_pct", "Attained %"), ("budget_remaining_pct", "Budget left %"), ("status", "Status")]
    return charts.table(worst, cols, "ov-slo-table")
