"""Access control over real HTTP: every page, callback and download for anonymous, viewer, admin.

Includes callback requests crafted by hand that ask for another tenant's data: they must get a
403 (or, for values mixed with allowed ones, an answer without the other tenant), never its data.
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.portal import dashreq, seed
from tests.portal.conftest import ADMIN_TOKEN, EMPTY_TOKEN, MULTI_TOKEN, VIEWER_TOKEN, bearer, client

MONTH = seed.MONTH
PAGES = ["/", "/tenants", "/tenants/acme", "/slos", "/reports", "/budgets"]
FORMATS = ["csv", "json", "html", "pdf", "focus"]
GLOBEX = seed.SECRET_MARKERS["globex"]
ACME_TOTAL = seed.shown(seed.month_total("acme"))
GLOBEX_TOTAL = seed.shown(seed.month_total("globex"))


def leaks_globex(text: str) -> list[str]:
    return [m for m in GLOBEX if m in text]


@pytest.fixture(scope="module")
def deps(token_portal):
    return dashreq.dependencies(token_portal.url, client(ADMIN_TOKEN))


def post(server, token, deps, key, values=None, headers=None):
    return dashreq.call(server.url, client(token, headers), deps, key, values)


# ------------------------------------------------------------------ anonymous


@pytest.mark.parametrize("path", ["", "tenants", "tenants/acme", "slos", "reports", "budgets", "_dash-layout", "_dash-dependencies", "assets/portal.css"])
def test_anonymous_gets_401_on_every_route(token_portal, path):
    resp = requests.get(token_portal.url + path, allow_redirects=False)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "acme" not in resp.text


def test_anonymous_browser_is_sent_to_the_login_form(token_portal):
    resp = requests.get(token_portal.url + "tenants?x=1", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/tenants%3Fx%3D1"


def test_anonymous_component_suites_are_refused(token_portal):
    layout = requests.get(token_portal.url, headers=bearer(ADMIN_TOKEN)).text
    script = re.search(r'src="(/_dash-component-suites/[^"]+)"', layout).group(1)
    assert requests.get(token_portal.url.rstrip("/") + script, headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert requests.get(token_portal.url.rstrip("/") + script).status_code == 401


@pytest.mark.parametrize("key", list(dashreq.CALLBACKS))
def test_anonymous_callbacks_are_refused(token_portal, deps, key):
    resp = post(token_portal, None, deps, key)
    assert resp.status_code == 401
    assert not leaks_globex(resp.text) and "acme" not in resp.text


@pytest.mark.parametrize("fmt", FORMATS)
def test_anonymous_downloads_are_refused(token_portal, fmt):
    resp = requests.get(f"{token_portal.url}download/{fmt}", params={"month": MONTH, "tenant": "acme"})
    assert resp.status_code == 401


def test_wrong_token_is_refused_even_with_a_good_cookie_absent(token_portal, deps):
    resp = post(token_portal, "not-a-valid-token-at-all", deps, "overview")
    assert resp.status_code == 401


def test_open_routes(token_portal):
    assert requests.get(token_portal.url + "healthz").text == "ok\n"
    assert requests.get(token_portal.url + "login").status_code == 200


# ------------------------------------------------------------------ pages (the router callback)


@pytest.mark.parametrize("path", PAGES)
def test_viewer_pages_render_without_other_tenants(token_portal, deps, path):
    resp = post(token_portal, VIEWER_TOKEN, deps, "route", {"url.pathname": path})
    assert resp.status_code == 200, resp.text
    assert not leaks_globex(resp.text)
    assert "Not found" not in resp.text


@pytest.mark.parametrize("path", PAGES + ["/tenants/globex"])
def test_admin_pages_render(token_portal, deps, path):
    resp = post(token_portal, ADMIN_TOKEN, deps, "route", {"url.pathname": path})
    assert resp.status_code == 200, resp.text
    assert "Not permitted" not in resp.text


def test_viewer_tenant_selectors_list_only_their_tenants(token_portal, deps):
    for path in ("/tenants", "/slos", "/reports"):
        text = post(token_portal, MULTI_TOKEN, deps, "route", {"url.pathname": path}).text
        options = set(re.findall(r'"value":\s*"([a-z]+)"', text))
        assert {"acme", "beta"} <= options and "globex" not in options, path
    admin = post(token_portal, ADMIN_TOKEN, deps, "route", {"url.pathname": "/tenants"}).text
    assert '"globex"' in admin


def test_viewer_asking_for_another_tenants_page_gets_no_data(token_portal, deps):
    resp = post(token_portal, VIEWER_TOKEN, deps, "route", {"url.pathname": "/tenants/globex"})
    assert resp.status_code == 200
    assert "Not permitted" in resp.text
    assert "td-tenant" not in resp.text  # no store carrying the tenant, so no data callback
    assert not leaks_globex(resp.text.replace("/tenants/globex", ""))


def test_unknown_page(token_portal, deps):
    resp = post(token_portal, VIEWER_TOKEN, deps, "route", {"url.pathname": "/nope"})
    assert resp.status_code == 200 and "Not found" in resp.text


# ------------------------------------------------------------------ data callbacks: viewer


def test_viewer_overview_is_their_tenant_only(token_portal, deps):
    resp = post(token_portal, VIEWER_TOKEN, deps, "overview")
    assert resp.status_code == 200
    assert ACME_TOTAL in resp.text  # acme's month: (10 + 1) a day
    assert not leaks_globex(resp.text)
    admin = post(token_portal, ADMIN_TOKEN, deps, "overview").text
    total = sum(seed.month_total(t) for t in seed.TENANTS)
    assert seed.shown(total) in admin and "globex" in admin


@pytest.mark.parametrize(
    ("key", "values"),
    [
        ("tenants", {"tn-tenants.value": ["globex"]}),
        ("tenants", {"tn-tenants.value": "globex"}),
        ("tenant_detail", {"td-tenant.data": "globex"}),
        ("slos", {"slo-tenant.value": "globex"}),
        ("reports", {"rp-tenant.value": "globex"}),
    ],
)
def test_crafted_callback_for_another_tenant_is_403(token_portal, deps, key, values):
    resp = post(token_portal, VIEWER_TOKEN, deps, key, values)
    assert resp.status_code == 403
    assert not leaks_globex(resp.text.replace("'globex'", ""))
    assert "777.77" not in resp.text


def test_crafted_mixed_tenant_list_drops_the_other_tenant(token_portal, deps):
    resp = post(token_portal, VIEWER_TOKEN, deps, "tenants", {"tn-tenants.value": ["acme", "globex"]})
    assert resp.status_code == 200
    assert "acme" in resp.text
    assert not leaks_globex(resp.text)


@pytest.mark.parametrize("dim", ["model", "deployment", "resource", "tenant) OR 1=1 --"])
def test_viewer_tenants_callback_every_breakdown(token_portal, deps, dim):
    resp = post(token_portal, VIEWER_TOKEN, deps, "tenants", {"tn-dim.value": dim})
    assert resp.status_code == 200
    assert not leaks_globex(resp.text)


def test_viewer_without_tenant_value_gets_their_own(token_portal, deps):
    for key in ("tenants", "slos", "budgets", "reports"):
        resp = post(token_portal, VIEWER_TOKEN, deps, key)
        assert resp.status_code == 200, key
        assert not leaks_globex(resp.text), key


def test_viewer_detail_of_own_tenant(token_portal, deps):
    resp = post(token_portal, VIEWER_TOKEN, deps, "tenant_detail")
    assert resp.status_code == 200
    assert ACME_TOTAL in resp.text
    assert not leaks_globex(resp.text)


def test_multi_tenant_viewer_must_name_a_tenant_for_detail(token_portal, deps):
    assert post(token_portal, MULTI_TOKEN, deps, "tenant_detail", {"td-tenant.data": None}).status_code == 403
    ok = post(token_portal, MULTI_TOKEN, deps, "tenant_detail", {"td-tenant.data": "beta"})
    assert ok.status_code == 200 and not leaks_globex(ok.text)


@pytest.mark.parametrize("tenant", [["globex"], {"tenant": "globex"}, 7])
def test_malformed_tenant_values_are_refused(token_portal, deps, tenant):
    resp = post(token_portal, VIEWER_TOKEN, deps, "tenant_detail", {"td-tenant.data": tenant})
    assert resp.status_code == 403


@pytest.mark.parametrize("month", ["2025-13", "'; DROP TABLE ledger; --", None, [MONTH]])
def test_bad_month_values_are_400(token_portal, deps, month):
    for key, field in (("overview", "ov-month.value"), ("tenant_detail", "td-month.value")):
        assert post(token_portal, VIEWER_TOKEN, deps, key, {field: month}).status_code == 400


@pytest.mark.parametrize("key", [k for k in dashreq.CALLBACKS if k != "route"])
def test_admin_callbacks_answer(token_portal, deps, key):
    values = {"td-tenant.data": "globex"} if key == "tenant_detail" else None
    resp = post(token_portal, ADMIN_TOKEN, deps, key, values)
    assert resp.status_code == 200, resp.text


def test_admin_sees_another_tenant_detail(token_portal, deps):
    resp = post(token_portal, ADMIN_TOKEN, deps, "tenant_detail", {"td-tenant.data": "globex"})
    assert GLOBEX_TOTAL in resp.text


def test_tenant_with_no_lines(token_portal, deps):
    resp = post(token_portal, EMPTY_TOKEN, deps, "overview")
    assert resp.status_code == 200
    assert "0.00 USD" in resp.text and not leaks_globex(resp.text) and "acme" not in resp.text


def test_callback_responses_are_not_cacheable(token_portal, deps):
    resp = post(token_portal, VIEWER_TOKEN, deps, "overview")
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Frame-Options"] == "DENY"


# ------------------------------------------------------------------ downloads


@pytest.mark.parametrize("fmt", FORMATS)
def test_viewer_downloads_own_report(token_portal, fmt):
    resp = client(VIEWER_TOKEN).get(f"{token_portal.url}download/{fmt}", params={"month": MONTH, "tenant": "acme"})
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["Content-Disposition"].startswith(f'attachment; filename="infermeter-acme-{MONTH}')
    assert resp.content
    if fmt != "pdf":
        assert not leaks_globex(resp.text)


@pytest.mark.parametrize("fmt", FORMATS)
def test_viewer_download_of_another_tenant_is_403(token_portal, fmt):
    resp = client(VIEWER_TOKEN).get(f"{token_portal.url}download/{fmt}", params={"month": MONTH, "tenant": "globex"})
    assert resp.status_code == 403
    assert "777.77" not in resp.text


def test_viewer_download_without_tenant_is_their_own(token_portal):
    resp = client(VIEWER_TOKEN).get(f"{token_portal.url}download/csv", params={"month": MONTH})
    assert resp.status_code == 200
    assert f"infermeter-acme-{MONTH}.csv" in resp.headers["Content-Disposition"]
    assert "acme" in resp.text and not leaks_globex(resp.text)


def test_multi_viewer_must_name_the_tenant_to_download(token_portal):
    assert client(MULTI_TOKEN).get(f"{token_portal.url}download/csv", params={"month": MONTH}).status_code == 403
    assert client(MULTI_TOKEN).get(f"{token_portal.url}download/csv", params={"month": MONTH, "tenant": "beta"}).status_code == 200


def test_admin_downloads_the_whole_fleet(token_portal):
    resp = client(ADMIN_TOKEN).get(f"{token_portal.url}download/csv", params={"month": MONTH})
    assert resp.status_code == 200
    assert "all-tenants" in resp.headers["Content-Disposition"]
    assert "globex" in resp.text and "acme" in resp.text


def test_download_input_checks(token_portal):
    c = client(ADMIN_TOKEN)
    assert c.get(f"{token_portal.url}download/xlsx", params={"month": MONTH}).status_code == 404
    assert c.get(f"{token_portal.url}download/csv", params={"month": "March"}).status_code == 400
    assert c.get(f"{token_portal.url}download/csv").status_code == 400


# ------------------------------------------------------------------ login form and cookie


def test_login_sets_a_cookie_that_grants_the_tokens_tenants(token_portal, deps):
    s = requests.Session()
    resp = s.post(token_portal.url + "login", data={"token": VIEWER_TOKEN, "next": "/budgets"}, allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"] == "/budgets"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert VIEWER_TOKEN not in cookie
    ok = dashreq.call(token_portal.url, s, deps, "overview")
    assert ok.status_code == 200 and ACME_TOTAL in ok.text
    assert dashreq.call(token_portal.url, s, deps, "tenant_detail", {"td-tenant.data": "globex"}).status_code == 403
    s.get(token_portal.url + "logout")
    assert dashreq.call(token_portal.url, s, deps, "overview").status_code == 401


def test_login_with_a_wrong_token_fails(token_portal):
    resp = requests.post(token_portal.url + "login", data={"token": "wrong-token-0000000000"}, allow_redirects=False)
    assert resp.status_code == 401
    assert "not valid" in resp.text and "Set-Cookie" not in resp.headers


@pytest.mark.parametrize("nxt", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(token_portal, nxt):
    resp = requests.post(token_portal.url + "login", data={"token": VIEWER_TOKEN, "next": nxt}, allow_redirects=False)
    assert resp.headers["Location"] == "/"


def test_forged_cookie_is_refused(token_portal, deps):
    from infermeter.dashboards.portal import auth

    s = requests.Session()
    s.cookies.set("infermeter_portal", auth.sign_session(b"guessed-secret-123456", "fleet-admin", 3600))
    assert dashreq.call(token_portal.url, s, deps, "overview").status_code == 401


# ------------------------------------------------------------------ proxy mode


def proxied(user: str, groups: str = "") -> dict[str, str]:
    return {"X-Forwarded-User": user, "X-Forwarded-Groups": groups}


def test_proxy_headers_are_ignored_when_proxy_mode_is_off(token_portal, deps):
    resp = post(token_portal, None, deps, "overview", headers=proxied("eve", "platform-admins"))
    assert resp.status_code == 401


def test_proxy_group_maps_to_tenant(proxy_portal, deps):
    resp = post(proxy_portal, None, deps, "overview", headers=proxied("ann", "team-acme"))
    assert resp.status_code == 200
    assert ACME_TOTAL in resp.text and not leaks_globex(resp.text)
    crafted = post(proxy_portal, None, deps, "tenant_detail", {"td-tenant.data": "globex"}, headers=proxied("ann", "team-acme"))
    assert crafted.status_code == 403
    dl = client(headers=proxied("ann", "team-acme")).get(f"{proxy_portal.url}download/csv", params={"month": MONTH, "tenant": "globex"})
    assert dl.status_code == 403


def test_proxy_admin_group_sees_all(proxy_portal, deps):
    resp = post(proxy_portal, None, deps, "tenant_detail", {"td-tenant.data": "globex"}, headers=proxied("root", "platform-admins"))
    assert resp.status_code == 200 and GLOBEX_TOTAL in resp.text


def test_proxy_user_without_a_mapped_group_is_403(proxy_portal, deps):
    resp = post(proxy_portal, None, deps, "overview", headers=proxied("stranger", "some-other-group"))
    assert resp.status_code == 403
    assert requests.get(proxy_portal.url, headers=proxied("stranger")).status_code == 403


def test_proxy_request_without_user_header_is_401(proxy_portal, deps):
    assert post(proxy_portal, None, deps, "overview", headers={"X-Forwarded-Groups": "platform-admins"}).status_code == 401


def test_proxy_headers_from_an_untrusted_peer_are_ignored(portal_db, portal_settings, deps):
    from infermeter.dashboards.portal.server import PortalServer

    settings = portal_settings(port=0, auth={"proxy": {**_proxy_cfg(), "trusted_proxies": ["10.0.0.0/8"]}})
    server = PortalServer(settings, portal_db).start()
    try:
        resp = post(server, None, deps, "overview", headers=proxied("root", "platform-admins"))
        assert resp.status_code == 401
    finally:
        server.stop()


def _proxy_cfg():
    from tests.portal.conftest import PROXY

    return dict(PROXY)
