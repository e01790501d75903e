"""``infermeter slo``: SLO specs (Sloth, OpenSLO, infermeter) to Prometheus rules, and validation."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from infermeter import __version__
from infermeter.errors import EXIT_FAILURE, ConfigError
from infermeter.slo.issues import Issue
from infermeter.slo.render import Header
from infermeter.slo.service import Settings, generate_paths, validate_paths
from infermeter.slo.templates import TEMPLATES

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

_INPUT = typer.Option(..., "--input", "-i", help="Spec file, or a directory searched for *.yaml/*.yml specs.")
_PERIOD = typer.Option("30d", "--default-slo-period", help="SLO period for specs that do not set one.")
_WINDOWS = typer.Option(
    None, "--slo-period-windows-path", help="Directory of AlertWindows files (replaces the built-in 30d/28d tables)."
)
_LABELS = typer.Option([], "--extra-labels", "-l", help="k=v label added to every recording rule (repeatable).")
_STRICT = typer.Option(False, "--strict", help="Unknown spec keys are errors instead of warnings.")


def _labels(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--extra-labels: expected key=value, got {pair!r}")
        out[key] = value
    return out


def _warn(issues: list[Issue]) -> None:
    for issue in issues:
        typer.echo(f"warning: {issue}", err=True)


@app.command()
def generate(
    input: Path = _INPUT,
    out: str = typer.Option("-", "--out", "-o", help="Output file, directory (for a directory input) or - for stdout."),
    default_slo_period: str = _PERIOD,
    slo_period_windows_path: Path | None = _WINDOWS,
    extra_labels: list[str] = _LABELS,
    disable_recordings: bool = typer.Option(False, "--disable-recordings", help="Generate no recording rules."),
    disable_alerts: bool = typer.Option(False, "--disable-alerts", help="Generate no alerting rules."),
    strict: bool = _STRICT,
    tool_name: str = typer.Option("infermeter", "--tool-name", help="Generator name in the header (Sloth to match Sloth)."),
    tool_version: str = typer.Option(
        __version__, "--tool-version", help="Version in the header and the sloth_version label."
    ),
    tool_url: str = typer.Option("", "--tool-url", help="URL after the header's version (https://github.com/slok/sloth)."),
) -> None:
    """Generate Prometheus rules (SLI recordings, metadata, page and ticket alerts) from SLO specs."""
    settings = Settings(
        default_period=default_slo_period,
        windows_path=slo_period_windows_path,
        extra_labels=_labels(extra_labels),
        disable_recordings=disable_recordings,
        disable_alerts=disable_alerts,
        strict=strict,
        header=Header(tool_name, tool_version, tool_url),
    )
    target = None if out == "-" else Path(out)
    if input.is_dir() and target is not None:
        target.mkdir(parents=True, exist_ok=True)
    outputs, warnings = generate_paths(input, target, settings)
    _warn(warnings)
    for path, text in outputs.items():
        if str(path) == "-":
            sys.stdout.write(text)
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write output: {exc.strerror or exc}") from None


@app.command()
def validate(
    input: Path = _INPUT,
    default_slo_period: str = _PERIOD,
    slo_period_windows_path: Path | None = _WINDOWS,
    strict: bool = _STRICT,
    ignore_slo_duplicates: bool = typer.Option(
        False, "--ignore-slo-duplicates", help="Allow the same SLO ID (service + name) in several files."
    ),
    promtool: bool = typer.Option(False, "--promtool", help="Also run 'promtool check rules' on the generated rules."),
) -> None:
    """Check SLO specs; exit 1 when any is invalid, listing every problem (file, SLO, field)."""
    settings = Settings(default_period=default_slo_period, windows_path=slo_period_windows_path, strict=strict)
    report = validate_paths(input, settings, ignore_slo_duplicates, promtool)
    _warn(report.warnings)
    for issue in report.errors:
        typer.echo(f"error: {issue}", err=True)
    docs = len(report.documents)
    bad = len({i.source for i in report.errors})
    if report.ok:
        typer.echo(f"{docs} spec document(s) valid")
        return
    typer.echo(f"{bad} of {docs} spec document(s) invalid, {len(report.errors)} error(s)", err=True)
    raise typer.Exit(EXIT_FAILURE)


@app.command()
def templates() -> None:
    """List the built-in SLI templates a spec can use with ``template: NAME``."""
    width = max(len(name) for name in TEMPLATES)
    for name, template in TEMPLATES.items():
        params = ", ".join(template.params.model_fields)
        default = f" (default threshold {template.default_threshold:g}s)" if template.default_threshold else ""
        typer.echo(f"{name:<{width}}  {template.summary}{default}; params: {params}")
