"""Context on every SLO alert: runbook, dashboard link and a summary with the burn rate and the
budget left, added through the SLO generator (``slo generate --runbook-url --dashboard-url``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from infermeter.alerts.context import AlertContext, dashboard_url, runbook_url
from infermeter.slo.model import SLO
from infermeter.slo.promtool import check_rules, test_rules
from infermeter.slo.render import Header
from infermeter.slo.service import Settings, generate_file
from tests.support import run_cli

from .conftest import DATA, golden

GROUPED = """
version: infermeter/v1
service: llm-gateway
labels: {team: ml-platform}
slos:
  - name: tenant-availability
    objective: 99
    template: gateway-availability
    group_by: [tenant]
    alerting:
      name: TenantAvailability
      annotations: {runbook_url: https://wiki.example.com/own-runbook}
"""
HEADER = Header("infermeter", "golden")  # a fixed version: the golden must not change with releases
CONTEXT = AlertContext("https://runbooks.example.com/{service}/{slo}?severity={severity}", "https://grafana.example.com/")


def _alerts(text: str) -> list[dict]:
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "alert" in r]


def test_links_are_filled_per_slo() -> None:
    slo = SLO(id="svc a-x", name="x", service="svc a", objective=99.9, period_ms=1, sli=None)
    assert dashboard_url("https://g.example.com/", slo) == "https://g.example.com/d/infermeter-slos?var-service=svc%20a&var-slo=x"
    assert runbook_url("https://r/{service}/{slo}/{id}#{severity}", slo, "page") == "https://r/svc%20a/x/svc%20a-x#page"
    assert runbook_url("https://r/static", slo, "page") == "https://r/static"


def test_generated_rules_carry_the_context_golden(promtool: str) -> None:
    text, _ = generate_file(DATA / "slo.yaml", Settings(header=HEADER, annotate=CONTEXT))
    assert text == golden("slo-rules-with-context.yml", text)
    assert check_rules(text).ok
    page, ticket = _alerts(text)
    assert page["annotations"]["runbook_url"] == "https://runbooks.example.com/llm-gateway/availability?severity=page"
    assert ticket["annotations"]["runbook_url"].endswith("?severity=ticket")
    assert page["annotations"]["dashboard_url"] == (
        "https://grafana.example.com/d/infermeter-slos?var-service=llm-gateway&var-slo=availability"
    )
    assert page["annotations"]["title"].startswith("(page)")  # Sloth's annotations stay


def test_spec_annotations_win_and_grouped_slos_query_their_group(tmp_path: Path) -> None:
    spec = tmp_path / "grouped.yaml"
    spec.write_text(GROUPED, encoding="utf-8")
    page, _ = _alerts(generate_file(spec, Settings(header=HEADER, annotate=CONTEXT))[0])
    assert page["annotations"]["runbook_url"] == "https://wiki.example.com/own-runbook"
    assert 'sloth_id=%q, tenant=%q}" $labels.sloth_id $labels.tenant' in page["annotations"]["summary"]
    assert "tenant={{ $labels.tenant }}" in page["annotations"]["summary"]


def test_summary_renders_burn_rate_and_budget_left_in_prometheus(promtool: str) -> None:
    """promtool evaluates the annotation templates (``query`` included) as Prometheus does:
    20% errors against a 1% budget is a 20x burn; two hours at 20x of a 30d budget spent 19x it."""
    text, _ = generate_file(DATA / "slo.yaml", Settings(header=HEADER, annotate=CONTEXT))
    labels = {
        "alertname": "GatewayAvailability",
        "sloth_id": "llm-gateway-availability",
        "sloth_service": "llm-gateway",
        "sloth_slo": "availability",
        "owner": "ml-platform",
    }
    summary = (
        "llm-gateway availability: error budget burn rate is 20.00x over the short window "
        "(1x spends the whole budget in 30d), -1900% of the 30d error budget left."
    )

    def expected(severity: str) -> dict:
        return {
            "exp_labels": {**labels, "sloth_severity": severity},
            "exp_annotations": {
                "title": f"({severity}) llm-gateway availability SLO error budget burn rate is too fast.",
                "summary": summary,
                "runbook_url": f"https://runbooks.example.com/llm-gateway/availability?severity={severity}",
                "dashboard_url": "https://grafana.example.com/d/infermeter-slos?var-service=llm-gateway&var-slo=availability",
            },
        }

    suite = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'infermeter_test_requests_total{code="200"}', "values": "0+80x180"},
                    {"series": 'infermeter_test_requests_total{code="500"}', "values": "0+20x180"},
                ],
                "alert_rule_test": [
                    {"eval_time": "2h", "alertname": "GatewayAvailability",
                     "exp_alerts": [expected("page"), expected("ticket")]},
                ],
            }
        ],
    }  # fmt: skip
    result = test_rules(text, suite)
    assert result.ok, result.output


def test_cli_options(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    proc = run_cli(
        "slo", "generate", "-i", str(DATA / "slo.yaml"), "-o", str(out),
        "--dashboard-url", "http://grafana:3000",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = _alerts(out.read_text())[0]["annotations"]
    assert page["dashboard_url"].startswith("http://grafana:3000/d/infermeter-slos?")
    assert "runbook_url" not in page and "burn rate is" in page["summary"]
    plain = tmp_path / "plain.yml"
    assert run_cli("slo", "generate", "-i", str(DATA / "slo.yaml"), "-o", str(plain)).returncode == 0
    plain_page = _alerts(plain.read_text())[0]["annotations"]
    assert plain_page["summary"] == "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected."
