"""What every page shares: the guarded-callback decorator, the month check, control widgets."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask
from dash import dcc, html

from infermeter.dashboards.portal import auth
from infermeter.dashboards.portal.security import current_principal

log = logging.getLogger("infermeter.portal")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class PageContext:
    """What a page needs to draw itself for one request."""

    principal: auth.Principal
    data: Any  # PortalData
    prefix: str
    params: dict[str, str]

    def href(self, path: str) -> str:
        return self.prefix + path.lstrip("/")


def check_month(value: Any) -> str:
    """A ``YYYY-MM`` month from the client, or 400."""
    if not isinstance(value, str) or not _MONTH.match(value):
        flask.abort(400, description="month must be YYYY-MM")
    return value


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a callback with the server-side principal first; a Forbidden becomes HTTP 403.

    The principal comes from ``flask.g`` (set by the before_request hook), never from the
    client; every callback passes the tenant values it received through
    :func:`auth.resolve_tenants` / :func:`auth.resolve_one_tenant`.
    """

    @functools.wraps(fn)
    def inner(*args: Any) -> Any:
        principal = current_principal()
        try:
            return fn(principal, *args)
        except auth.Forbidden as exc:
            log.warning("portal: refused %s in %s: %s", principal.name, fn.__name__, exc)
            flask.abort(403, description=str(exc))

    del inner.__wrapped__  # Dash must see (*args), not the principal parameter
    return inner


def month_dropdown(ident: str, months: list[str]) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=ident,
        options=[{"label": m, "value": m} for m in months],
        value=months[0] if months else None,
        clearable=False,
        className="control month",
    )


def tenant_dropdown(ident: str, tenants: list[str], multi: bool, value: Any = None, placeholder: str = "All my tenants") -> dcc.Dropdown:
    return dcc.Dropdown(
        id=ident,
        options=[{"label": t, "value": t} for t in tenants],
        value=value,
        multi=multi,
        placeholder=placeholder,
        className="control tenant",
    )


def controls(*items: tuple[str, Any]) -> html.Div:
    return html.Div([html.Label([html.Span(label, className="control-label"), widget]) for label, widget in items], className="controls")


def graph(ident: str) -> dcc.Graph:
    return dcc.Graph(id=ident, config={"displaylogo": False}, className="chart")


def no_months() -> html.Div:
    return html.Div("No chargeback data yet: run `infermeter chargeback run --month YYYY-MM`.", className="notice")


def slo_unavailable(reason: str) -> html.Div:
    return html.Div(f"SLO data not available: {reason}", className="notice", id="slo-unavailable")
