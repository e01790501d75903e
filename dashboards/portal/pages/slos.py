"""SLOs: attainment per SLO and tenant, error-budget burn-down, alert history."""

from __future__ import annotations

from dash import Input, Output, html

from infermeter.dashboards.portal import auth, charts
from infermeter.dashboards.portal.pages import common

PATH = "/slos"
TITLE = "SLOs"


def layout(ctx: common.PageContext):
    scope = auth.resolve_tenants(ctx.principal, None)
    months = ctx.data.months(scope)
    if not months:
        return html.Div([html.H2(TITLE), common.no_months()])
    tenants = ctx.data.tenants() if ctx.principal.admin else sorted(ctx.principal.tenants)
    return html.Div(
        [
            html.H2("Service level objectives"),
            common.controls(
                ("Month", common.month_dropdown("slo-month", months)),
                ("Tenant", common.tenant_dropdown("slo-tenant", tenants, multi=False)),
            ),
            html.Div(id="slo-attainment"),
            common.graph("slo-burn"),
            html.H3("Alert history"),
            html.Div(id="slo-alerts"),
        ]
    )


def register(app, data) -> None:
    @app.callback(
        Output("slo-attainment", "children"),
        Output("slo-burn", "figure"),
        Output("slo-alerts", "children"),
        Input("slo-month", "value"),
        Input("slo-tenant", "value"),
    )
    @common.guarded
    def update(principal, month, tenant):
        month = common.check_month(month)
        scope = auth.resolve_tenants(principal, tenant or None)
        slo = data.slo(month, scope, selected=bool(tenant))
        if isinstance(slo, str):
            return common.slo_unavailable(slo), charts.empty("Error budget remaining"), html.Div()
        cols = [
            ("slo", "SLO"),
            ("service", "Service"),
            ("tenant", "Tenant"),
            ("objective_pct", "Objective %"),
            ("attainment_pct", "Attained %"),
            ("budget_consumed_pct", "Budget used %"),
            ("budget_remaining_pct", "Budget left %"),
            ("events", "Events"),
            ("status", "Status"),
        ]
        att = charts.table(slo.attainment, cols, "slo-attainment-grid")
        burn = charts.burn_down(slo.burn_down, "Error budget remaining, by day (%)")
        if slo.alerts is None:
            alerts = html.Div("No alert history in the store.", className="notice")
        else:
            alerts = charts.table(
                slo.alerts,
                [("start", "Started"), ("end", "Resolved"), ("slo", "SLO"), ("tenant", "Tenant"), ("severity", "Severity"), ("alert", "Alert")],
                "slo-alerts-grid",
            )
        return att, burn, alerts
