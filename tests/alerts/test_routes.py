"""``infermeter alerts test``: the receivers a label set reaches, the same as amtool's answer, and a
synthetic alert posted to a running Alertmanager."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infermeter.alerts.generate import alertmanager_config, render
from infermeter.alerts.routes import parse_matcher, reached
from infermeter.alerts.spec import load_spec
from infermeter.errors import ConfigError
from tests.support import run_cli

from .conftest import EXAMPLE

LABEL_SETS: dict[str, tuple[dict[str, str], list[str]]] = {
    "gateway page": ({"sloth_service": "llm-gateway", "sloth_severity": "page"}, ["ml-platform-pager"]),
    "gateway ticket": ({"sloth_service": "llm-gateway", "sloth_severity": "ticket"}, ["ml-platform-slack"]),
    "second service of the team": ({"sloth_service": "vllm-llama", "sloth_severity": "page"}, ["ml-platform-pager"]),
    "team label beats service": (
        {"team": "inference-runtime", "sloth_service": "llm-gateway", "sloth_severity": "page"},
        ["runtime-pager"],
    ),
    "service beats tenant": (
        {"sloth_service": "triton", "tenant": "globex", "sloth_severity": "ticket"},
        ["runtime-email"],
    ),
    "explicit route continues": (
        {"sloth_service": "llm-gateway", "tenant": "acme", "sloth_severity": "page"},
        ["acme-oncall", "ml-platform-pager"],
    ),
    "tenant budget alert": (
        {"alertname": "TenantBudgetThreshold", "tenant": "globex", "sloth_severity": "ticket"},
        ["finops-email"],
    ),
    "no severity: the team's ticket receiver": ({"sloth_service": "triton"}, ["runtime-email"]),
    "unknown service": ({"sloth_service": "nobody-owns-this", "sloth_severity": "page"}, ["platform-catchall"]),
    "regex metacharacters are literal": ({"sloth_service": "llm-gatewayXvllm-llama"}, ["platform-catchall"]),
}


@pytest.fixture(scope="module")
def example_config() -> dict:
    return alertmanager_config(load_spec(EXAMPLE))


@pytest.fixture(scope="module")
def example_file(example_config: dict, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("am") / "alertmanager.yml"
    path.write_text(render(example_config), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(LABEL_SETS))
def test_receivers_reached(example_config: dict, case: str) -> None:
    labels, expected = LABEL_SETS[case]
    assert [r.receiver for r in reached(example_config, labels)] == expected


@pytest.mark.parametrize("case", sorted(LABEL_SETS))
def test_same_answer_as_amtool(amtool: str, example_file: Path, case: str) -> None:
    labels, expected = LABEL_SETS[case]
    args = [amtool, "config", "routes", "test", f"--config.file={example_file}", *(f"{k}={v}" for k, v in labels.items())]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip().split(",") == expected, proc.stdout + proc.stderr


def test_ticket_reach_shows_business_hours(example_config: dict) -> None:
    (route,) = reached(example_config, {"sloth_service": "llm-gateway", "sloth_severity": "ticket"})
    assert route.active_time_intervals == ("business-hours",)
    assert route.timing["group_wait"] == "5m" and route.group_by == ("alertname", "sloth_id", "tenant")


def test_matcher_parsing() -> None:
    m = parse_matcher('sloth_service=~"llm\\\\.gw|b"')
    assert (m.name, m.op, m.value) == ("sloth_service", "=~", "llm\\.gw|b")
    assert m.matches({"sloth_service": "llm.gw"}) and not m.matches({"sloth_service": "llmXgw"})
    assert parse_matcher("team!=a").matches({})
    with pytest.raises(ConfigError, match="invalid regular expression"):
        parse_matcher('a=~"("')


def test_cli_test_prints_receivers_and_checks_expectations() -> None:
    proc = run_cli("alerts", "test", "-c", str(EXAMPLE), "service=llm-gateway", "severity=page", "--expect", "ml-platform-pager")
    assert proc.returncode == 0, proc.stderr
    assert "labels: sloth_service=llm-gateway, sloth_severity=page" in proc.stdout
    assert proc.stdout.splitlines()[1].startswith("ml-platform-pager\t")
    wrong = run_cli("alerts", "test", "-c", str(EXAMPLE), "service=llm-gateway", "severity=page", "--expect", "finops-email")
    assert wrong.returncode == 1 and "expected finops-email, got ml-platform-pager" in wrong.stderr


def test_cli_test_on_a_generated_file(example_file: Path) -> None:
    proc = run_cli("alerts", "test", "--alertmanager-config", str(example_file), "tenant=acme", "severity=ticket")
    assert proc.returncode == 0 and proc.stdout.splitlines()[1].startswith("finops-email\t")


def test_cli_test_needs_one_config() -> None:
    proc = run_cli("alerts", "test", "a=b")
    assert proc.returncode == 2 and "--config" in proc.stderr


def test_cli_send_to_an_unreachable_alertmanager_exits_3() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("alerts", "test", "-c", str(EXAMPLE), "severity=page", "--send", f"http://127.0.0.1:{port}")
    assert proc.returncode == 3 and "cannot reach Alertmanager" in proc.stderr
