"""Server-side enforcement: a Flask ``before_request`` hook on every route, login and logout.

Every request (pages, Dash's ``/_dash-*`` routes, assets, downloads) goes through :meth:`Gatekeeper.check`,
which puts the caller's :class:`~.auth.Principal` on ``flask.g`` or answers 401/403 itself. Only
``login``, ``logout`` and ``healthz`` are open. Responses carrying data are marked ``no-store``
so that no shared cache hands one tenant's numbers to another.
"""

from __future__ import annotations

import html
import logging
import secrets
from urllib.parse import urlsplit

import flask
from werkzeug.exceptions import HTTPException

from infermeter.dashboards.portal import auth
from infermeter.dashboards.portal.config import PortalConfig
from infermeter.errors import ConfigError

log = logging.getLogger("infermeter.portal.auth")

COOKIE = "infermeter_portal"
OPEN_ROUTES = ("login", "logout", "healthz")


def current_principal() -> auth.Principal:
    """The principal of the request being served (set by the before_request hook)."""
    principal = flask.g.get("principal")
    if principal is None:  # a route that escaped the hook: refuse rather than leak
        raise auth.Unauthenticated("no principal on this request")
    return principal


class Gatekeeper:
    """Resolves the caller of each request from the portal's auth configuration."""

    def __init__(self, cfg: PortalConfig) -> None:
        if not cfg.auth_configured():
            raise ConfigError(
                "portal.auth: no way to log in is configured; set portal.auth.tokens, "
                "portal.auth.proxy.enabled, or (demo on loopback only) portal.auth.anonymous_admin"
            )
        self.cfg = cfg
        self.auth = cfg.auth
        self.prefix = cfg.base_path
        self.digests = auth.token_digests(cfg.auth)
        self.secret = self._session_secret()

    def _session_secret(self) -> bytes:
        path = self.auth.session_secret_file
        if path is None:
            return secrets.token_bytes(32)
        try:
            data = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"portal.auth.session_secret_file: cannot read {path} ({exc.strerror})") from None
        if len(data) < 16:
            raise ConfigError(f"portal.auth.session_secret_file: {path} holds fewer than 16 bytes")
        return data

    # ------------------------------------------------------------------ resolution

    def identify(self, request: flask.Request) -> auth.Principal:
        """The caller, or :class:`auth.Unauthenticated`."""
        bearer = auth.principal_from_bearer(self.auth, self.digests, request.headers.get("Authorization"))
        if bearer is not None:
            return bearer
        proxied = auth.principal_from_proxy(self.auth.proxy, request.headers, request.remote_addr)
        if proxied is not None:
            return proxied
        session = auth.principal_from_session(self.auth, self.secret, request.cookies.get(COOKIE))
        if session is not None:
            return session
        if self.auth.anonymous_admin:
            return auth.ANONYMOUS_ADMIN
        raise auth.Unauthenticated("log in first")

    # ------------------------------------------------------------------ Flask wiring

    def install(self, server: flask.Flask) -> None:
        server.before_request(self.check)
        server.after_request(self._headers)
        p = self.prefix
        server.add_url_rule(f"{p}login", "portal_login", self.login, methods=["GET", "POST"])
        server.add_url_rule(f"{p}logout", "portal_logout", self.logout, methods=["GET", "POST"])
        server.add_url_rule(f"{p}healthz", "portal_healthz", lambda: "ok\n")
        server.register_error_handler(HTTPException, _http_error)

    def _open_route(self, path: str) -> bool:
        return any(path == f"{self.prefix}{name}" for name in OPEN_ROUTES)

    def check(self):
        if self._open_route(flask.request.path):
            return None
        try:
            principal = self.identify(flask.request)
        except auth.Unauthenticated as exc:
            return self._unauthenticated(str(exc))
        if not principal.admin and not principal.tenants:
            log.warning("portal: %s (%s) is granted no tenant", principal.name, principal.via)
            return _error(403, f"{principal.name} is not granted any tenant.")
        flask.g.principal = principal
        return None

    def _unauthenticated(self, reason: str):
        req = flask.request
        wants_page = req.method == "GET" and "text/html" in (req.headers.get("Accept") or "")
        if wants_page and self.auth.tokens:
            target = flask.request.full_path if req.query_string else req.path
            return flask.redirect(f"{self.prefix}login?next={_quote(target)}")
        resp = _error(401, f"Authentication required: {reason}.")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="infermeter"'
        return resp

    def _headers(self, resp: flask.Response) -> flask.Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        path = flask.request.path
        if "_dash-component-suites" not in path and "/assets/" not in path:
            resp.headers["Cache-Control"] = "no-store"
            resp.headers["Vary"] = "Authorization, Cookie"
        return resp

    def login(self):
        req = flask.request
        nxt = _safe_next(req.values.get("next"), self.prefix)
        if req.method == "GET":
            return _login_page(self.cfg.title, nxt, error=None, prefix=self.prefix)
        token = (req.form.get("token") or "").strip()
        try:
            principal = auth.principal_from_token(self.auth, self.digests, token)
        except auth.Unauthenticated:
            log.warning("portal: failed login from %s", req.remote_addr)
            return _login_page(self.cfg.title, nxt, error="That token is not valid.", prefix=self.prefix), 401
        resp = flask.redirect(nxt)
        resp.set_cookie(
            COOKIE,
            auth.sign_session(self.secret, principal.name, self.auth.session_ttl_s),
            max_age=self.auth.session_ttl_s,
            httponly=True,
            secure=self.auth.cookie_secure,
            samesite="Lax",
            path=self.prefix,
        )
        log.info("portal: %s logged in", principal.name)
        return resp

    def logout(self):
        resp = flask.redirect(f"{self.prefix}login")
        resp.delete_cookie(COOKIE, path=self.prefix)
        return resp


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _safe_next(value: str | None, prefix: str) -> str:
    """Only a path inside the portal: never an open redirect."""
    if not value:
        return prefix
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(prefix) or value.startswith("//") or "\\" in value:
        return prefix
    return value


def _http_error(exc: HTTPException) -> flask.Response:
    """Errors as one plain-text line (never an HTML page echoing the request)."""
    return _error(exc.code or 500, f"{exc.name}: {exc.description}")


def _error(status: int, message: str) -> flask.Response:
    resp = flask.make_response(message + "\n", status)
    resp.mimetype = "text/plain"
    return resp


def _login_page(title: str, nxt: str, error: str | None, prefix: str) -> str:
    err = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}: log in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:6rem auto;color:#1f2937}}
input{{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}}button{{padding:.5rem 1rem}}
.error{{color:#b91c1c}}</style></head>
<body><h1>{html.escape(title)}</h1>
<form method="post" action="{html.escape(prefix)}login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{html.escape(nxt)}">
<button id="login" type="submit">Log in</button>{err}
</form></body></html>"""
