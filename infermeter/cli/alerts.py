"""``infermeter alerts``: routing spec -> Alertmanager configuration, tenant budget rules, and
route tests (which receiver a label set reaches; a synthetic alert to a running Alertmanager)."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
import yaml

from infermeter.alerts import conventions as c
from infermeter.alerts.alertmanager import check_config, post_alerts, synthetic_alert
from infermeter.alerts.budget import budget_rules, render_budget_rules
from infermeter.alerts.generate import Secrets, alertmanager_config, render
from infermeter.alerts.routes import reached
from infermeter.alerts.spec import RoutingSpec, load_spec
from infermeter.errors import EXIT_FAILURE, ConfigError
from infermeter.slo.durations import DurationError, parse_duration

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

_SPEC = typer.Option(..., "--config", "-c", help="Routing spec (YAML), e.g. examples/routing.yaml.", dir_okay=False)


def _write(out: str, text: str) -> None:
    if out == "-":
        sys.stdout.write(text)
        return
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write output: {exc.strerror or exc}") from None


def _write_secrets(files: dict[Path, str]) -> None:
    for path, value in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value)
            os.chmod(path, 0o600)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write secret file: {exc.strerror or exc}") from None


def _am_config(path: Path, spec: RoutingSpec, secrets: Secrets) -> dict[str, Any]:
    try:
        return alertmanager_config(spec, secrets)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@app.command()
def generate(
    config: Path = _SPEC,
    out: str = typer.Option("-", "--out", "-o", help="alertmanager.yml to write, or - for stdout."),
    secrets_dir: Path | None = typer.Option(
        None, "--secrets-dir", help="Where secrets given as *_env are written (mode 0600) and referenced as *_file."
    ),
    check: bool = typer.Option(False, "--check", help="Also run 'amtool check-config' on the result (exit 1 if it fails)."),
) -> None:
    """Generate a complete Alertmanager configuration from a routing spec."""
    spec = load_spec(config)
    secrets = Secrets(directory=secrets_dir)
    text = render(_am_config(config, spec, secrets), config.name)
    if check:
        try:
            result = check_config(text)
        except FileNotFoundError as exc:
            raise ConfigError(f"--check: {exc}") from None
        if not result.ok:
            typer.echo(result.output.strip(), err=True)
            raise typer.Exit(EXIT_FAILURE)
    _write_secrets(secrets.files)
    _write(out, text)
    if out != "-":
        teams = len(spec.teams)
        typer.echo(f"{out}: {len(spec.all_receivers())} receivers, {teams} teams, {len(spec.routes)} explicit routes", err=True)


@app.command("budget-rules")
def budget_rules_command(
    config: Path = _SPEC,
    out: str = typer.Option("-", "--out", "-o", help="Prometheus rule file to write, or - for stdout."),
) -> None:
    """Prometheus alert rules for tenant budgets (on infermeter_tenant_budget_used_ratio)."""
    spec = load_spec(config)
    _write(out, render_budget_rules(budget_rules(spec.tenant_budgets), config.name))


def _pairs(pairs: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what}: expected key=value, got {pair!r}")
        out[key] = value
    return out


# Friendly names accepted on the command line for the labels SLO alerts carry.
_FRIENDLY = {"service": c.LABEL_SERVICE, "severity": c.LABEL_SEVERITY, "slo": c.LABEL_SLO}


def _load_am_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or "route" not in data:
        raise ConfigError(f"{path}: not an Alertmanager configuration (no route)")
    return data


@app.command("test")
def test_command(
    labels: list[str] = typer.Argument(
        ..., help="Alert labels as key=value; service, severity and slo stand for sloth_service/_severity/_slo."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="Routing spec (YAML).", dir_okay=False),
    am_config: Path | None = typer.Option(
        None, "--alertmanager-config", help="A generated alertmanager.yml instead of the routing spec."
    ),
    expect: list[str] = typer.Option([], "--expect", help="Receiver(s) expected; exit 1 when they differ."),
    send: str | None = typer.Option(None, "--send", help="Alertmanager URL: also send this alert there (v2 API)."),
    annotation: list[str] = typer.Option([], "--annotation", "-a", help="k=v annotation of the sent alert (repeatable)."),
    duration: str = typer.Option("5m", "--duration", help="How long the sent alert fires (endsAt)."),
    resolve: bool = typer.Option(False, "--resolve", help="Send the alert as resolved (ends now)."),
) -> None:
    """Which receivers a label set reaches (as 'amtool config routes test'); --send posts it."""
    if (config is None) == (am_config is None):
        raise ConfigError("give exactly one of --config (routing spec) or --alertmanager-config")
    if config is not None:
        am = _am_config(config, load_spec(config), Secrets(placeholders=True))
    else:
        am = _load_am_config(am_config)  # type: ignore[arg-type]
    label_set = {_FRIENDLY.get(k, k): v for k, v in _pairs(labels, "labels").items()}
    found = reached(am, label_set)
    typer.echo("labels: " + ", ".join(f"{k}={v}" for k, v in label_set.items()))
    for route in found:
        path = " > ".join(route.path) or "(root: default receiver)"
        extra = f"; only during {', '.join(route.active_time_intervals)}" if route.active_time_intervals else ""
        extra += f"; muted during {', '.join(route.mute_time_intervals)}" if route.mute_time_intervals else ""
        typer.echo(f"{route.receiver}\t{path}; group_by {','.join(route.group_by)}{extra}")
    if send:
        try:
            span = timedelta(milliseconds=parse_duration(duration))
        except DurationError as exc:
            raise ConfigError(f"--duration: {exc}") from None
        annotations = {c.ANNOTATION_SUMMARY: "Synthetic alert sent by infermeter alerts test.", **_pairs(annotation, "--annotation")}
        alert = synthetic_alert({c.LABEL_ALERTNAME: "InfermeterSyntheticTest", **label_set}, annotations, span, resolve)
        post_alerts(send, [alert])
        typer.echo(f"{'resolved' if resolve else 'firing'} alert sent to {send.rstrip('/')}{c.ALERTS_API_PATH}")
    receivers = [r.receiver for r in found]
    if expect and sorted(expect) != sorted(receivers):
        typer.echo(f"expected {', '.join(expect)}, got {', '.join(receivers)}", err=True)
        raise typer.Exit(EXIT_FAILURE)
