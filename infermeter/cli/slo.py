"""``infermeter slo``: SLO specs (Sloth, OpenSLO, infermeter) to Prometheus rules, and validation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from infermeter import __version__
from infermeter.cli.common import ConfigOption, StoreOption, console, progress_bar, settings_from
from infermeter.alerts.context import AlertContext
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
    runbook_url: str | None = typer.Option(
        None, "--runbook-url", help="Alert context: runbook_url annotation ({service}, {slo}, {id}, {severity} filled)."
    ),
    dashboard_url: str | None = typer.Option(
        None, "--dashboard-url", help="Alert context: Grafana base URL for the SLO dashboard link (dashboard_url)."
    ),
) -> None:
    """Generate Prometheus rules (SLI recordings, metadata, page and ticket alerts) from SLO specs.

    With --runbook-url or --dashboard-url, alerts also get a summary with burn rate and budget left.
    """
    settings = Settings(
        default_period=default_slo_period,
        windows_path=slo_period_windows_path,
        extra_labels=_labels(extra_labels),
        disable_recordings=disable_recordings,
        disable_alerts=disable_alerts,
        strict=strict,
        header=Header(tool_name, tool_version, tool_url),
        annotate=AlertContext(runbook_url, dashboard_url) if runbook_url or dashboard_url else None,
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


_FORMATS = ("table", "json", "csv")
REPORT_HELP = (
    "SLO attainment from the store: per SLO and per group (tenant), the SLI, the objective, the error budget "
    "consumed and left, over a calendar month (--month, default: this month so far) or a rolling --window."
    "\n\n"
    "Events are the increases of the counters that the SLI queries select (sums of the stored, reset-aware "
    "sample deltas, from the hourly and minute rollups where they give the same answer) or, for the gateway "
    "templates, the usage events (read with FINAL: a duplicate event counts once). Supported SLI queries: "
    "sum \\[by (labels)] (rate|increase(selector\\[{{.window}}])) terms joined by + and - (optionally "
    "'or vector(0)'); raw SLIs 'A / B' or '1 - (A / B)' of such sums."
    "\n\n"
    "Exit codes: 0 every SLO met its objective (or had no traffic); 1 some SLO missed its objective; "
    "2 bad input (options, specs, an unsupported SLI query); 3 the store is unreachable or not migrated."
)


@app.command(help=REPORT_HELP)
def report(
    input: Path = _INPUT,
    month: Optional[str] = typer.Option(None, "--month", help="Calendar month YYYY-MM (UTC); the current month ends now."),
    window: Optional[str] = typer.Option(
        None, "--window", help="Rolling window instead of a month (a duration such as 30d), ending at --end."
    ),
    end: Optional[str] = typer.Option(
        None, "--end", help="End of --window: ISO 8601 (UTC when naive) or epoch seconds (default: now)."
    ),
    source: str = typer.Option(
        "auto", "--source",
        help="auto: usage events for the gateway templates, stored samples for the rest; samples; usage.",
    ),
    rollups: bool = typer.Option(
        True, "--rollups/--no-rollups", help="Read whole hours and minutes from samples_1h/samples_1m (same answer)."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    skip_unsupported: bool = typer.Option(
        False, "--skip-unsupported", help="Report the other SLOs when an SLI's query shape is not supported."
    ),
    default_slo_period: str = _PERIOD,
    slo_period_windows_path: Path | None = _WINDOWS,
    strict: bool = _STRICT,
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
) -> None:
    """SLO attainment from the store (see REPORT_HELP)."""
    import datetime as dt

    from infermeter.ingest.store import open_store
    from infermeter.slo.report import MISSED, build_report, load_slos
    from infermeter.slo.report_format import to_csv, to_json
    from infermeter.slo.report_plan import Source, month_window, parse_time, plan_report, rolling_window

    if fmt not in _FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(_FORMATS)}, not {fmt!r}")
    try:
        src = Source(source)
    except ValueError:
        raise ConfigError(f"--source must be auto, samples or usage, not {source!r}") from None
    if month and window:
        raise ConfigError("--month and --window are exclusive")
    if end and not window:
        raise ConfigError("--end needs --window")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    if window:
        span = rolling_window(window, parse_time(end) if end else now)
    else:
        span = month_window(month or now.strftime("%Y-%m"), now)
    settings = Settings(default_period=default_slo_period, windows_path=slo_period_windows_path, strict=strict)
    app_settings = settings_from(config, store)
    with progress_bar() as bar:
        task = bar.add_task("SLO report", total=3)
        slos, warnings = load_slos(input, settings)
        _warn(warnings)
        plan, skipped = plan_report(slos, span, src, rollups, skip_unsupported)
        for s in skipped:
            typer.echo(f"warning: {s.source}: SLO {s.slo.name!r}: skipped: {s.reason}", err=True)
        bar.advance(task)
        with open_store(app_settings) as st:
            bar.advance(task)
            result = build_report(st, plan, skipped)
        bar.advance(task)
    if fmt == "json":
        sys.stdout.write(to_json(result))
    elif fmt == "csv":
        sys.stdout.write(to_csv(result))
    else:
        _print_report(result)
    if any(r.status == MISSED for r in result.rows):
        raise typer.Exit(EXIT_FAILURE)


def _print_report(result) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from infermeter.slo.report import MET, MISSED
    from infermeter.slo.report_format import fmt_events, fmt_pct

    title = f"SLO report {result.window} ({result.window_start} to {result.window_end})"
    table = Table(title=title, show_lines=False)
    for name, justify in (("SLO", "left"), ("group", "left"), ("source", "left"), ("objective", "right"),
                          ("SLI", "right"), ("events", "right"), ("errors", "right"),
                          ("budget used", "right"), ("budget left", "right"), ("status", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    styles = {MET: "green", MISSED: "bold red"}
    for r in result.rows:
        table.add_row(
            escape(r.slo_id), escape(r.group_text) or "-", r.source, f"{r.objective:g}%",
            fmt_pct(None if r.sli is None else r.sli * 100),
            fmt_events(r.total), fmt_events(r.errors),
            fmt_pct(None if r.budget_consumed is None else r.budget_consumed * 100, 1),
            fmt_pct(None if r.budget_remaining is None else r.budget_remaining * 100, 1),
            f"[{styles.get(r.status, 'dim')}]{r.status}[/]",
        )
    out = console if console.is_terminal else Console(width=max(160, console.width))
    out.print(table)
    missed = sum(1 for r in result.rows if r.status == MISSED)
    out.print(f"{len(result.rows)} row(s), {missed} missed" + (f", {len(result.skipped)} SLO(s) skipped" if result.skipped else ""))
