"""Tenants: the cost explorer (month, tenants, breakdown by model / deployment / resource)."""

from __future__ import annotations

from dash import Input, Output, dcc, html

from infermeter.dashboards.portal import auth, charts
from infermeter.dashboards.portal.pages import common

PATH = "/tenants"
TITLE = "Tenants"
DIMENSIONS = {"model": "Model", "deployment": "Deployment", "resource": "Resource"}


def layout(ctx: common.PageContext):
    scope = auth.resolve_tenants(ctx.principal, None)
    months = ctx.data.months(scope)
    if not months:
        return html.Div([html.H2(TITLE), common.no_months()])
    tenants = auth.visible(ctx.principal, ctx.data.tenants()) if ctx.principal.admin else sorted(ctx.principal.tenants)
    return html.Div(
        [
            html.H2("Cost explorer"),
            common.controls(
                ("Month", common.month_dropdown("tn-month", months)),
                ("Tenants", common.tenant_dropdown("tn-tenants", tenants, multi=True)),
                (
                    "Break down by",
                    dcc.RadioItems(
                        id="tn-dim",
                        options=[{"label": v, "value": k} for k, v in DIMENSIONS.items()],
                        value="model",
                        inline=True,
                        className="control",
                    ),
                ),
            ),
            html.Div([common.graph("tn-breakdown"), common.graph("tn-daily")], className="row"),
            html.Div([common.graph("tn-tokens")], className="row"),
            html.H3("Tenants this month"),
            html.Div(id="tn-table"),
        ]
    )


def register(app, data) -> None:
    @app.callback(
        Output("tn-breakdown", "figure"),
        Output("tn-daily", "figure"),
        Output("tn-tokens", "figure"),
        Output("tn-table", "children"),
        Input("tn-month", "value"),
        Input("tn-tenants", "value"),
        Input("tn-dim", "value"),
    )
    @common.guarded
    def update(principal, month, tenants, dim):
        month = common.check_month(month)
        if dim not in DIMENSIONS:
            dim = "model"
        scope = auth.resolve_tenants(principal, tenants or None)
        cur = data.currency(month)
        totals = data.cost_by(month, scope, ("tenant",))
        top = tuple(totals["tenant"].head(charts.TOP_N))  # most expensive first, all within scope
        by = data.cost_by(month, top, ("tenant", dim))
        breakdown = charts.bar(by, "tenant", "cost", f"Cost by tenant and {DIMENSIONS[dim].lower()} ({cur})", color=dim, horizontal=True)
        daily_top = data.daily(month, top[:10], by_tenant=True)
        daily_fig = charts.lines(daily_top, "day", "cost", f"Daily cost, top tenants ({cur})", color="tenant")
        tok = data.tokens(month, scope, dim)
        tok_long = tok.melt(id_vars=[dim], value_vars=["input_tokens", "cached_input_tokens", "output_tokens"], var_name="kind", value_name="tokens") if not tok.empty else tok
        tokens_fig = charts.bar(tok_long, dim, "tokens", f"Tokens by {DIMENSIONS[dim].lower()}", color="kind")
        table_df = totals.copy()
        if not table_df.empty:
            table_df["cost"] = table_df["cost"].map(lambda v: charts.money(v))
            table_df["gpu_hours"] = table_df["gpu_hours"].map(lambda v: charts.number(v, 1))
            table_df["tokens"] = table_df["tokens"].map(lambda v: charts.number(v))
        cols = [("tenant", "Tenant"), ("cost", f"Cost ({cur})"), ("gpu_hours", "GPU-hours"), ("tokens", "Tokens")]
        table = charts.table(table_df, cols, "tn-table-grid", links={"tenant": common_prefix(app) + "tenants/{value}"})
        return breakdown, daily_fig, tokens_fig, table


def common_prefix(app) -> str:
    return app.config.requests_pathname_prefix
