"""The Dash application: a Flask server with the access hook, the page shell, routing, downloads.

:func:`create_app` builds one independent app (no global page registry), so ``infermeter up``,
``infermeter portal`` and the tests can each make their own.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import dash
import flask
from dash import Input, Output, dcc, html

from infermeter.dashboards.portal import downloads
from infermeter.dashboards.portal.data import PortalData
from infermeter.dashboards.portal.pages import budgets, common, overview, reports, slos, tenant_detail, tenants
from infermeter.dashboards.portal.security import Gatekeeper, current_principal

log = logging.getLogger("infermeter.portal")
ASSETS = Path(__file__).with_name("assets")
PAGES = (overview, tenants, tenant_detail, slos, reports, budgets)
NAV = (overview, tenants, slos, reports, budgets)


def _route(path: str) -> tuple[Any, dict[str, str]] | None:
    """The page module and its path parameters for a path below the prefix."""
    path = "/" + path.strip("/")
    for page in PAGES:
        pattern = "^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", page.PATH) + "$"
        match = re.match(pattern, path)
        if match:
            from urllib.parse import unquote

            return page, {k: unquote(v) for k, v in match.groupdict().items()}
    return None


def create_app(settings, store) -> dash.Dash:
    """A portal over ``store`` configured by ``settings.portal`` (raises ConfigError if no auth)."""
    cfg = settings.portal
    gate = Gatekeeper(cfg)
    server = flask.Flask("infermeter.portal")
    server.config["MAX_CONTENT_LENGTH"] = 1 << 20
    gate.install(server)
    app = dash.Dash(
        "infermeter.portal",
        server=server,
        url_base_pathname=cfg.base_path,
        assets_folder=str(ASSETS),
        title=cfg.title,
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
    )
    data = PortalData(store, settings)
    app.server.config["portal_data"] = data
    prefix = cfg.base_path

    def shell():
        if not flask.has_request_context() or flask.g.get("principal") is None:
            return html.Div(id="page")
        principal = current_principal()
        nav = [dcc.Link(page.TITLE, href=prefix + page.PATH.lstrip("/"), className="nav-link", id=f"nav-{page.__name__.rsplit('.', 1)[-1]}") for page in NAV]
        who = [html.Span(principal.label, id="whoami", className="who")]
        if principal.via == "session":
            who.append(html.A("Log out", href=f"{prefix}logout", className="logout", id="logout"))
        return html.Div(
            [
                dcc.Location(id="url"),
                html.Header([html.Span(cfg.title, className="brand"), html.Nav(nav), html.Div(who, className="user")], className="top"),
                html.Main(id="page"),
            ],
            className="shell",
        )

    app.layout = shell

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    @common.guarded
    def route(principal, pathname):
        path = pathname or prefix
        if not isinstance(path, str) or not path.startswith(prefix.rstrip("/")):
            return _not_found()
        found = _route(path[len(prefix.rstrip("/")):])
        if found is None:
            return _not_found()
        page, params = found
        ctx = common.PageContext(principal=principal, data=data, prefix=prefix, params=params)
        return page.layout(ctx)

    for page in PAGES:
        page.register(app, data)
    downloads.install(server, prefix, data)
    return app


def _not_found():
    return html.Div([html.H2("Not found"), html.P("There is no such page.")], id="not-found")
