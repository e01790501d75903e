"""One tenant: cost by deployment and model, daily trend, tokens, budget, SLOs."""

from __future__ import annotations

from dash import Input, Output, dcc, html

from infermeter.dashboards.portal import auth, charts
from infermeter.dashboards.portal.pages import common

PATH = "/tenants/<tenant>"
TITLE = "Tenant"


def layout(ctx: common.PageContext):
    tenant = ctx.params.get("tenant", "")
    if not ctx.principal.can_see(tenant):  # the path is the client's: check it here too
        return html.Div([html.H2("Not permitted"), html.P("You may not see this tenant.", id="td-forbidden")])
    months = ctx.data.months((tenant,))
    if not months:
        return html.Div([html.H2(f"Tenant {tenant}"), common.no_months()])
    return html.Div(
        [
            html.H2(f"Tenant {tenant}", id="td-title"),
            dcc.Store(id="td-tenant", data=tenant),
            common.controls(("Month", common.month_dropdown("td-month", months))),
            html.Div(id="td-kpis", className="kpis"),
            html.Div([common.graph("td-by-deployment"), common.graph("td-by-model")], className="row"),
            html.Div([common.graph("td-daily"), common.graph("td-tokens")], className="row"),
            html.H3("SLOs"),
            html.Div(id="td-slo"),
        ]
    )


def register(app, data) -> None:
    @app.callback(
        Output("td-kpis", "children"),
        Output("td-by-deployment", "figure"),
        Output("td-by-model", "figure"),
        Output("td-daily", "figure"),
        Output("td-tokens", "figure"),
        Output("td-slo", "children"),
        Input("td-month", "value"),
        Input("td-tenant", "data"),
    )
    @common.guarded
    def update(principal, month, tenant):
        month = common.check_month(month)
        tenant = auth.resolve_one_tenant(principal, tenant)
        scope = (tenant,)
        cur = data.currency(month)
        ts = data.tenant_summary(month, tenant)
        if ts is None:
            kpis = [html.Div(f"{tenant} has no chargeback lines in {month}.", className="notice")]
        else:
            budget_text = "no budget"
            if ts.budget is not None:
                budget_text = f"{charts.money(ts.cost)} of {charts.money(ts.budget, cur)} ({float(ts.budget_used or 0) * 100:.1f} %)"
            kpis = [
                charts.kpi("Cost", charts.money(ts.cost, cur), "td-cost"),
                charts.kpi("GPU-hours", charts.number(ts.gpu_hours, 1)),
                charts.kpi(
                    "Input / cached / output tokens",
                    f"{charts.number(ts.tokens.input)} / {charts.number(ts.tokens.cached_input)} / {charts.number(ts.tokens.output)}",
                ),
                charts.kpi("Cost per 1M tokens", charts.money(ts.cost_per_1m_tokens, cur) if ts.cost_per_1m_tokens is not None else "–"),
                charts.kpi("Idle share", f"{float(ts.idle_share) * 100:.1f} %" if ts.idle_share is not None else "–"),
                charts.kpi("Budget", budget_text, "td-budget"),
            ]
        by_dep = charts.bar(data.cost_by(month, scope, ("deployment", "resource")), "deployment", "cost", f"Cost by deployment ({cur})", color="resource")
        by_model = charts.bar(data.cost_by(month, scope, ("model",)), "model", "cost", f"Cost by model ({cur})")
        daily = charts.lines(data.daily(month, scope, by_tenant=False), "day", "cost", f"Daily cost ({cur})")
        tok = data.tokens(month, scope, "model")
        tok_long = tok.melt(id_vars=["model"], value_vars=["input_tokens", "cached_input_tokens", "output_tokens"], var_name="kind", value_name="tokens") if not tok.empty else tok
        tok_fig = charts.bar(tok_long, "model", "tokens", "Tokens by model", color="kind")
        from infermeter.dashboards.portal.pages.overview import slo_status

        return kpis, by_dep, by_model, daily, tok_fig, slo_status(data, month, scope)
