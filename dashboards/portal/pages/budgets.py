"""Budgets: spend against each tenant's monthly budget, with a month-end forecast."""

from __future__ import annotations

from dash import Input, Output, html

from infermeter.dashboards.portal import auth, charts
from infermeter.dashboards.portal.pages import common

PATH = "/budgets"
TITLE = "Budgets"


def layout(ctx: common.PageContext):
    scope = auth.resolve_tenants(ctx.principal, None)
    months = ctx.data.months(scope)
    if not months:
        return html.Div([html.H2(TITLE), common.no_months()])
    return html.Div(
        [
            html.H2(TITLE),
            common.controls(("Month", common.month_dropdown("bg-month", months))),
            common.graph("bg-chart"),
            html.Div(id="bg-table"),
        ]
    )


def register(app, data) -> None:
    @app.callback(Output("bg-chart", "figure"), Output("bg-table", "children"), Input("bg-month", "value"))
    @common.guarded
    def update(principal, month):
        month = common.check_month(month)
        scope = auth.resolve_tenants(principal, None)
        cur = data.currency(month)
        df = data.budgets(month, scope)
        fig = charts.budget_bars(df, f"Spend and forecast against budget, most used first ({cur})")
        shown = df.copy()
        if not shown.empty:
            for col in ("budget", "spent", "forecast"):
                shown[col] = shown[col].map(lambda v: charts.money(v) if v is not None else "no budget")
            shown["used_pct"] = shown["used_pct"].map(lambda v: f"{v:.1f}" if v is not None else "–")
        cols = [("tenant", "Tenant"), ("budget", f"Budget ({cur})"), ("spent", "Spent"), ("used_pct", "Used %"), ("forecast", "Forecast"), ("status", "Status")]
        return fig, charts.table(shown, cols, "bg-table-grid")
