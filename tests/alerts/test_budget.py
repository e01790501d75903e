"""Tenant budget alerts: the exposed gauges (the contract with chargeback) and the Prometheus rules
that fire when a tenant's month-to-date spend passes a configured share of its budget."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest

from infermeter.alerts.budget import TenantBudgetCollector, TenantSpend, budget_rules, render_budget_rules
from infermeter.alerts.spec import load_spec
from infermeter.slo.promtool import check_rules, test_rules
from tests.support import run_cli

from .conftest import EXAMPLE, golden


def _rules_text() -> str:
    return render_budget_rules(budget_rules(load_spec(EXAMPLE).tenant_budgets), EXAMPLE.name)


def test_collector_exposes_the_contract() -> None:
    spends = [TenantSpend("acme", Decimal("912.50"), Decimal("1000")), TenantSpend("free", Decimal("0"), Decimal("0"))]
    registry = CollectorRegistry()
    registry.register(TenantBudgetCollector(lambda: spends))
    page = generate_latest(registry).decode()
    assert 'infermeter_tenant_budget_used_ratio{tenant="acme"} 0.9125' in page
    assert 'infermeter_tenant_budget_spent{currency="USD",tenant="acme"} 912.5' in page
    assert 'infermeter_tenant_budget_amount{currency="USD",tenant="acme"} 1000.0' in page
    assert 'infermeter_tenant_budget_used_ratio{tenant="free"} 0.0' in page
    assert TenantSpend("t", Decimal("1"), Decimal("0")).used_ratio == float("inf")


def test_rules_match_golden_and_pass_promtool(promtool: str) -> None:
    text = _rules_text()
    assert text == golden("budget-rules.yml", text)
    assert check_rules(text).ok


def test_cli_budget_rules(tmp_path) -> None:
    out = tmp_path / "budget.yml"
    proc = run_cli("alerts", "budget-rules", "-c", str(EXAMPLE), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == _rules_text()


def _fired(severity: str, threshold: str, tenant: str, ratio_pct: str, spent: str, budget: str) -> dict:
    pct = format(float(threshold) * 100, "g")
    return {
        "exp_labels": {
            "alertname": "TenantBudgetThreshold",
            "tenant": tenant,
            "sloth_severity": severity,
            "budget_threshold": threshold,
        },
        "exp_annotations": {
            "title": f"({severity}) tenant {tenant} passed {pct}% of its monthly budget",
            "summary": (
                f"Tenant {tenant} has spent {ratio_pct} of its monthly budget ({spent} USD of {budget} USD); "
                f"alert threshold {pct}%."
            ),
            "runbook_url": "https://runbooks.example.com/finops/tenant-budget",
        },
    }


def test_thresholds_fire_per_tenant(promtool: str) -> None:
    """acme (default 80%/100%) at 85% gets the ticket only, then at 110% the page too; globex
    (its own 50%/90%) at 60% gets its ticket; initech at 10% gets nothing."""
    series = []
    for tenant, ratio, spent, budget in (
        ("acme", "0.85 0.85 1.1", "850 850 1100", "1000"),
        ("globex", "0.6 0.6 0.6", "300 300 300", "500"),
        ("initech", "0.1 0.1 0.1", "10 10 10", "100"),
    ):
        series += [
            {"series": f'infermeter_tenant_budget_used_ratio{{tenant="{tenant}"}}', "values": ratio},
            {"series": f'infermeter_tenant_budget_spent{{tenant="{tenant}",currency="USD"}}', "values": spent},
            {"series": f'infermeter_tenant_budget_amount{{tenant="{tenant}",currency="USD"}}', "values": f"{budget}x2"},
        ]
    suite = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": "1m",
                        "alertname": "TenantBudgetThreshold",
                        "exp_alerts": [
                            _fired("ticket", "0.8", "acme", "85%", "850.00", "1000.00"),
                            _fired("ticket", "0.5", "globex", "60%", "300.00", "500.00"),
                        ],
                    },
                    {
                        "eval_time": "2m",
                        "alertname": "TenantBudgetThreshold",
                        "exp_alerts": [
                            _fired("ticket", "0.8", "acme", "110%", "1100.00", "1000.00"),
                            _fired("page", "1", "acme", "110%", "1100.00", "1000.00"),
                            _fired("ticket", "0.5", "globex", "60%", "300.00", "500.00"),
                        ],
                    },
                ],
            }
        ],
    }
    result = test_rules(_rules_text(), suite)
    assert result.ok, result.output
