"""The access rules as pure functions: tokens, proxy headers, login cookies, tenant scope."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from infermeter.config import load_settings
from infermeter.dashboards.portal import auth
from infermeter.dashboards.portal.config import AuthConfig, PortalConfig, ProxyAuthConfig, TokenConfig
from infermeter.errors import ConfigError

TOKEN = "viewer-token-0123456789"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


VIEWER = auth.Principal("v", "token", tenants=frozenset({"acme"}))
MULTI = auth.Principal("m", "token", tenants=frozenset({"acme", "beta"}))
ADMIN = auth.Principal("a", "token", admin=True)


# ------------------------------------------------------------------ tenant scope


def test_viewer_scope_defaults_to_own_tenants():
    assert auth.resolve_tenants(VIEWER, None) == ("acme",)
    assert auth.resolve_tenants(MULTI, []) == ("acme", "beta")


def test_admin_scope_is_everything_or_what_was_asked():
    assert auth.resolve_tenants(ADMIN, None) is None
    assert auth.resolve_tenants(ADMIN, ["x", "y"]) == ("x", "y")


def test_other_tenant_alone_is_forbidden():
    with pytest.raises(auth.Forbidden):
        auth.resolve_tenants(VIEWER, "globex")
    with pytest.raises(auth.Forbidden):
        auth.resolve_tenants(VIEWER, ["globex"])


def test_unentitled_values_are_dropped_from_a_mixed_request():
    assert auth.resolve_tenants(MULTI, ["globex", "beta", "acme", "beta"]) == ("beta", "acme")


def test_non_string_tenant_values_are_refused():
    with pytest.raises(auth.Forbidden):
        auth.resolve_tenants(VIEWER, ["acme", {"$ne": ""}])


def test_principal_without_tenants_gets_nothing():
    with pytest.raises(auth.Forbidden):
        auth.resolve_tenants(auth.Principal("nobody", "proxy"), None)


def test_one_tenant_resolution():
    assert auth.resolve_one_tenant(VIEWER, None) == "acme"
    assert auth.resolve_one_tenant(VIEWER, "acme") == "acme"
    with pytest.raises(auth.Forbidden):
        auth.resolve_one_tenant(VIEWER, "globex")
    with pytest.raises(auth.Forbidden):
        auth.resolve_one_tenant(MULTI, None)  # ambiguous: must name one
    assert auth.resolve_one_tenant(ADMIN, "globex") == "globex"


# ------------------------------------------------------------------ tokens


def _auth(**kw) -> AuthConfig:
    return AuthConfig(
        tokens=[
            TokenConfig(name="viewer", sha256=sha(TOKEN), tenants=["acme"]),
            TokenConfig(name="admin", sha256=sha("admin-token-0123456789"), admin=True),
        ],
        **kw,
    )


def test_bearer_token_maps_to_its_grant():
    a = _auth()
    digests = auth.token_digests(a)
    p = auth.principal_from_bearer(a, digests, f"Bearer {TOKEN}")
    assert p == auth.Principal("viewer", "token", tenants=frozenset({"acme"}), token_name="viewer")
    assert auth.principal_from_bearer(a, digests, "Bearer admin-token-0123456789").admin


def test_wrong_bearer_token_raises_and_other_schemes_are_ignored():
    a = _auth()
    digests = auth.token_digests(a)
    with pytest.raises(auth.Unauthenticated):
        auth.principal_from_bearer(a, digests, "Bearer not-the-token-at-all")
    with pytest.raises(auth.Unauthenticated):
        auth.principal_from_bearer(a, digests, "Bearer ")
    assert auth.principal_from_bearer(a, digests, "Basic dXNlcjpwdw==") is None
    assert auth.principal_from_bearer(a, digests, None) is None


def test_token_from_file_and_env(tmp_path, monkeypatch):
    f = tmp_path / "tok"
    f.write_text("file-token-0123456789\n")
    monkeypatch.setenv("PORTAL_TOKEN", "env-token-0123456789")
    a = AuthConfig(
        tokens=[
            TokenConfig(name="f", file=f, tenants=["acme"]),
            TokenConfig(name="e", env="PORTAL_TOKEN", admin=True),
        ]
    )
    digests = auth.token_digests(a)
    assert auth.principal_from_token(a, digests, "file-token-0123456789").name == "f"
    assert auth.principal_from_token(a, digests, "env-token-0123456789").name == "e"


def test_token_sources_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"tokens\[e\].env: \$NOPE_TOKEN is not set"):
        TokenConfig(name="e", env="NOPE_TOKEN", admin=True).digest()
    with pytest.raises(ConfigError, match=r"tokens\[f\].file: cannot read"):
        TokenConfig(name="f", file=tmp_path / "missing", admin=True).digest()
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(ConfigError, match="shorter than 16"):
        TokenConfig(name="s", file=short, admin=True).digest()
    with pytest.raises(ValidationError, match="exactly one of sha256, file, env"):
        TokenConfig(name="x", sha256=sha("y"), env="X", admin=True)
    with pytest.raises(ValidationError, match="grants nothing"):
        TokenConfig(name="x", sha256=sha("y"))
    with pytest.raises(ValidationError, match="64 hex digits"):
        TokenConfig(name="x", sha256="abc", admin=True)


def test_token_hash_never_appears_in_reprs_or_dumps():
    digest = sha(TOKEN)
    settings = load_settings(None, portal={"auth": {"tokens": [{"name": "v", "sha256": digest, "tenants": ["acme"]}]}})
    assert digest not in repr(settings)
    assert digest not in str(settings.portal)
    assert digest not in settings.model_dump_json()


def test_duplicate_token_names_rejected():
    with pytest.raises(ValidationError, match="duplicate token names: v"):
        AuthConfig(tokens=[TokenConfig(name="v", sha256=sha("a"), admin=True), TokenConfig(name="v", sha256=sha("b"), admin=True)])


# ------------------------------------------------------------------ proxy headers


def _proxy(**kw) -> ProxyAuthConfig:
    base = dict(enabled=True, admin_groups=["platform"], group_tenants={"team-acme": ["acme"], "team-beta": ["beta", "beta-staging"]})
    return ProxyAuthConfig(**{**base, **kw})


def test_proxy_groups_map_to_tenants_and_admin():
    p = auth.principal_from_proxy(_proxy(), {"X-Forwarded-User": "ann", "X-Forwarded-Groups": "team-acme, team-beta,unrelated"}, "10.0.0.5")
    assert p == auth.Principal("ann", "proxy", admin=False, tenants=frozenset({"acme", "beta", "beta-staging"}))
    admin = auth.principal_from_proxy(_proxy(), {"X-Forwarded-User": "bob", "X-Forwarded-Groups": "platform"}, "10.0.0.5")
    assert admin.admin


def test_proxy_headers_ignored_unless_enabled():
    headers = {"X-Forwarded-User": "eve", "X-Forwarded-Groups": "platform"}
    assert auth.principal_from_proxy(_proxy(enabled=False), headers, "127.0.0.1") is None
    assert auth.principal_from_proxy(ProxyAuthConfig(), headers, "127.0.0.1") is None


def test_proxy_headers_only_from_trusted_peers():
    cfg = _proxy(trusted_proxies=["10.1.0.0/16", "::1"])
    headers = {"X-Forwarded-User": "eve", "X-Forwarded-Groups": "platform"}
    assert auth.principal_from_proxy(cfg, headers, "192.168.1.9") is None
    assert auth.principal_from_proxy(cfg, headers, None) is None
    assert auth.principal_from_proxy(cfg, headers, "not-an-ip") is None
    assert auth.principal_from_proxy(cfg, headers, "10.1.2.3").admin
    assert auth.principal_from_proxy(cfg, headers, "::1").admin


def test_proxy_without_user_header_is_anonymous_and_user_maps_apply():
    assert auth.principal_from_proxy(_proxy(), {"X-Forwarded-Groups": "platform"}, "1.2.3.4") is None
    cfg = _proxy(user_tenants={"carl": ["gamma"]}, admin_users=["root@corp"])
    assert auth.principal_from_proxy(cfg, {"X-Forwarded-User": "carl"}, None).tenants == frozenset({"gamma"})
    assert auth.principal_from_proxy(cfg, {"X-Forwarded-User": "root@corp"}, None).admin


def test_proxy_config_validation():
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        ProxyAuthConfig(trusted_proxies=["proxy.local"])
    with pytest.raises(ValidationError, match="not an HTTP header name"):
        ProxyAuthConfig(user_header="X User")


# ------------------------------------------------------------------ login cookie


def test_session_cookie_roundtrip_expiry_and_tampering():
    a = _auth()
    secret = b"s" * 32
    cookie = auth.sign_session(secret, "viewer", 60, now=1000)
    assert auth.principal_from_session(a, secret, cookie, now=1030).tenants == frozenset({"acme"})
    assert auth.principal_from_session(a, secret, cookie, now=1061) is None  # expired
    assert auth.principal_from_session(a, b"other" * 8, cookie, now=1030) is None  # other key
    body, sig = cookie.rsplit(".", 1)
    forged = auth.sign_session(b"attacker" * 4, "admin", 60, now=1000)
    assert auth.principal_from_session(a, secret, forged.rsplit(".", 1)[0] + "." + sig, now=1030) is None
    assert auth.principal_from_session(a, secret, "garbage", now=1030) is None
    # a token removed from the configuration ends its sessions
    gone = auth.sign_session(secret, "deleted", 60, now=1000)
    assert auth.principal_from_session(a, secret, gone, now=1030) is None


# ------------------------------------------------------------------ configuration


def test_portal_section_in_settings_from_yaml(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "portal:\n  port: 9000\n  auth:\n    proxy:\n      enabled: true\n      group_tenants: {team-a: [acme]}\n"
    )
    s = load_settings(cfg, portal={"host": "0.0.0.0"})
    assert s.portal.port == 9000 and s.portal.host == "0.0.0.0"
    assert s.portal.auth.proxy.group_tenants == {"team-a": ["acme"]}


def test_unknown_portal_key_is_named(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("portal:\n  auth:\n    tokenz: []\n")
    with pytest.raises(ConfigError, match=r"portal.auth.tokenz: unknown key"):
        load_settings(cfg)


def test_anonymous_admin_only_on_loopback():
    assert PortalConfig(auth={"anonymous_admin": True}).auth_configured()
    with pytest.raises(ValidationError, match="only when host is a loopback"):
        PortalConfig(host="0.0.0.0", auth={"anonymous_admin": True})


def test_no_auth_configured_refuses_to_build_the_gate():
    from infermeter.dashboards.portal.security import Gatekeeper

    with pytest.raises(ConfigError, match="no way to log in is configured"):
        Gatekeeper(PortalConfig())
