"""The proof: real Prometheus and Alertmanager (Debian packages) run the generated rules and
configuration. A fast burn pages the owning team's receiver with the SLO's labels and context,
the ticket of the same SLO is inhibited, a tenant over budget reaches finops, and the return to
healthy sends the resolved notification. Second-scale windows (tests/alerts/data/windows) keep it
well under two minutes."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from infermeter.alerts.alertmanager import get_alerts
from tests.support import run_cli

from . import harness
from .conftest import DATA

pytestmark = [pytest.mark.system, pytest.mark.slow, pytest.mark.timeout(240)]

RUNBOOK = "https://runbooks.example.com/slo/{service}/{slo}"
GRAFANA = "https://grafana.example.com"


def _routing_spec(sink: harness.WebhookSink) -> str:
    def hook(name: str, path: str) -> str:
        return f"{{name: {name}, webhook: {{url: '{sink.url(path)}'}}}}"

    return textwrap.dedent(
        f"""\
        version: infermeter/v1
        kind: Routing
        default_receiver: default-hook
        timing:
          page: {{group_wait: 1s, group_interval: 1s, repeat_interval: 1h}}
          ticket: {{group_wait: 3s, group_interval: 1s, repeat_interval: 1h}}
        receivers:
          - {hook("default-hook", "default")}
        teams:
          - name: team-a
            services: [llm-gateway]
            receivers:
              - {hook("team-a-page", "team-a/page")}
              - {hook("team-a-ticket", "team-a/ticket")}
            page: team-a-page
            ticket: team-a-ticket
          - name: team-b
            services: [embeddings]
            receivers:
              - {hook("team-b-page", "team-b/page")}
              - {hook("team-b-ticket", "team-b/ticket")}
            page: team-b-page
            ticket: team-b-ticket
          - name: finops
            tenants: [acme]
            receivers:
              - {hook("finops-page", "finops/page")}
              - {hook("finops-ticket", "finops/ticket")}
            page: finops-page
            ticket: finops-ticket
        tenant_budgets:
          thresholds: [{{share: 0.8, severity: ticket}}, {{share: 1.0, severity: page}}]
          runbook_url: https://runbooks.example.com/budget
        """
    )


def _cli(*args: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 0, f"infermeter {' '.join(args)}: {proc.stderr}"


def _generate(workdir: Path, sink: harness.WebhookSink, amtool: str) -> tuple[Path, Path, Path]:
    routing = workdir / "routing.yaml"
    routing.write_text(_routing_spec(sink), encoding="utf-8")
    am_config, slo_rules, budget = workdir / "alertmanager.yml", workdir / "slo-rules.yml", workdir / "budget-rules.yml"
    _cli("alerts", "generate", "-c", str(routing), "-o", str(am_config), "--check")
    _cli("alerts", "budget-rules", "-c", str(routing), "-o", str(budget))
    _cli(
        "slo", "generate", "-i", str(DATA / "slo.yaml"), "-o", str(slo_rules),
        "--default-slo-period", "1h", "--slo-period-windows-path", str(DATA / "windows"),
        "--runbook-url", RUNBOOK, "--dashboard-url", GRAFANA,
    )  # fmt: skip
    return am_config, slo_rules, budget


def _prometheus_config(workdir: Path, target: harness.Target, am_url: str, rules: list[Path]) -> Path:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(r) for r in rules],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am_url.removeprefix("http://")]}]}]},
        "scrape_configs": [{"job_name": "gateway", "static_configs": [{"targets": [f"127.0.0.1:{target.port}"]}]}],
    }
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _prom_alerts(prom: harness.Process) -> list[dict]:
    return harness.get_json(prom.url + "/api/v1/alerts")["data"]["alerts"]


def _slo_alerts(prom: harness.Process, severity: str, state: str) -> list[dict]:
    return [
        a
        for a in _prom_alerts(prom)
        if a["labels"].get("sloth_severity") == severity and a["labels"].get("sloth_id") and a["state"] == state
    ]


def test_fast_burn_pages_the_owner_inhibits_the_ticket_and_resolves(
    tmp_path: Path, prometheus_bin: str, alertmanager_bin: str, amtool: str
) -> None:
    with harness.webhook_sink() as sink, harness.scrape_target() as target:
        am_config, slo_rules, budget_rules = _generate(tmp_path, sink, amtool)
        with harness.alertmanager(alertmanager_bin, am_config, tmp_path) as am:
            prom_config = _prometheus_config(tmp_path, target, am.url, [slo_rules, budget_rules])
            with harness.prometheus(prometheus_bin, prom_config, tmp_path) as prom:
                try:
                    _scenario(sink, target, am, prom)
                except AssertionError as exc:
                    raise AssertionError(
                        f"{exc}\nreceived: {[(n.path, n.status) for n in sink.received]}\n"
                        f"--- prometheus\n{prom.log_tail()}\n--- alertmanager\n{am.log_tail()}"
                    ) from None


def _scenario(sink: harness.WebhookSink, target: harness.Target, am: harness.Process, prom: harness.Process) -> None:
    # Healthy first: the SLI is recorded, nothing fires.
    def sli_recorded() -> bool:
        q = prom.url + "/api/v1/query?query=slo:sli_error:ratio_rate10s"
        return bool(harness.get_json(q)["data"]["result"])

    harness.wait_for(sli_recorded, 30, "the SLI recording rule to have a value")
    assert _prom_alerts(prom) == []

    # Fast burn: half the requests fail; acme has spent 90% of its budget.
    target.set_error_ratio(0.5)
    target.set_spend("acme", "900", "1000")

    pages = harness.wait_for(lambda: sink.at("team-a/page"), 60, "the page at team-a's page receiver")
    page = pages[0]
    assert page.status == "firing" and page.payload["receiver"] == "team-a-page"
    (alert,) = page.alerts
    labels, annotations = alert["labels"], alert["annotations"]
    assert labels["alertname"] == "GatewayAvailability"
    assert labels["sloth_severity"] == "page"
    assert (labels["sloth_service"], labels["sloth_slo"], labels["sloth_id"]) == (
        "llm-gateway",
        "availability",
        "llm-gateway-availability",
    )
    assert labels["owner"] == "ml-platform"  # the spec's SLO labels travel with the alert
    assert annotations["runbook_url"] == "https://runbooks.example.com/slo/llm-gateway/availability"
    assert annotations["dashboard_url"] == (
        "https://grafana.example.com/d/infermeter-slos?var-service=llm-gateway&var-slo=availability"
    )
    summary = annotations["summary"]
    burn = re.search(r"llm-gateway availability: error budget burn rate is (\d+\.\d\d)x over the short window ", summary)
    assert burn and float(burn.group(1)) > 3.6, summary  # the page's quick factor: it saw a faster burn
    assert re.search(r"\), -?\d+(\.\d+)?% of the 1h error budget left\.$", summary), summary  # < 0: overspent
    assert "unknown" not in summary

    # The ticket of the same SLO fires in Prometheus, reaches Alertmanager, and is inhibited there.
    harness.wait_for(lambda: _slo_alerts(prom, "ticket", "firing"), 60, "the ticket alert to fire in Prometheus")

    def ticket_inhibited() -> bool:
        for a in get_alerts(am.url):
            if a["labels"].get("sloth_severity") == "ticket" and a["labels"].get("sloth_id"):
                return bool(a["status"]["inhibitedBy"]) and a["status"]["state"] == "suppressed"
        return False

    harness.wait_for(ticket_inhibited, 30, "Alertmanager to hold the ticket as inhibited by the page")

    # The tenant budget ticket reaches finops with its context.
    (budget,) = harness.wait_for(lambda: sink.at("finops/ticket"), 30, "the budget ticket at finops")
    (b_alert,) = budget.alerts
    assert b_alert["labels"]["alertname"] == "TenantBudgetThreshold"
    assert (b_alert["labels"]["tenant"], b_alert["labels"]["budget_threshold"]) == ("acme", "0.8")
    assert "has spent 90% of its monthly budget (900.00 USD of 1000.00 USD)" in b_alert["annotations"]["summary"]
    assert b_alert["annotations"]["runbook_url"] == "https://runbooks.example.com/budget"

    # Back to healthy: the page resolves at the same receiver; the ticket never went anywhere.
    target.set_error_ratio(0.0)
    harness.wait_for(
        lambda: [n for n in sink.at("team-a/page") if n.status == "resolved"], 90, "the resolved notification"
    )
    resolved = next(n for n in sink.at("team-a/page") if n.status == "resolved")
    assert resolved.alerts[0]["labels"]["sloth_id"] == "llm-gateway-availability"
    assert resolved.alerts[0]["status"] == "resolved"
    assert sink.at("team-a/ticket") == []
    assert sink.paths() <= {"/team-a/page", "/finops/ticket"}, sink.paths()


def test_synthetic_alert_through_a_running_alertmanager(tmp_path: Path, alertmanager_bin: str, amtool: str) -> None:
    """``infermeter alerts test --send`` posts to /api/v2/alerts; the routed receiver gets it."""
    with harness.webhook_sink() as sink:
        routing = tmp_path / "routing.yaml"
        routing.write_text(_routing_spec(sink), encoding="utf-8")
        am_config = tmp_path / "alertmanager.yml"
        _cli("alerts", "generate", "-c", str(routing), "-o", str(am_config))
        with harness.alertmanager(alertmanager_bin, am_config, tmp_path) as am:
            args = ["alerts", "test", "-c", str(routing), "service=embeddings", "severity=page", "sloth_id=emb-avail"]
            proc = run_cli(*args, "--send", am.url, "-a", "runbook_url=https://r.example/x", "--expect", "team-b-page")
            assert proc.returncode == 0, proc.stderr
            assert "firing alert sent to" in proc.stdout
            (note,) = harness.wait_for(lambda: sink.at("team-b/page"), 30, "the synthetic page at team-b")
            assert note.alerts[0]["labels"]["alertname"] == "InfermeterSyntheticTest"
            assert note.alerts[0]["annotations"]["runbook_url"] == "https://r.example/x"
            _cli(*args, "--send", am.url, "--resolve")
            harness.wait_for(
                lambda: [n for n in sink.at("team-b/page") if n.status == "resolved"], 30, "the synthetic resolve"
            )
            assert sink.paths() == {"/team-b/page"}
