"""Routing spec -> Alertmanager configuration: golden file, amtool check-config, inhibition,
secrets never inlined where a *_file exists."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from infermeter.alerts.alertmanager import check_config
from infermeter.alerts.generate import Secrets, alertmanager_config, render
from infermeter.alerts.spec import load_spec
from tests.support import run_cli

from .conftest import EXAMPLE, golden


def _example_text() -> str:
    return render(alertmanager_config(load_spec(EXAMPLE)), EXAMPLE.name)


def test_example_matches_golden() -> None:
    text = _example_text()
    assert text == golden("alertmanager.yml", text)


def test_golden_passes_amtool_check_config(amtool: str) -> None:
    result = check_config(_example_text())
    assert result.ok, result.output
    assert "1 inhibit rules" in result.output and "7 receivers" in result.output


def test_cli_generate_writes_a_checked_file(amtool: str, tmp_path: Path) -> None:
    out = tmp_path / "am" / "alertmanager.yml"
    proc = run_cli("alerts", "generate", "-c", str(EXAMPLE), "-o", str(out), "--check")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == _example_text()


def test_page_inhibits_the_ticket_of_the_same_slo() -> None:
    config = alertmanager_config(load_spec(EXAMPLE))
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['sloth_severity="page"'],
            "target_matchers": ['sloth_severity="ticket"'],
            "equal": ["sloth_id", "tenant"],
        }
    ]


def test_team_routes_split_page_and_ticket_with_business_hours() -> None:
    config = alertmanager_config(load_spec(EXAMPLE))
    by_service = next(r for r in config["route"]["routes"] if r["matchers"] == ['sloth_service=~"llm-gateway|vllm-llama"'])
    page, ticket = by_service["routes"]
    assert (page["receiver"], page["matchers"], page["repeat_interval"]) == (
        "ml-platform-pager",
        ['sloth_severity="page"'],
        "30m",  # the team's override of the spec's 1h
    )
    assert ticket["receiver"] == "ml-platform-slack" and ticket["active_time_intervals"] == ["business-hours"]
    assert "active_time_intervals" not in page  # pages are never held back
    assert config["time_intervals"][0]["time_intervals"][0]["location"] == "Europe/Paris"


def test_env_secrets_go_to_files_never_inline(write, tmp_path: Path, amtool: str) -> None:
    spec = write(
        """
        default_receiver: pager
        receivers:
          - name: pager
            pagerduty: {routing_key_env: PD_KEY}
            opsgenie: {api_key_env: OG_KEY}
            slack: {channel: '#x', api_url_env: SLACK_URL}
            email: {to: a@example.com, from: b@example.com, smarthost: 'smtp:25', auth_username: u, auth_password_env: SMTP_PW}
        """
    )
    env = {"PD_KEY": "pd-secret-1", "OG_KEY": "og-secret-2", "SLACK_URL": "https://hooks.example/secret-3", "SMTP_PW": "pw-secret-4"}
    secrets = Secrets(directory=tmp_path / "secrets", environ=env)
    text = render(alertmanager_config(load_spec(spec), secrets))
    for value in env.values():
        assert value not in text
    receiver = yaml.safe_load(text)["receivers"][0]
    key_file = Path(receiver["pagerduty_configs"][0]["routing_key_file"])
    assert key_file == (tmp_path / "secrets" / "pager.routing_key").absolute()
    assert secrets.files[key_file] == "pd-secret-1"
    assert receiver["email_configs"][0]["auth_password_file"].endswith("pager.auth_password")
    assert check_config(text).ok

    out = tmp_path / "alertmanager.yml"
    proc = run_cli("alerts", "generate", "-c", str(spec), "-o", str(out), "--secrets-dir", str(tmp_path / "s2"), env=env)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "s2" / "pager.api_key"
    assert written.read_text() == "og-secret-2"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert "og-secret-2" not in out.read_text()


def test_webhook_url_from_env_is_inlined_for_alertmanager_0_25(write) -> None:
    """Alertmanager 0.25 (Debian) has no webhook url_file: the variable's value is the only way."""
    spec = write("default_receiver: hook\nreceivers: [{name: hook, webhook: {url_env: HOOK}}]\n")
    config = alertmanager_config(load_spec(spec), Secrets(environ={"HOOK": "http://bot.internal/x"}))
    assert config["receivers"][0]["webhook_configs"] == [{"send_resolved": True, "url": "http://bot.internal/x"}]


def test_missing_env_secret_names_the_field_and_variable(write, tmp_path: Path) -> None:
    spec = write("default_receiver: p\nreceivers: [{name: p, pagerduty: {routing_key_env: NOPE_NOT_SET}}]\n")
    proc = run_cli("alerts", "generate", "-c", str(spec), "--secrets-dir", str(tmp_path), env={"NOPE_NOT_SET": ""})
    assert proc.returncode == 2
    assert "receivers[0].pagerduty[0].routing_key_env" in proc.stderr and "NOPE_NOT_SET" in proc.stderr


def test_env_secret_without_secrets_dir_is_refused(write) -> None:
    spec = write("default_receiver: p\nreceivers: [{name: p, opsgenie: {api_key_env: OG}}]\n")
    proc = run_cli("alerts", "generate", "-c", str(spec), env={"OG": "x"})
    assert proc.returncode == 2 and "--secrets-dir" in proc.stderr and "api_key_env" in proc.stderr


def test_every_accepted_time_interval_form_passes_amtool(write, amtool: str) -> None:
    spec = write(
        """
        default_receiver: r
        receivers: [{name: r, webhook: {url: 'http://127.0.0.1:9/'}}]
        time_intervals:
          odd-hours:
            - times: [{start_time: '00:00', end_time: '08:30'}, {start_time: '18:00', end_time: '24:00'}]
              weekdays: ['monday:friday', saturday]
              days_of_month: ['1:-1', '-3:-1', '15']
              months: ['january:march', '12', december]
              years: ['2024:2030']
              location: UTC
        routes:
          - {match: {severity: ticket}, receiver: r, mute_time_intervals: [odd-hours], timing: {group_wait: 1m}}
          - {labels: {cluster: [eu-1, eu-2]}, receiver: r, active_time_intervals: [odd-hours], group_by: ['...']}
        """
    )
    text = render(alertmanager_config(load_spec(spec)))
    result = check_config(text)
    assert result.ok, result.output
    routes = yaml.safe_load(text)["route"]["routes"]
    assert routes[1]["matchers"] == ['cluster=~"eu-1|eu-2"'] and routes[1]["group_by"] == ["..."]
