"""Reports: monthly chargeback files (CSV, JSON, HTML, PDF, FOCUS) from the chargeback renderers."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import Input, Output, html

from infermeter.dashboards.portal import auth
from infermeter.dashboards.portal.pages import common

PATH = "/reports"
TITLE = "Reports"
FORMATS = {"csv": "CSV", "json": "JSON", "html": "HTML", "pdf": "PDF", "focus": "FOCUS 1.2 (CSV)"}


def layout(ctx: common.PageContext):
    scope = auth.resolve_tenants(ctx.principal, None)
    months = ctx.data.months(scope)
    if not months:
        return html.Div([html.H2(TITLE), common.no_months()])
    tenants = ctx.data.tenants() if ctx.principal.admin else sorted(ctx.principal.tenants)
    default = tenants[0] if not ctx.principal.admin and len(tenants) == 1 else None
    placeholder = "All tenants" if ctx.principal.admin else "Choose a tenant"
    return html.Div(
        [
            html.H2("Monthly reports"),
            common.controls(
                ("Month", common.month_dropdown("rp-month", months)),
                ("Tenant", common.tenant_dropdown("rp-tenant", tenants, multi=False, value=default, placeholder=placeholder)),
            ),
            html.Ul(
                [html.Li(html.A(label, id=f"rp-{fmt}", href="", download="", className="download")) for fmt, label in FORMATS.items()],
                className="downloads",
            ),
            html.P(id="rp-note", className="muted"),
        ]
    )


def register(app, data) -> None:
    prefix = app.config.requests_pathname_prefix
    outputs = [Output(f"rp-{fmt}", "href") for fmt in FORMATS] + [Output("rp-note", "children")]

    @app.callback(*outputs, Input("rp-month", "value"), Input("rp-tenant", "value"))
    @common.guarded
    def update(principal, month, tenant):
        month = common.check_month(month)
        if tenant:
            auth.resolve_one_tenant(principal, tenant)
        elif not principal.admin and len(principal.tenants) != 1:
            return *([None] * len(FORMATS)), "Choose a tenant to download its report."
        query = {"month": month, **({"tenant": tenant} if tenant else {})}
        hrefs = [f"{prefix}download/{fmt}?{urlencode(query)}" for fmt in FORMATS]
        note = f"Reports for {tenant or ('all tenants' if principal.admin else next(iter(principal.tenants)))}, {month}."
        return *hrefs, note
