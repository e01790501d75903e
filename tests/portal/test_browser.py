"""The portal in a real browser (dash[testing]'s Browser driving Debian's chromium + chromedriver).

Logs in through the form, renders every page, changes a selector and checks the chart follows,
downloads a report file, and checks a viewer cannot open another tenant's page. A screenshot of
each page is written under $INFERMETER_TEST_ARTIFACTS (default ./test-artifacts)/portal.
"""

from __future__ import annotations

import time

import pytest

from tests.portal import seed
from tests.portal.conftest import ADMIN_TOKEN, VIEWER_TOKEN, artifacts_dir
from tests.support import require_binary

pytestmark = [pytest.mark.system, pytest.mark.slow]


@pytest.fixture
def browser(monkeypatch, tmp_path):
    chromium = require_binary("chromium", "chromium")
    require_binary("chromedriver", "chromium-driver")
    monkeypatch.setenv("DASH_TEST_CHROMEPATH", chromium)  # dash.testing's knob for the binary
    from dash.testing.browser import Browser
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.add_argument("--window-size=1400,1000")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with Browser(
        browser="Chrome", headless=True, options=[options], download_path=str(downloads), percy_run=False, wait_timeout=20
    ) as br:
        yield br


def plot_traces(br, graph_id: str) -> list[str]:
    return br.driver.execute_script(
        "const el = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "return el && el.data ? el.data.map(t => t.name) : null;",
        f"#{graph_id}",
    )


def wait_traces(br, graph_id: str, expected: set[str], timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    names = None
    while time.monotonic() < deadline:
        names = plot_traces(br, graph_id)
        if names and set(names) == expected:
            return names
        time.sleep(0.2)
    raise AssertionError(f"{graph_id} traces {names}, expected {sorted(expected)}")


def shot(br, name: str) -> None:
    br.driver.save_screenshot(str(artifacts_dir() / f"{name}.png"))


def login(br, base: str, token: str, page: str = "") -> None:
    br.driver.get(base + "logout")
    br.driver.get(base + page)  # redirected to the login form
    br.wait_for_element_by_id("token").send_keys(token)
    br.find_element("#login").click()


def test_pages_selectors_and_downloads_in_chromium(browser, token_portal):
    br, base = browser, token_portal.url
    login(br, base, ADMIN_TOKEN)
    br.wait_for_contains_text("#ov-cost", "USD")
    total = sum(seed.month_total(t) for t in seed.TENANTS)
    assert br.find_element("#ov-cost").text == seed.shown(total)
    br.wait_for_element("#ov-slo-table")
    shot(br, "overview")

    # the cost explorer: changing "break down by" redraws the chart with other series
    br.find_element("#nav-tenants").click()
    wait_traces(br, "tn-breakdown", {"llama-3-70b", "mixtral-8x22b", "gpt-4o-mini"})
    br.find_element("#tn-dim input[value='deployment']").click()
    wait_traces(br, "tn-breakdown", {"llama-shared", "h100-pool-7", "gateway-ext"})
    br.wait_for_element("#tn-table-grid")
    shot(br, "tenants")

    # tenant detail from the table's link
    br.find_element("#tn-table-grid a[href='/tenants/acme']").click()
    br.wait_for_text_to_equal("#td-cost", seed.shown(seed.month_total("acme")))
    wait_traces(br, "td-by-deployment", {"gpu", "gpu_idle"})
    shot(br, "tenant-detail")

    br.find_element("#nav-slos").click()
    br.wait_for_element("#slo-attainment-grid")
    br.wait_for_element("#slo-alerts-grid")
    shot(br, "slos")

    br.find_element("#nav-budgets").click()
    br.wait_for_element("#bg-table-grid")
    shot(br, "budgets")

    # reports: choose a tenant, then the CSV link downloads that tenant's file
    br.find_element("#nav-reports").click()
    br.wait_for_element("#rp-month")
    br.select_dcc_dropdown("#rp-tenant", value="acme")
    br.wait_for_contains_text("#rp-note", "acme")
    shot(br, "reports")
    br.find_element("#rp-csv").click()
    target = br.download_path and __import__("pathlib").Path(br.download_path) / f"infermeter-acme-{seed.MONTH}.csv"
    deadline = time.monotonic() + 20
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert target.exists(), sorted(p.name for p in target.parent.iterdir())
    text = target.read_text()
    assert "acme" in text and "globex" not in text
    (artifacts_dir() / target.name).write_text(text)


def test_viewer_in_chromium_sees_only_their_tenant(browser, token_portal):
    br, base = browser, token_portal.url
    login(br, base, VIEWER_TOKEN, "tenants")
    br.wait_for_element("#tn-table-grid")
    assert "globex" not in br.find_element("body").text
    assert br.find_element("#whoami").text == "acme-viewer (acme)"
    br.driver.get(base + "tenants/globex")
    br.wait_for_element("#td-forbidden")
    assert "globex" not in br.find_element("main").text.replace("tenants/globex", "")
    shot(br, "viewer-forbidden")
