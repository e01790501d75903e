"""Spec validation: every bad input gives a clear error naming the file, the SLO and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infermeter.cli.app import main
from infermeter.errors import ConfigError
from infermeter.slo.issues import Level
from infermeter.slo.service import Settings, generate_file, validate_paths

BASE = """\
version: prometheus/v1
service: svc
slos:
  - name: requests
    objective: @OBJ@
    sli:
      events:
        error_query: @ERR@
        total_query: @TOT@
    alerting:
      name: Alert
"""
ERR = 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))'
TOT = "sum(rate(http_requests_total[{{.window}}]))"


def spec(objective: object = 99.9, error_query: str = ERR, total_query: str = TOT) -> str:
    return BASE.replace("@OBJ@", str(objective)).replace("@ERR@", error_query).replace("@TOT@", total_query)


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


def errors_of(path: Path, **settings) -> list[str]:
    return [str(i) for i in validate_paths(path, Settings(**settings)).errors]


# --- Sloth's validate fixtures ------------------------------------------------------------------
def test_good_fixtures_validate(sloth_fixtures: Path) -> None:
    assert run_cli(["slo", "validate", "-i", str(sloth_fixtures / "validate/good"), "--ignore-slo-duplicates"]) == 0


def test_good_fixtures_repeat_ids_across_files(sloth_fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["slo", "validate", "-i", str(sloth_fixtures / "validate/good")]) == 1
    assert "SLO ID 'svc01-slo1' already exists in" in capsys.readouterr().err


def test_bad_fixtures_fail(sloth_fixtures: Path) -> None:
    assert run_cli(["slo", "validate", "-i", str(sloth_fixtures / "validate/bad"), "--ignore-slo-duplicates"]) == 1
    assert run_cli(["slo", "validate", "-i", str(sloth_fixtures / "validate")]) == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad-aa.yaml", "bad-aa.yaml: SLO 'slo02': field slos[1].objective: objective must be >0 and <100, got 101"),
        ("bad-ab.yaml", "SLO 'slo02': field slos[1].objective: objective must be >0 and <100, got 101"),
        ("bad-ba.yaml", "SLO 'slo02': field slos[1].objective"),
        ("bad-k8s.yaml", "bad-k8s.yaml: field spec.service: is required"),
        ("bad-multi.yaml", "bad-multi.yaml (document 2): SLO 'slo02': field slos[1].sli: at least one SLI type"),
        ("bad-multi-k8s.yaml", "(document 1): SLO 'slo1': field spec.slos[0].alerting.name: alert name is required"),
    ],
)
def test_each_bad_fixture_names_file_slo_and_field(sloth_fixtures: Path, name: str, expected: str) -> None:
    errors = errors_of(sloth_fixtures / "validate/bad" / name)
    assert any(expected in e for e in errors), errors


def test_bad_openslo_needs_a_28d_table(sloth_fixtures: Path, tmp_path: Path) -> None:
    # Its 28-day window is valid with the built-in 28d table (as in Sloth v0.16, which embeds it);
    # with a 30d-only catalog it has no table.
    path = sloth_fixtures / "validate/bad/bad-openslo.yaml"
    assert errors_of(path) == []
    shutil.copy(sloth_fixtures / "default_windows/google-30d.yaml", tmp_path / "30d.yaml")
    errors = errors_of(path, windows_path=tmp_path)
    assert errors == [
        f"{path}: SLO 'slo1-0': field period: the 4w SLO period has no alert window table (periods with one: "
        "30d; add one with --slo-period-windows-path)"
    ]


# --- objective, SLI and name rules -----------------------------------------------------------------
@pytest.mark.parametrize("objective", [0, 100, 101, -1])
def test_objective_out_of_range(spec_file, objective: float) -> None:
    path = spec_file(spec(objective))
    assert errors_of(path) == [
        f"{path}: SLO 'requests': field slos[0].objective: objective must be >0 and <100, got {objective:g}"
    ]


def test_missing_window_variable(spec_file) -> None:
    path = spec_file(spec(total_query="sum(rate(http_requests_total[5m]))"))
    assert errors_of(path) == [
        f"{path}: SLO 'requests': field slos[0].sli.events.total_query: template must contain the {{{{ .window }}}} variable"
    ]


def test_both_sli_kinds(spec_file) -> None:
    text = spec().replace("    alerting:", "      raw:\n        error_ratio_query: x[{{.window}}]\n    alerting:")
    path = spec_file(text)
    assert errors_of(path) == [f"{path}: SLO 'requests': field slos[0].sli: only one SLI type is allowed, found raw and events"]


def test_same_error_and_total_query(spec_file) -> None:
    path = spec_file(spec(error_query=TOT))
    assert errors_of(path) == [f"{path}: SLO 'requests': field slos[0].sli.events: both error and total queries can't be the same"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("sum(rate(x[{{.window}}])", "unclosed '('"),
        ('sum(rate(x{a="b}[{{.window}}]))', "unterminated string literal"),
        ("sum(rate(x[{{.window}}])))", "unexpected ')'"),
        ("sum(rate(x[{{.window}}])) + {{.other}}", "unknown template action '{{.other}}'"),
    ],
)
def test_invalid_promql(spec_file, query: str, reason: str) -> None:
    path = spec_file(spec(error_query="'" + query.replace("'", "''") + "'"))
    errors = errors_of(path)
    assert len(errors) == 1 and "field slos[0].sli.events.error_query: " + reason in errors[0], errors


def test_duplicate_slo_ids_in_one_document(spec_file) -> None:
    text = spec() + spec().split("slos:\n", 1)[1]
    path = spec_file(text)
    assert errors_of(path) == [f"{path}: SLO 'requests': field name: SLO ID 'svc-requests' is repeated"]


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [("service: svc", "service: my svc", "service"), ("name: requests", "name: -requests", "slos[0].name")],
)
def test_bad_names(spec_file, old: str, new: str, field: str) -> None:
    path = spec_file(spec().replace(old, new, 1))
    errors = errors_of(path)
    assert any(f"field {field}: " in e and "must start and end with an alphanumeric" in e for e in errors), errors


def test_enabled_alert_needs_a_name(spec_file) -> None:
    path = spec_file(spec().replace("      name: Alert\n", "      labels: {team: a}\n"))
    assert errors_of(path) == [
        f"{path}: SLO 'requests': field slos[0].alerting.name: alert name is required when the page or ticket alert is enabled"
    ]


def test_empty_label_value(spec_file) -> None:
    path = spec_file(spec().replace("service: svc\n", "service: svc\nlabels:\n  team: ''\n"))
    assert errors_of(path) == [f"{path}: SLO 'requests': field slos[0].labels.team: the label value is required"]


def test_wrong_type_is_named(spec_file) -> None:
    path = spec_file(spec(objective="high"))
    errors = errors_of(path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}: SLO 'requests': field slos.0.objective".replace(".0.", "[0]."))


# --- file-level problems ---------------------------------------------------------------------------
def test_invalid_yaml(spec_file) -> None:
    path = spec_file("version: prometheus/v1\nservice: [svc\n")
    errors = errors_of(path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}: invalid YAML at line ")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(spec().replace("svc", "caf\xe9").encode("latin-1"))
    assert errors_of(path) == [f"{path}: not UTF-8 text (invalid byte 0xe9 at offset 35)"]


def test_unsupported_version(spec_file) -> None:
    path = spec_file(spec().replace("prometheus/v1", "prometheus/v2"))
    errors = errors_of(path)
    assert len(errors) == 1 and "unsupported spec {'version': 'prometheus/v2'}" in errors[0]


def test_period_without_window_table_is_bad_input(spec_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = spec_file(spec())
    assert run_cli(["slo", "generate", "-i", str(path), "--default-slo-period", "7d"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--default-slo-period: the 1w SLO period has no alert window table (periods with one: 4w, 30d" in err


def test_unknown_keys_warn_and_fail_under_strict(spec_file) -> None:
    path = spec_file(spec().replace("    objective:", "    objectiv: 1\n    objective:"))
    report = validate_paths(path, Settings())
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        f"{path}: SLO 'requests': field slos[0].objectiv: unknown key (ignored, as Sloth does)"
    ]
    strict = validate_paths(path, Settings(strict=True))
    assert [str(e) for e in strict.errors] == [f"{path}: SLO 'requests': field slos[0].objectiv: unknown key"]
    assert strict.errors[0].level is Level.ERROR


def test_generate_fails_with_one_line_and_exit_2(spec_file, capsys: pytest.CaptureFixture[str]) -> None:
    path = spec_file(spec(101))
    assert run_cli(["slo", "generate", "-i", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert f"{path}: SLO 'requests': field slos[0].objective: objective must be >0 and <100, got 101" in err


def test_generate_api_raises_config_error(spec_file) -> None:
    with pytest.raises(ConfigError, match="field slos\\[0\\].objective"):
        generate_file(spec_file(spec(0)), Settings())


def test_validate_missing_path_is_bad_input(tmp_path: Path) -> None:
    assert run_cli(["slo", "validate", "-i", str(tmp_path / "nope.yaml")]) == 2


def test_multi_document_with_comments_and_leading_separator(spec_file) -> None:
    text = "# a comment\n---\n" + spec() + "\n---\n" + spec().replace("service: svc", "service: svc2") + "---\n"
    path = spec_file(text)
    report = validate_paths(path, Settings())
    assert report.ok and [d.source for d in report.documents] == [f"{path} (document 1)", f"{path} (document 2)"]


# --- window tables and other formats -------------------------------------------------------------
def test_conflicting_window_tables_are_bad_input(sloth_fixtures: Path) -> None:
    # default_windows holds two different 30d tables (Google's and the custom example).
    with pytest.raises(ConfigError, match="30d slo period is already loaded"):
        validate_paths(sloth_fixtures / "01_base_30d/in.yaml", Settings(windows_path=sloth_fixtures / "default_windows"))


def test_custom_window_table_changes_the_burn_factors(sloth_fixtures: Path, tmp_path: Path) -> None:
    shutil.copy(sloth_fixtures / "default_windows/example-custom-30d.yaml", tmp_path / "custom.yaml")
    text, _ = generate_file(sloth_fixtures / "01_base_30d/in.yaml", Settings(windows_path=tmp_path))
    # page quick: 1% of 30d in 30m = 14.4; page slow: 2% in 3h = 4.8; short windows 2m and 15m
    assert "slo:sli_error:ratio_rate2m" in text and "(4.8 * 0.0009999999999999432)" in text


def test_openslo_time_window_unit(spec_file) -> None:
    path = spec_file("""\
        apiVersion: openslo/v1alpha
        kind: SLO
        metadata: {name: slo1}
        spec:
          service: svc01
          objectives:
            - ratioMetrics:
                good: {source: prometheus, queryType: promql, query: 'sum(rate(ok[{{.window}}]))'}
                total: {source: prometheus, queryType: promql, query: 'sum(rate(all[{{.window}}]))'}
              target: 0.999
          timeWindows:
            - count: 4
              unit: Week
        """)
    assert errors_of(path) == [f"{path}: field spec.timeWindows[0].unit: only days based time windows are supported"]


@pytest.mark.system
def test_validate_with_promtool(sloth_fixtures: Path, promtool: str) -> None:
    good = sloth_fixtures / "validate/good"
    assert run_cli(["slo", "validate", "-i", str(good), "--ignore-slo-duplicates", "--promtool"]) == 0


@pytest.mark.system
def test_validate_with_promtool_catches_what_the_light_check_cannot(spec_file, promtool: str) -> None:
    path = spec_file(spec(error_query="sum(rate(x[{{.window}}])) +* 2"))
    assert validate_paths(path, Settings()).ok  # brackets and quotes are fine...
    report = validate_paths(path, Settings(), promtool=True)
    assert len(report.errors) == 1 and "promtool check rules failed" in str(report.errors[0])


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"version: prometheus/v1\nservice: [svc\n", "invalid YAML at line 3"), (b"service: caf\xe9\n", "not UTF-8 text")],
)
def test_cli_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    assert run_cli(["slo", "generate", "-i", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: {message}" in err
    assert run_cli(["slo", "validate", "-i", str(path)]) == 1
    assert f"{path}: {message}" in capsys.readouterr().err


def test_cli_rejects_malformed_extra_labels(sloth_fixtures: Path) -> None:
    assert run_cli(["slo", "generate", "-i", str(sloth_fixtures / "01_base_30d/in.yaml"), "-l", "novalue"]) == 2
