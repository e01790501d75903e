"""``infermeter dashboards generate`` and ``list`` through the real console script."""

from __future__ import annotations

import json

import pytest
import yaml

from infermeter.cli.app import main
from infermeter.dashboards.grafana import conventions as c
from tests.support import run_cli


def test_generate_writes_dashboards_and_provisioning(tmp_path):
    out = tmp_path / "grafana"
    result = run_cli(
        "dashboards", "generate", "-o", str(out), "--store", "clickhouse://reader:s3cret@ch.internal:8123/metrics",
        "--prometheus-url", "http://prom:9090", "--budget", "acme=1200", "--currency", "eur",
    )
    assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted([f"dashboards/{uid}.json" for uid in c.TITLES] + [
        "provisioning/dashboards/infermeter.yaml", "provisioning/datasources/infermeter.yaml"])
    for uid in c.TITLES:
        assert json.loads((out / "dashboards" / f"{uid}.json").read_text())["uid"] == uid
    text = (out / "provisioning/datasources/infermeter.yaml").read_text()
    assert "s3cret" not in text and "s3cret" not in result.stdout + result.stderr
    ch = {d["uid"]: d for d in yaml.safe_load(text)["datasources"]}[c.CLICKHOUSE_UID]["jsonData"]
    assert ch == {"host": "ch.internal", "port": 8123, "protocol": "http", "secure": False, "username": "reader",
                  "defaultDatabase": "metrics"}
    cost = (out / "dashboards" / f"{c.UID_TENANT_COST}.json").read_text()
    assert "currencyEUR" in cost and "toDecimal128('1200', 2)" in cost


def test_budgets_come_from_the_tenancy_file(tmp_path):
    tenancy = tmp_path / "tenancy.yaml"
    tenancy.write_text("tenants:\n  acme: {monthly_budget: 2500}\n  globex: {monthly_budget: 0}\n  initech: {}\n")
    result = run_cli("dashboards", "generate", "-o", str(tmp_path / "out"), "--tenancy", str(tenancy),
                     "--budget", "acme=3000")
    assert result.returncode == 0, result.stderr
    cost = (tmp_path / "out" / "dashboards" / f"{c.UID_TENANT_COST}.json").read_text()
    assert "('acme', toDecimal128('3000', 2))" in cost and "('globex', toDecimal128('0', 2))" in cost
    assert "initech" not in cost


def test_native_protocol_moves_to_the_native_port(tmp_path):
    result = run_cli("dashboards", "generate", "-o", str(tmp_path), "--clickhouse-url",
                     "clickhouses://grafana@ch:8443/infermeter", "--clickhouse-protocol", "native")
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load((tmp_path / "provisioning/datasources/infermeter.yaml").read_text())
    ch = {d["uid"]: d for d in data["datasources"]}[c.CLICKHOUSE_UID]["jsonData"]
    assert (ch["port"], ch["protocol"], ch["secure"]) == (9440, "native", True)


@pytest.mark.parametrize("args", [["--budget", "acme"], ["--budget", "acme=-5"], ["--clickhouse-protocol", "grpc"],
                                  ["--currency", "euros"], ["--clickhouse-url", "chdb:///tmp/x"]])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as exit_:
        main(["dashboards", "generate", "-o", str(tmp_path / "x"), *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_help_and_list():
    assert run_cli("dashboards", "generate", "--help").returncode == 0
    result = run_cli("dashboards", "list")
    assert result.returncode == 0
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == list(c.TITLES)
