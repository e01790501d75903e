"""infermeter's extensions (``version: infermeter/v1``), each checked by Prometheus itself:
latency SLIs from histogram buckets, grouped (per-tenant) SLOs without NaN and with a
minimum-traffic guard, calendar-month periods, and the built-in inference templates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infermeter.cli.app import main
from infermeter.slo import conventions as c
from infermeter.slo.promtool import check_rules, test_rules
from infermeter.slo.service import Settings, generate_file, validate_paths
from infermeter.slo.sli_builders import le_regex
from infermeter.slo.templates import TEMPLATES

from .conftest import generate

LATENCY_SPEC = """\
version: infermeter/v1
service: llm
slos:
  - name: ttft
    objective: 95
    template: vllm-ttft
    params: {threshold: 1}
    alerting: {name: SlowFirstToken}
  - name: gateway-ttft
    objective: 95
    sli:
      latency:
        metric: infermeter_gateway_ttft_seconds
        threshold: 1.0
        selector: 'model="m"'
    alerting: {name: SlowFirstToken}
"""


def _run(rules: str, test: dict, interval: str = "1m", group_order: list[str] | None = None) -> None:
    suite: dict = {"evaluation_interval": interval, "tests": [test]}
    if group_order:
        # promtool evaluates groups in map order unless told: a rule reading another group's
        # output then sees it from the previous step, which is beyond the 5m lookback at 1h.
        suite["group_eval_order"] = group_order
    result = test_rules(rules, suite)
    assert result.ok, result.output


def _histogram(metric: str, le_one: str, extra: str = "") -> list[dict]:
    # 100 requests a minute: 60 under 0.5s, 90 under 1s (so 10% slower than 1s).
    lab = f"{extra}, " if extra else ""
    return [
        {"series": f'{metric}_bucket{{{lab}le="0.5"}}', "values": "0+60x30"},
        {"series": f'{metric}_bucket{{{lab}le="{le_one}"}}', "values": "0+90x30"},
        {"series": f'{metric}_bucket{{{lab}le="+Inf"}}', "values": "0+100x30"},
        {"series": f"{metric}_count{{{lab[:-2]}}}" if lab else f"{metric}_count", "values": "0+100x30"},
    ]


def test_le_regex_accepts_both_spellings() -> None:
    assert le_regex(1) == le_regex(1.0) == "1(\\\\.0)?"
    assert le_regex(0.25) == "0\\\\.25"


@pytest.mark.system
@pytest.mark.parametrize("le_one", ["1", "1.0"])
def test_latency_sli_from_buckets(spec_file, promtool: str, le_one: str) -> None:
    rules = generate(spec_file(LATENCY_SPEC))
    assert check_rules(rules).ok
    series = _histogram("vllm:time_to_first_token_seconds", le_one) + _histogram(
        "infermeter_gateway_ttft_seconds", le_one, 'model="m"'
    )
    _run(rules, {
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            {"expr": "round(slo:sli_error:ratio_rate5m, 0.0001)", "eval_time": "20m", "exp_samples": [
                {"labels": '{sloth_id="llm-ttft", sloth_service="llm", sloth_slo="ttft", sloth_window="5m"}',
                 "value": 0.1},
                {"labels": '{sloth_id="llm-gateway-ttft", sloth_service="llm", sloth_slo="gateway-ttft", '
                           'sloth_window="5m"}', "value": 0.1},
            ]},
        ],
    })


GROUPED_SPEC = """\
version: infermeter/v1
service: gateway
slos:
  - name: availability
    objective: 99
    template: gateway-availability
    group_by: [tenant]
    {guard}
    alerting:
      name: TenantAvailability
"""


def _gateway(tenant: str, status: str, values: str) -> dict:
    return {
        "series": f'infermeter_gateway_requests_total{{tenant="{tenant}", model="m", status_class="{status}"}}',
        "values": values,
    }


GATEWAY_SERIES = [
    _gateway("a", "2xx", "0+100x60"), _gateway("a", "5xx", "0+100x60"),  # 50% errors
    _gateway("b", "2xx", "0+100x60"),  # no 5xx series at all
    _gateway("c", "2xx", "500+0x60"),  # no traffic
    _gateway("d", "5xx", "0 1 2 3+0x57"),  # three requests, all failed
]


def _alert(tenant: str, severity: str) -> dict:
    return {
        "exp_labels": {"sloth_id": "gateway-availability", "sloth_service": "gateway",
                       "sloth_slo": "availability", "sloth_severity": severity, "tenant": tenant},
        "exp_annotations": {
            "title": f"({severity}) gateway availability SLO error budget burn rate is too fast.",
            "summary": "gateway availability SLO error budget burn rate is over expected.",
        },
    }


@pytest.mark.system
def test_grouped_slo_per_tenant_without_nan(spec_file, promtool: str) -> None:
    rules = generate(spec_file(GROUPED_SPEC.format(guard="min_events: 100")))
    assert check_rules(rules).ok
    labels = 'sloth_id="gateway-availability", sloth_service="gateway", sloth_slo="availability", sloth_window="5m"'
    _run(rules, {
        "interval": "1m",
        "input_series": GATEWAY_SERIES,
        "promql_expr_test": [
            # a: 0.5; b: 0 although it has no error series; c (no traffic): no sample, not NaN.
            {"expr": "slo:sli_error:ratio_rate5m", "eval_time": "30m", "exp_samples": [
                {"labels": f'slo:sli_error:ratio_rate5m{{{labels}, tenant="a"}}', "value": 0.5},
                {"labels": f'slo:sli_error:ratio_rate5m{{{labels}, tenant="b"}}', "value": 0},
            ]},
            {"expr": "slo:sli_total:events5m", "eval_time": "30m", "exp_samples": [
                {"labels": f'slo:sli_total:events5m{{{labels}, tenant="a"}}', "value": 1000},
                {"labels": f'slo:sli_total:events5m{{{labels}, tenant="b"}}', "value": 500},
                {"labels": f'slo:sli_total:events5m{{{labels}, tenant="c"}}', "value": 0},
                {"labels": f'slo:sli_total:events5m{{{labels}, tenant="d"}}', "value": 0},
            ]},
        ],
        "alert_rule_test": [
            # d burns 100% of three requests: below the 100-event guard, nobody is paged for it.
            {"eval_time": "4m", "alertname": "TenantAvailability",
             "exp_alerts": [_alert("a", "page"), _alert("a", "ticket")]},
        ],
    })


@pytest.mark.system
def test_without_the_guard_three_requests_page(spec_file, promtool: str) -> None:
    rules = generate(spec_file(GROUPED_SPEC.format(guard="")))
    _run(rules, {
        "interval": "1m",
        "input_series": GATEWAY_SERIES,
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "TenantAvailability",
             "exp_alerts": [_alert("a", "page"), _alert("d", "page"), _alert("a", "ticket"), _alert("d", "ticket")]},
        ],
    })


def test_grouped_events_queries_must_aggregate_by_the_group(spec_file) -> None:
    path = spec_file("""\
        version: infermeter/v1
        service: gw
        slos:
          - name: aa
            objective: 99
            group_by: [tenant]
            sli:
              events:
                error_query: sum(rate(x{code="500"}[{{.window}}]))
                total_query: sum by (tenant) (rate(x[{{.window}}]))
            alerting: {name: A}
        """)
    errors = [str(e) for e in validate_paths(path, Settings()).errors]
    assert errors == [f"{path}: SLO 'aa': field slos[0].sli.events.error_query: a grouped SLO's queries must aggregate by (tenant)"]


CALENDAR_SPEC = """\
version: infermeter/v1
service: api
period: calendar-month
slos:
  - name: requests
    objective: 90
    sli:
      events:
        error_query: sum(rate(http_requests_total{code="500"}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
"""
JAN_STEPS = 31 * 24 * 12  # 5-minute steps in January 1970
FEB_STEPS = 3 * 24 * 12


@pytest.mark.system
@pytest.mark.slow
def test_calendar_month_budget(spec_file, promtool: str) -> None:
    rules = generate(spec_file(CALENDAR_SPEC))
    assert check_rules(rules).ok
    ids = 'sloth_id="api-requests", sloth_service="api", sloth_slo="requests"'
    # January: 5% errors (half the 10% budget's rate); February: none.
    series = [
        {"series": 'http_requests_total{code="200"}', "values": f"0+95x{JAN_STEPS} {95 * JAN_STEPS}+100x{FEB_STEPS}"},
        {"series": 'http_requests_total{code="500"}', "values": f"0+5x{JAN_STEPS} {5 * JAN_STEPS}+0x{FEB_STEPS}"},
    ]
    _run(rules, {
        "interval": "5m",
        "input_series": series,
        "promql_expr_test": [
            # 20 days into January at burn rate 0.5: 1 - 0.5 * 20/31 of the month's budget is left.
            {"expr": "round(slo:period_error_budget_remaining:ratio, 0.001)", "eval_time": "20d",
             "exp_samples": [{"labels": f'{{{ids}, sloth_window="calendar_month"}}', "value": 0.677}]},
            {"expr": "round(slo:sli_error:ratio_rate_calendar_month, 0.0001)", "eval_time": "20d",
             "exp_samples": [{"labels": f'{{{ids}, sloth_window="calendar_month"}}', "value": 0.05}]},
            # On 3 February the month started afresh: January's errors no longer count.
            {"expr": "slo:sli_error:ratio_rate_calendar_month", "eval_time": "33d",
             "exp_samples": [{"labels": f'slo:sli_error:ratio_rate_calendar_month{{{ids}, '
                                        'sloth_window="calendar_month"}', "value": 0}]},
            {"expr": "slo:period_error_budget_remaining:ratio", "eval_time": "33d",
             "exp_samples": [{"labels": f'slo:period_error_budget_remaining:ratio{{{ids}, '
                                        'sloth_window="calendar_month"}', "value": 1}]},
            {"expr": "slo:calendar_month_elapsed:ratio", "eval_time": "33d",
             "exp_samples": [{"labels": f"slo:calendar_month_elapsed:ratio{{{ids}}}", "value": 2 / 28}]},
            {"expr": "slo:time_period:days", "eval_time": "33d",
             "exp_samples": [{"labels": f"slo:time_period:days{{{ids}}}", "value": 28}]},
        ],
    }, interval="1h", group_order=[f"{prefix}api-requests" for prefix in (
        c.GROUP_SLI_PREFIX, c.GROUP_CALENDAR_PREFIX, c.GROUP_META_PREFIX, c.GROUP_ALERTS_PREFIX)])


def test_all_templates_generate_valid_rules(spec_file) -> None:
    slos = "".join(
        f"  - name: {name}\n    objective: 99\n    template: {name}\n    alerting: {{name: A}}\n    group_by: [{'tenant' if 'gateway' in name else 'model'}]\n"
        for name in TEMPLATES
    )
    path = spec_file(f"version: infermeter/v1\nservice: infer\nslos:\n{slos}")
    report = validate_paths(path, Settings())
    assert report.ok, [str(e) for e in report.issues]
    text, warnings = generate_file(path, Settings())
    assert warnings == []
    doc = yaml.safe_load(text)
    assert len(doc["groups"]) == 3 * len(TEMPLATES)


@pytest.mark.system
def test_all_templates_pass_promtool(spec_file, promtool: str) -> None:
    slos = "".join(f"  - name: {name}\n    objective: 99\n    template: {name}\n    alerting: {{name: A}}\n" for name in TEMPLATES)
    result = check_rules(generate(spec_file(f"version: infermeter/v1\nservice: infer\nslos:\n{slos}")))
    assert result.ok, result.output


def test_template_errors_name_the_field(spec_file) -> None:
    path = spec_file("""\
        version: infermeter/v1
        service: llm
        slos:
          - name: aa
            objective: 99
            template: vllm-ttfb
            alerting: {name: A}
          - name: bb
            objective: 99
            template: vllm-ttft
            params: {treshold: 1}
            alerting: {name: A}
          - name: cc
            objective: 99
            template: vllm-ttft
            params: {threshold: 0.3}
            alerting: {name: A}
        """)
    report = validate_paths(path, Settings())
    assert [str(e) for e in report.errors] == [
        f"{path}: SLO 'aa': field slos[0].template: unknown template 'vllm-ttfb' (known: gateway-availability, "
        "gateway-latency, gateway-ttft, triton-availability, vllm-availability, vllm-e2e-latency, vllm-itl, vllm-ttft)",
        f"{path}: SLO 'bb': field slos[1].params.treshold: Extra inputs are not permitted",
    ]
    assert len(report.warnings) == 1 and "threshold 0.3 is not a bucket bound" in str(report.warnings[0])


def test_sloth_spec_as_infermeter_v1_generates_the_same_rules(sloth_fixtures: Path, tmp_path: Path) -> None:
    source = (sloth_fixtures / "01_base_30d/in.yaml").read_text(encoding="utf-8")
    ours = tmp_path / "ours.yaml"
    ours.write_text(source.replace('"prometheus/v1"', '"infermeter/v1"'), encoding="utf-8")
    sloth_text, _ = generate_file(sloth_fixtures / "01_base_30d/in.yaml", Settings())
    ours_text, _ = generate_file(ours, Settings())
    assert ours_text == sloth_text.replace("sloth_spec: prometheus/v1", "sloth_spec: infermeter/v1")


def test_extension_keys_in_a_sloth_spec_are_unknown(spec_file) -> None:
    path = spec_file(CALENDAR_SPEC.replace("infermeter/v1", "prometheus/v1"))
    report = validate_paths(path, Settings())
    assert [str(w) for w in report.warnings] == [f"{path}: field period: unknown key (ignored, as Sloth does)"]


def test_templates_command_lists_every_template(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["slo", "templates"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == list(TEMPLATES)
