"""``download/<format>?month=YYYY-MM[&tenant=T]``: the chargeback report files, access-checked.

The files are rendered by the chargeback report renderers (the same code as
``infermeter chargeback report``); this module only decides who may have which file.
"""

from __future__ import annotations

import logging
import re

import flask

from infermeter.dashboards.portal import auth
from infermeter.dashboards.portal.security import current_principal

log = logging.getLogger("infermeter.portal")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MEDIA = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "html": ("text/html; charset=utf-8", "html"),
    "pdf": ("application/pdf", "pdf"),
    "focus": ("text/csv; charset=utf-8", "focus.csv"),
}


def install(server: flask.Flask, prefix: str, data) -> None:
    def download(fmt: str):
        principal = current_principal()
        if fmt not in MEDIA:
            flask.abort(404)
        month = flask.request.args.get("month", "")
        if not _MONTH.match(month):
            flask.abort(400, description="month must be YYYY-MM")
        requested = flask.request.args.get("tenant") or None
        try:
            if requested is not None:
                tenant: str | None = auth.resolve_one_tenant(principal, requested)
            elif principal.admin:
                tenant = None  # the whole fleet
            else:
                tenant = auth.resolve_one_tenant(principal, None)
        except auth.Forbidden as exc:
            log.warning("portal: refused download %s for %s: %s", fmt, principal.name, exc)
            flask.abort(403, description=str(exc))
        body = render(data, fmt, month, tenant)
        media, ext = MEDIA[fmt]
        name = f"infermeter-{tenant or 'all-tenants'}-{month}.{ext}"
        resp = flask.Response(body, mimetype=media.split(";")[0])
        resp.headers["Content-Type"] = media
        resp.headers["Content-Disposition"] = f'attachment; filename="{_safe_filename(name)}"'
        log.info("portal: %s downloaded %s", principal.name, name)
        return resp

    server.add_url_rule(f"{prefix}download/<fmt>", "portal_download", download)


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def render(data, fmt: str, month: str, tenant: str | None) -> bytes:
    """The report file, built and rendered by the chargeback reports (as ``chargeback report``)."""
    from infermeter.chargeback import reports
    from infermeter.chargeback.queries import NoChargebackData
    from infermeter.chargeback.reports.pdf import RenderFailed, RendererUnavailable

    try:
        report = reports.build_report(
            data.store,
            month,
            tenant,
            budgets=data.tenant_budgets() or None,
            slo_specs=data.settings.portal.slo_specs,
            daily_lines=(fmt == "focus"),
        )
        return reports.render(report, fmt)
    except (NoChargebackData, reports.NoTenantData) as exc:
        flask.abort(404, description=str(exc))
    except (RendererUnavailable, RenderFailed) as exc:
        flask.abort(503, description=str(exc))
