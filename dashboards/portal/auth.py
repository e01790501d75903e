"""Who is asking, and which tenants they may see. Pure functions: no Flask, no store.

A :class:`Principal` is resolved on the server for every request (see :mod:`.security`) from, in
order: a bearer token, the authenticating proxy's headers (only when enabled and from a trusted
peer), the signed login cookie, or anonymous admin (demo mode). Every page, callback and download
then asks :func:`resolve_tenants` which tenants it may read; a value sent by the client is never
trusted on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from infermeter.dashboards.portal.config import AuthConfig, ProxyAuthConfig


class Unauthenticated(Exception):
    """No identity, or a bad one (HTTP 401)."""


class Forbidden(Exception):
    """A known identity asked for something it may not see (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    name: str
    via: str  # token | proxy | session | anonymous
    admin: bool = False
    tenants: frozenset[str] = field(default_factory=frozenset)
    token_name: str | None = None  # for sessions: re-checked against the configuration

    def can_see(self, tenant: str) -> bool:
        return self.admin or tenant in self.tenants

    @property
    def label(self) -> str:
        role = "admin" if self.admin else ", ".join(sorted(self.tenants)) or "no tenants"
        return f"{self.name} ({role})"


# --------------------------------------------------------------------------- tenant scope


def resolve_tenants(principal: Principal, requested: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """The tenants a request may read; ``None`` means every tenant (admins only).

    Values the principal is not entitled to are dropped (ignored). When something was asked for
    explicitly and nothing of it is allowed, :class:`Forbidden` is raised, so a crafted request
    for another tenant's data gets a 403, never that data nor a silent fallback to other data.
    """
    if isinstance(requested, str):
        wanted = [requested] if requested else []
    elif requested is None:
        wanted = []
    else:
        wanted = [t for t in requested if isinstance(t, str) and t]
        if any(not isinstance(t, str) for t in requested):
            raise Forbidden("tenant values must be strings")
    if not wanted:
        if principal.admin:
            return None
        if not principal.tenants:
            raise Forbidden(f"{principal.name} is granted no tenant")
        return tuple(sorted(principal.tenants))
    allowed = tuple(dict.fromkeys(t for t in wanted if principal.can_see(t)))
    if not allowed:
        raise Forbidden(f"{principal.name} may not see the tenant(s) asked for")
    return allowed


def resolve_one_tenant(principal: Principal, requested: str | None) -> str:
    """Exactly one tenant (detail pages, per-tenant reports): requested, or the viewer's only one."""
    if requested:
        if not isinstance(requested, str) or not principal.can_see(requested):
            raise Forbidden(f"{principal.name} may not see the tenant asked for")
        return requested
    if not principal.admin and len(principal.tenants) == 1:
        return next(iter(principal.tenants))
    raise Forbidden("name a tenant")


def visible(principal: Principal, tenants: Iterable[str]) -> list[str]:
    """Filter a list of known tenants to those the principal may see."""
    return sorted(t for t in tenants if principal.can_see(t))


# --------------------------------------------------------------------------- tokens


def token_digests(auth: AuthConfig) -> dict[str, bytes]:
    """Token name -> SHA-256 digest, read once when the app starts."""
    return {t.name: t.digest() for t in auth.tokens}


def principal_for_token_name(auth: AuthConfig, name: str, via: str = "token") -> Principal | None:
    for tok in auth.tokens:
        if tok.name == name:
            return Principal(name=tok.name, via=via, admin=tok.admin, tenants=frozenset(tok.tenants), token_name=tok.name)
    return None


def principal_from_bearer(auth: AuthConfig, digests: Mapping[str, bytes], header: str | None) -> Principal | None:
    """``Authorization: Bearer <token>`` -> the token's principal; a wrong token raises."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return principal_from_token(auth, digests, value.strip())


def principal_from_token(auth: AuthConfig, digests: Mapping[str, bytes], token: str) -> Principal:
    if not token or not digests:
        raise Unauthenticated("invalid token")
    presented = hashlib.sha256(token.encode()).digest()
    match = None
    for name, digest in digests.items():  # compare with every entry: no early exit
        if hmac.compare_digest(presented, digest):
            match = name
    if match is None:
        raise Unauthenticated("invalid token")
    principal = principal_for_token_name(auth, match)
    assert principal is not None
    return principal


# --------------------------------------------------------------------------- proxy headers


def peer_trusted(proxy: ProxyAuthConfig, remote_addr: str | None) -> bool:
    nets = proxy.networks()
    if not nets:
        return True
    if not remote_addr:
        return False
    try:
        addr = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(addr in net for net in nets if net.version == addr.version)


def principal_from_proxy(
    proxy: ProxyAuthConfig, headers: Mapping[str, str], remote_addr: str | None
) -> Principal | None:
    """The proxy's user and groups; None when proxy mode is off, the peer untrusted or no user."""
    if not proxy.enabled or not peer_trusted(proxy, remote_addr):
        return None
    user = (headers.get(proxy.user_header) or "").strip()
    if not user:
        return None
    raw_groups = headers.get(proxy.groups_header) or ""
    groups = {g.strip() for g in raw_groups.split(proxy.groups_separator) if g.strip()}
    admin = user in proxy.admin_users or bool(groups & set(proxy.admin_groups))
    tenants: set[str] = set(proxy.user_tenants.get(user, ()))
    for group in groups:
        tenants.update(proxy.group_tenants.get(group, ()))
    return Principal(name=user, via="proxy", admin=admin, tenants=frozenset(tenants))


# --------------------------------------------------------------------------- login cookie


def sign_session(secret: bytes, token_name: str, ttl_s: int, now: float | None = None) -> str:
    """A cookie value naming the token that logged in, with an expiry, signed (HMAC-SHA256)."""
    payload = json.dumps({"t": token_name, "exp": int((now or time.time()) + ttl_s)}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    sig = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{sig}"


def principal_from_session(auth: AuthConfig, secret: bytes, cookie: str | None, now: float | None = None) -> Principal | None:
    """The principal of a valid, unexpired cookie whose token is still configured; else None."""
    if not cookie or "." not in cookie:
        return None
    body, _, sig = cookie.rpartition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        name, exp = str(data["t"]), int(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if exp < (now or time.time()):
        return None
    return principal_for_token_name(auth, name, via="session")


ANONYMOUS_ADMIN = Principal(name="anonymous", via="anonymous", admin=True)
