"""`infermeter demo --once` end to end (issue 8's proof): files valid, chargeback complete, portal up."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from infermeter.demo.run import last_full_month
from infermeter.simulator.fleet import default_fleet
from tests.support import require_binary, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("demo")
    res = run_cli("demo", "--once", "--dir", str(work), "--portal-port", "0", "--live", "6", timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return {"dir": work, "out": res.stdout, "config": work / "infermeter.yaml", "gen": work / "generated"}


def _query(demo: dict, sql: str) -> list[dict]:
    res = run_cli("db", "query", sql, "--format", "json", "-c", str(demo["config"]))
    assert res.returncode == 0, res.stderr
    text = res.stdout.strip()
    return json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]


def test_rules_pass_promtool(demo):
    promtool = require_binary("promtool", "prometheus")
    for rules in (demo["gen"] / "rules").glob("*.yml"):
        res = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr


def test_alertmanager_config_passes_amtool(demo):
    amtool = require_binary("amtool", "prometheus-alertmanager")
    res = subprocess.run([amtool, "check-config", str(demo["gen"] / "alertmanager" / "alertmanager.yml")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dashboards_and_provisioning_were_generated(demo):
    boards = sorted(p.name for p in (demo["gen"] / "grafana" / "dashboards").glob("*.json"))
    assert len(boards) == 5
    for board in (demo["gen"] / "grafana" / "dashboards").glob("*.json"):
        assert json.loads(board.read_text())["panels"]
    assert list((demo["gen"] / "grafana" / "provisioning" / "datasources").glob("*.yaml"))


def test_last_month_has_a_line_for_every_tenant_and_conserves_gpu_seconds(demo):
    month = last_full_month(dt.datetime.now(dt.timezone.utc).date())
    report = json.loads((demo["gen"] / "reports" / f"chargeback-{month}.json").read_text())
    text = json.dumps(report)
    for tenant in default_fleet(7).tenants:
        assert f'"{tenant.name}"' in text, tenant.name
    start = f"{month}-01"
    (run,) = _query(demo, f"""
        SELECT run_id FROM chargeback_runs WHERE period_start = toDate('{start}') AND status = 'complete'
        ORDER BY version DESC LIMIT 1""")
    (ledger,) = _query(demo, f"""
        SELECT toString(sum(quantity)) AS hours FROM ledger
        WHERE run_id = '{run["run_id"]}' AND resource IN ('gpu', 'gpu_idle')""")
    # A heartbeat at ts covers [ts - interval_s, ts): the month's heartbeats are those in (start, end].
    (held,) = _query(demo, f"""
        SELECT toString(sum(interval_s * fraction) / 3600) AS hours FROM gpu_allocation FINAL
        WHERE ts > toDateTime('{start} 00:00:00') AND ts <= toDateTime('{start} 00:00:00') + INTERVAL 1 MONTH""")
    assert Decimal(held["hours"]) > 0
    assert abs(Decimal(ledger["hours"]) - Decimal(held["hours"])) < Decimal("0.001")


def test_slo_report_and_portal(demo):
    month = last_full_month(dt.datetime.now(dt.timezone.utc).date())
    slo = json.loads((demo["gen"] / "reports" / f"slo-{month}.json").read_text())
    assert slo["summary"]["met"] + slo["summary"]["missed"] > 20
    assert "'/tenants': 200" in demo["out"].replace("\n", "")
    config = yaml.safe_load(Path(demo["config"]).read_text())
    assert config["portal"]["auth"]["anonymous_admin"] is True


def test_live_phase_went_through_the_sidecar(demo):
    (row,) = _query(demo, "SELECT count() AS n FROM usage WHERE source != 'simulator'")
    assert int(row["n"]) > 0  # OTLP spans from the live simulator, received by the sidecar
    (row,) = _query(demo, "SELECT uniqExact(target) AS n FROM series")
    assert int(row["n"]) >= 9
