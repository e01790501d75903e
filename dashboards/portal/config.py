"""The portal's configuration section (``portal:`` in infermeter.yaml).

Two ways to say who a visitor is, each off unless configured:

- ``auth.proxy``: an authenticating reverse proxy (oauth2-proxy, Pomerium, ...) sets
  ``X-Forwarded-User`` and ``X-Forwarded-Groups``; groups map to tenants or to admin. The headers
  are read only when ``enabled`` is true and, if ``trusted_proxies`` is set, only from those
  addresses (anyone else could send the same headers).
- ``auth.tokens``: bearer tokens (``Authorization: Bearer ...``, or the login form, which sets a
  signed session cookie). The configuration holds the token's SHA-256, or names a file or an
  environment variable that holds the token; the token itself never appears in a repr or log.

This module must not import :mod:`infermeter.config` (the Settings model imports it).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_TENANT = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

TenantName = Annotated[str, Field(pattern=_TENANT)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProxyAuthConfig(_Section):
    """Identity from an authenticating proxy's headers."""

    enabled: bool = Field(default=False, description="Read the proxy headers at all (off unless set).")
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    groups_separator: str = Field(default=",", min_length=1)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs allowed to send the headers; empty: any peer (put the portal on loopback).",
    )
    admin_groups: list[str] = Field(default_factory=list, description="Groups that see every tenant.")
    group_tenants: dict[str, list[TenantName]] = Field(
        default_factory=dict, description="Group -> tenants its members may see."
    )
    admin_users: list[str] = Field(default_factory=list, description="Users that see every tenant.")
    user_tenants: dict[str, list[TenantName]] = Field(default_factory=dict, description="User -> tenants.")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("user_header", "groups_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9-]+$", value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        return value

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies]


class TokenConfig(_Section):
    """One bearer token: its hash, or where to read it, and what it may see."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", description="Shown as the user's name.")
    sha256: SecretStr | None = Field(default=None, description="Hex SHA-256 of the token (preferred).")
    file: Path | None = Field(default=None, description="A file holding the token (a mounted secret).")
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="An environment variable holding it.")
    admin: bool = False
    tenants: list[TenantName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> "TokenConfig":
        given = [k for k in ("sha256", "file", "env") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"token {self.name!r}: give exactly one of sha256, file, env (got {len(given)})")
        if self.sha256 is not None and not _SHA256.match(self.sha256.get_secret_value().lower()):
            raise ValueError(f"token {self.name!r}: sha256 must be 64 hex digits")
        if not self.admin and not self.tenants:
            raise ValueError(f"token {self.name!r}: grants nothing (set tenants, or admin: true)")
        return self

    def digest(self) -> bytes:
        """The SHA-256 of the token, read now from wherever it lives."""
        from infermeter.errors import ConfigError

        if self.sha256 is not None:
            return bytes.fromhex(self.sha256.get_secret_value().lower())
        if self.file is not None:
            try:
                secret = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"portal.auth.tokens[{self.name}].file: cannot read {self.file} ({exc.strerror})") from None
        else:
            secret = os.environ.get(self.env or "", "").strip()
            if not secret:
                raise ConfigError(f"portal.auth.tokens[{self.name}].env: ${self.env} is not set")
        if len(secret) < 16:
            raise ConfigError(f"portal.auth.tokens[{self.name}]: the token is shorter than 16 characters")
        return hashlib.sha256(secret.encode()).digest()


class AuthConfig(_Section):
    proxy: ProxyAuthConfig = ProxyAuthConfig()
    tokens: list[TokenConfig] = Field(default_factory=list)
    anonymous_admin: bool = Field(
        default=False, description="No login at all, everyone is admin: only for a demo on a loopback address."
    )
    session_secret_file: Path | None = Field(
        default=None, description="Key that signs login cookies (default: a random key per process)."
    )
    session_ttl_s: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool = Field(default=False, description="Send the login cookie over HTTPS only.")

    @model_validator(mode="after")
    def _unique_names(self) -> "AuthConfig":
        names = [t.name for t in self.tokens]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate token names: {', '.join(dupes)}")
        return self


class PortalConfig(_Section):
    """``infermeter portal``: where it listens and who may see what."""

    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=0, le=65535)
    base_path: str = Field(default="/", pattern=r"^/([A-Za-z0-9_.-]+/)*$", description="URL prefix behind a proxy.")
    title: str = "infermeter"
    cache_ttl_s: float = Field(default=30.0, ge=0, description="How long a query result is reused (0: never).")
    slo_specs: Path | None = Field(
        default=None, description="SLO spec file or directory: the SLO pages and the reports' SLO column."
    )
    slo_cache_ttl_s: float = Field(
        default=300.0, ge=0, description="SLO reports of a month (all tenants) are reused this long; kept warm in the background."
    )
    auth: AuthConfig = AuthConfig()

    @model_validator(mode="after")
    def _anonymous_only_on_loopback(self) -> "PortalConfig":
        if self.auth.anonymous_admin and self.host not in LOOPBACK_HOSTS:
            raise ValueError("auth.anonymous_admin is allowed only when host is a loopback address")
        return self

    def auth_configured(self) -> bool:
        return self.auth.proxy.enabled or bool(self.auth.tokens) or self.auth.anonymous_admin
