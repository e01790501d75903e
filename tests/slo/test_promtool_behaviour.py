"""Behaviour verified by Prometheus itself (``promtool test rules``) on generated rules: a fast
burn pages and tickets, a slow burn only tickets, a healthy service alerts nobody, and the SLI,
burn rate and remaining budget are what the arithmetic says."""

from __future__ import annotations

import pytest

from infermeter.slo.promtool import test_rules

from .conftest import generate

pytestmark = pytest.mark.system

SPEC = """\
version: prometheus/v1
service: api
slos:
  - name: requests
    objective: 99
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: RequestsBurn
      labels: {team: infra}
"""
IDS = {"sloth_id": "api-requests", "sloth_service": "api", "sloth_slo": "requests"}
# Burn-rate and remaining-budget series keep the SLI's sloth_window label (as Sloth's rules do).


def expected_alert(severity: str) -> dict:
    return {
        "exp_labels": {**IDS, "sloth_severity": severity, "team": "infra"},
        "exp_annotations": {
            "title": f"({severity}) api requests SLO error budget burn rate is too fast.",
            "summary": "api requests SLO error budget burn rate is over expected.",
        },
    }


def traffic(ok_per_min: int, errors_per_min: int, minutes: int) -> list[dict]:
    return [
        {"series": 'http_requests_total{code="200"}', "values": f"0+{ok_per_min}x{minutes}"},
        {"series": 'http_requests_total{code="500"}', "values": f"0+{errors_per_min}x{minutes}"},
    ]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return generate(path)


def run(rules: str, promtool: str, test: dict) -> None:
    result = test_rules(rules, {"evaluation_interval": "1m", "tests": [{"interval": "1m", **test}]})
    assert result.ok, result.output


def test_fast_burn_pages_and_tickets(rules: str, promtool: str) -> None:
    # 50% errors for two hours: over 14.4x (page) and 3x (ticket) the 1% budget in every window.
    run(rules, promtool, {
        "input_series": traffic(50, 50, 180),
        "alert_rule_test": [
            {"eval_time": "2h", "alertname": "RequestsBurn", "exp_alerts": [expected_alert("page"), expected_alert("ticket")]}
        ],
        "promql_expr_test": [
            {"expr": 'slo:sli_error:ratio_rate5m{sloth_id="api-requests"}', "eval_time": "2h",
             "exp_samples": [{"labels": 'slo:sli_error:ratio_rate5m{sloth_id="api-requests", sloth_service="api", '
                                        'sloth_slo="requests", sloth_window="5m"}', "value": 0.5}]},
            {"expr": 'slo:current_burn_rate:ratio{sloth_id="api-requests"}', "eval_time": "2h",
             "exp_samples": [{"labels": 'slo:current_burn_rate:ratio{sloth_id="api-requests", sloth_service="api", '
                                        'sloth_slo="requests", sloth_window="5m"}', "value": 0.5 / (1 - 0.99)}]},
            {"expr": 'slo:period_error_budget_remaining:ratio{sloth_id="api-requests"}', "eval_time": "2h",
             "exp_samples": [{"labels": 'slo:period_error_budget_remaining:ratio{sloth_id="api-requests", '
                                        'sloth_service="api", sloth_slo="requests", sloth_window="30d"}', "value": 1 - 0.5 / (1 - 0.99)}]},
        ],
    })


def test_slow_burn_only_tickets(rules: str, promtool: str) -> None:
    # 2% errors: 2x the budget, under the page thresholds (14.4x, 6x) and over the slow ticket (1x).
    run(rules, promtool, {
        "input_series": traffic(98, 2, 600),
        "alert_rule_test": [
            {"eval_time": "8h", "alertname": "RequestsBurn", "exp_alerts": [expected_alert("ticket")]},
        ],
        "promql_expr_test": [
            {"expr": 'round(slo:current_burn_rate:ratio{sloth_id="api-requests"}, 0.001)', "eval_time": "8h",
             "exp_samples": [{"labels": '{sloth_id="api-requests", sloth_service="api", sloth_slo="requests", '
                                        'sloth_window="5m"}', "value": 2}]},
        ],
    })


def test_healthy_service_alerts_nobody(rules: str, promtool: str) -> None:
    # 0.1% errors: a tenth of the budget.
    run(rules, promtool, {
        "input_series": traffic(999, 1, 600),
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "RequestsBurn", "exp_alerts": []},
            {"eval_time": "8h", "alertname": "RequestsBurn", "exp_alerts": []},
        ],
        "promql_expr_test": [
            {"expr": 'round(slo:period_error_budget_remaining:ratio{sloth_id="api-requests"}, 0.001)',
             "eval_time": "8h",
             "exp_samples": [{"labels": '{sloth_id="api-requests", sloth_service="api", sloth_slo="requests", '
                                        'sloth_window="30d"}', "value": 0.9}]},
            {"expr": "slo:objective:ratio", "eval_time": "1m",
             "exp_samples": [{"labels": 'slo:objective:ratio{sloth_id="api-requests", sloth_service="api", '
                                        'sloth_slo="requests"}', "value": 0.99}]},
        ],
    })
