"""Golden files: the generated dashboards and provisioning files, byte for byte.

Regenerate with ``INFERMETER_UPDATE_GOLDENS=1 pytest tests/dashboards/test_golden.py`` and review the
diff: a changed golden is a changed dashboard for every user.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana.common import iter_panels, iter_targets
from infermeter.dashboards.grafana.generate import DashboardOptions, render
from infermeter.dashboards.grafana.provisioning import ClickHouseConnection, ProvisioningOptions

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("INFERMETER_UPDATE_GOLDENS") == "1"
OPTIONS = DashboardOptions(
    currency="EUR",
    budgets={"acme": Decimal("2000"), "globex": Decimal("500.50")},
    provisioning=ProvisioningOptions(
        prometheus_url="http://prometheus:9090",
        clickhouse=ClickHouseConnection(host="clickhouse", port=9000, protocol="native", username="grafana"),
    ),
)
FILES = render(OPTIONS)


@pytest.mark.parametrize("rel", sorted(FILES, key=str), ids=str)
def test_golden(rel: Path):
    path = GOLDEN / rel
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FILES[rel], encoding="utf-8")
    assert path.exists(), f"missing golden {path}: run with INFERMETER_UPDATE_GOLDENS=1 and review it"
    assert FILES[rel] == path.read_text(encoding="utf-8"), f"{rel} changed: regenerate the goldens and review the diff"


def test_no_stale_goldens():
    on_disk = {p.relative_to(GOLDEN) for p in GOLDEN.rglob("*") if p.is_file()}
    assert on_disk == set(FILES), "golden files without a generated counterpart (or the reverse)"


def test_generation_is_deterministic():
    assert render(OPTIONS) == FILES


@pytest.mark.parametrize("uid", list(c.TITLES))
def test_dashboard_model(uid):
    model = json.loads(FILES[Path("dashboards") / f"{uid}.json"])
    assert model["uid"] == uid and model["title"] == c.TITLES[uid]
    assert c.TAG in model["tags"]
    ids = [p["id"] for p in iter_panels(model)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    names = [v["name"] for v in model["templating"]["list"]]
    assert len(names) == len(set(names))
    # Every panel fits the 24-column grid and no two panels overlap.
    cells = set()
    for panel in iter_panels(model):
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
    for panel, target in iter_targets(model):
        ds = target["datasource"]
        assert ds["uid"] in ("${%s}" % c.VAR_PROMETHEUS, "${%s}" % c.VAR_CLICKHOUSE), panel["title"]
        assert f'${{{ds["uid"][2:-1]}}}' and ds["uid"][2:-1] in names, f"{panel['title']}: datasource variable missing"
        if ds["type"] == c.CLICKHOUSE_TYPE:
            assert target["editorType"] == "sql" and target["format"] in (0, 1)
            assert target["queryType"] == ("timeseries" if target["format"] == 0 else "table")
        # Every variable a query uses is defined on the dashboard.
        text = target.get("expr") or target.get("rawSql")
        for name in set(_variables(text)):
            assert name in names, f"{panel['title']}: ${name} is not a variable of {uid}"


def _variables(text: str):
    import re

    for m in re.finditer(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", text):
        name = m.group(1) or m.group(2)
        if not name.startswith("__") and not name.isdigit():  # $1: label_replace, left alone by Grafana
            yield name


def test_the_tenant_cost_dashboard_carries_the_budgets():
    model = json.loads(FILES[Path("dashboards") / f"{c.UID_TENANT_COST}.json"])
    sql = next(t["rawSql"] for p, t in iter_targets(model) if p["title"].startswith("Budget used"))
    assert "('acme', toDecimal128('2000', 2))" in sql and "('globex', toDecimal128('500.50', 2))" in sql


def test_slo_dashboard_matches_the_alert_links():
    """Alert annotations link to /d/<uid>?var-service=...&var-slo=... (infermeter.alerts)."""
    from infermeter.alerts import conventions as ac

    model = json.loads(FILES[Path("dashboards") / f"{c.UID_SLOS}.json"])
    names = {v["name"] for v in model["templating"]["list"]}
    assert ac.SLO_DASHBOARD_UID == model["uid"] == c.UID_SLOS
    assert {ac.DASHBOARD_VAR_SERVICE.removeprefix("var-"), ac.DASHBOARD_VAR_SLO.removeprefix("var-")} <= names
    assert c.slo_dashboard_url("llm gateway", "ttft", "http://g:3000/") == (
        "http://g:3000/d/infermeter-slos/infermeter-slos?var-service=llm%20gateway&var-slo=ttft"
    )


def test_provisioning_never_holds_the_password():
    text = FILES[Path("provisioning/datasources/infermeter.yaml")]
    assert "password: $INFERMETER_CLICKHOUSE_PASSWORD" in text
    import yaml

    data = yaml.safe_load(text)
    uids = {d["uid"]: d for d in data["datasources"]}
    ch = uids[c.CLICKHOUSE_UID]
    assert ch["type"] == "grafana-clickhouse-datasource"
    assert ch["jsonData"] == {"host": "clickhouse", "port": 9000, "protocol": "native", "secure": False,
                              "username": "grafana", "defaultDatabase": "infermeter"}
    assert uids[c.PROMETHEUS_UID]["jsonData"]["timeInterval"] == c.DEFAULT_SCRAPE_INTERVAL
