"""``infermeter chargeback``: cost attribution runs, monthly reports and the efficiency view."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from infermeter.cli.common import ConfigOption, StoreOption, console, err_console, progress_bar, settings_from
from infermeter.errors import EXIT_FAILURE, ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


# --- runs (chargeback/runs, chargeback/engine*) -----------------------------------------------

RUN_HELP = (
    "Attribute a month's GPU-hours and tokens to tenants and write its ledger lines (docs/chargeback.md).\n\n"
    "Idempotent and versioned: each run of a month gets the next version, replaces the month's lines "
    "once it is complete and is recorded in chargeback_runs. Late events for an earlier month that was "
    "already billed become adjustment lines in this run.\n\n"
    "Exit codes: 0 done; 1 done but lines need a look (unknown tenants or deployments, usage without "
    "allocation) and --strict was given; 2 bad input (month, price catalog, tenancy, a month with no "
    "data, a closed month); 3 store unreachable."
)


def _chargeback_inputs(settings, prices: Path | None, tenancy: Path | None, idle_policy: str | None):
    from infermeter.chargeback.prices import load_prices
    from infermeter.chargeback.tenancy import load_tenancy

    section = settings.chargeback
    prices_path = prices or section.prices
    tenancy_path = tenancy or section.tenancy
    if prices_path is None:
        raise ConfigError("no price catalog: pass --prices FILE or set chargeback.prices in the configuration")
    if tenancy_path is None:
        raise ConfigError("no tenancy file: pass --tenancy FILE or set chargeback.tenancy in the configuration")
    if idle_policy is not None and idle_policy not in ("proportional", "owner", "separate"):
        raise ConfigError(f"--idle-policy must be proportional, owner or separate, not {idle_policy!r}")
    catalog = load_prices(prices_path)
    ten = load_tenancy(tenancy_path, weights=section.weights, idle_policy=idle_policy or section.idle_policy)
    return catalog, ten


@app.command("run", help=RUN_HELP)
def run_cmd(
    month: str = typer.Option(..., "--month", "-m", help="Calendar month YYYY-MM (UTC)."),
    prices: Optional[Path] = typer.Option(None, "--prices", help="Price catalog YAML (default: chargeback.prices)."),
    tenancy: Optional[Path] = typer.Option(None, "--tenancy", help="Tenancy YAML (default: chargeback.tenancy)."),
    idle_policy: Optional[str] = typer.Option(
        None, "--idle-policy", help="proportional, owner or separate (default: the configuration, then the tenancy file)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when lines need a look (unknown tenants, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as one JSON object."),
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
) -> None:
    import json

    from infermeter.chargeback.runs import month_bounds, run_month
    from infermeter.ingest.schema_check import ensure_schema
    from infermeter.ingest.store import open_store

    month_bounds(month)
    settings = settings_from(config, store)
    catalog, ten = _chargeback_inputs(settings, prices, tenancy, idle_policy)
    with progress_bar() as bar:
        task = bar.add_task(f"chargeback {month}", total=None)
        with open_store(settings) as st:
            ensure_schema(st, settings)
            result = run_month(
                st, month, catalog, ten, adjust_months=settings.chargeback.adjust_months,
                progress=lambda step: bar.update(task, description=f"chargeback {month}: {step}", advance=1),
            )
    if as_json:
        typer.echo(json.dumps({"run_id": result.run_id, **result.notes}, default=str, sort_keys=True))
    else:
        console.print(
            f"run [bold]{result.run_id}[/] (version {result.version}"
            + (f", supersedes {result.supersedes}" if result.supersedes else "")
            + f"): {result.lines:,} ledger lines, {result.usage_events:,} usage events, "
            f"total {result.total} {result.currency}",
            highlight=False,
        )
        if result.supersedes:
            console.print(
                f"  since {result.supersedes}: {result.late_events if result.late_events is not None else '?'} events ingested later, "
                f"cost change {result.cost_change} {result.currency}",
                highlight=False,
            )
        for m, amount in sorted(result.adjustments.items()):
            console.print(f"  adjustment for late events of {m}: {amount} {result.currency}", highlight=False)
    for issue, n in sorted(result.issues.items()):
        err_console.print(f"warning: {n:,} ledger lines flagged {issue}", highlight=False)
    if strict and result.issues:
        raise typer.Exit(EXIT_FAILURE)


@app.command("runs")
def runs_cmd(
    month: Optional[str] = typer.Option(None, "--month", "-m", help="Only this month (YYYY-MM)."),
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
) -> None:
    """The recorded chargeback runs: version, status, watermark, totals."""
    from rich.table import Table

    from infermeter.chargeback.runs import list_runs, month_bounds
    from infermeter.ingest.schema_check import ensure_schema
    from infermeter.ingest.store import open_store

    if month is not None:
        month_bounds(month)
    settings = settings_from(config, store)
    with open_store(settings) as st:
        ensure_schema(st, settings)
        runs = list_runs(st, month)
    t = Table("month", "version", "run id", "status", "finished", "usage watermark", "total", "lines")
    for r in runs:
        total = r.notes.get("total")
        t.add_row(
            r.month, str(r.version), r.run_id, r.status, str(r.finished_at or ""), str(r.usage_watermark or ""),
            f"{total} {r.notes.get('currency', '')}" if total else "", str(r.notes.get("lines", "")),
        )
    console.print(t)


# --- reports (chargeback/reports, chargeback/queries) ------------------------------------------

REPORT_HELP = (
    "A month's chargeback report from the ledger of its latest complete run: per tenant GPU-hours, "
    "tokens (input, cached, output), cost by deployment and model, cost per 1M tokens, idle share, "
    "budget used and SLO attainment (with --slo-specs).\n\n"
    "Formats: csv (the ledger lines of the month, per price), json (the whole report), html (tables and "
    "plotly charts, works offline), pdf (the HTML printed by headless Chromium) and focus (FOCUS 1.2 "
    "CSV, one row per line and day). csv, json and focus go to stdout unless -o is given; html and pdf "
    "to -o or chargeback-YYYY-MM[-TENANT].html/.pdf.\n\n"
    "Exit codes: 0 written; 1 no complete run for the month, or the tenant has no lines in it; "
    "2 bad input (month, format, tenancy file); 3 the store or the PDF renderer is unreachable."
)


def _budgets(settings, tenancy: Path | None):
    path = tenancy
    section = getattr(settings, "chargeback", None)
    if path is None and section is not None:
        path = getattr(section, "tenancy", None)
    if path is None:
        return None
    from infermeter.chargeback.tenancy import load_tenancy

    return load_tenancy(path).budgets()


def _write(data: bytes, out: Optional[Path], default_name: str | None) -> None:
    target = out if out is not None else (Path(default_name) if default_name else None)
    if target is None or str(target) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write ({exc.strerror})") from None
    err_console.print(f"wrote {target} ({len(data):,} bytes)", highlight=False)


@app.command("report", help=REPORT_HELP)
def report_cmd(
    month: str = typer.Option(..., "--month", "-m", help="Calendar month YYYY-MM (UTC)."),
    tenant: Optional[str] = typer.Option(None, "--tenant", "-t", help="Only this tenant (its data only)."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, json, html, pdf or focus."),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file ('-' for stdout)."),
    tenancy: Optional[Path] = typer.Option(
        None, "--tenancy", help="Tenancy YAML for budgets (default: chargeback.tenancy of the configuration)."
    ),
    slo_specs: Optional[Path] = typer.Option(
        None, "--slo-specs", help="SLO spec file or directory: adds each tenant's SLO attainment (else 'n/a')."
    ),
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
) -> None:
    from infermeter.chargeback import reports
    from infermeter.chargeback.queries import parse_month
    from infermeter.ingest.schema_check import ensure_schema
    from infermeter.ingest.store import open_store

    reports.check_format(fmt)
    period = parse_month(month)
    settings = settings_from(config, store)
    budgets = _budgets(settings, tenancy)
    with progress_bar() as bar:
        task = bar.add_task(f"report {period.label}", total=2)
        with open_store(settings) as st:
            ensure_schema(st, settings)
            report = reports.build_report(
                st, period, tenant, budgets=budgets, slo_specs=slo_specs, daily_lines=(fmt == "focus")
            )
        bar.advance(task)
        data = reports.render(report, fmt)
        bar.advance(task)
    default_name = None
    if fmt in ("html", "pdf"):
        default_name = f"chargeback-{period.label}" + (f"-{tenant}" if tenant else "") + f".{reports.EXTENSIONS[fmt]}"
    _write(data, out, default_name)


# --- efficiency view --------------------------------------------------------------------------

EFFICIENCY_HELP = (
    "Per deployment: GPU-seconds held (allocation heartbeats) against GPU-seconds busy (DCGM "
    "graphics-engine activity or GPU utilisation, per GPU and minute), the cost of the idle part, and "
    "cost per 1M tokens, so platform owners see where GPUs are wasted. Costs come from the month's "
    "latest complete chargeback run (blank without one).\n\n"
    "Exit codes: 0 shown; 1 no allocation heartbeats in the month; 2 bad input; 3 store unreachable."
)


@app.command("efficiency", help=EFFICIENCY_HELP)
def efficiency_cmd(
    month: str = typer.Option(..., "--month", "-m", help="Calendar month YYYY-MM (UTC)."),
    deployment: Optional[str] = typer.Option(None, "--deployment", "-d", help="Only this deployment."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (csv/json; default stdout)."),
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
) -> None:
    from infermeter.chargeback.queries import efficiency, parse_month
    from infermeter.chargeback.reports.efficiency import render_efficiency_csv, render_efficiency_json, efficiency_table
    from infermeter.ingest.schema_check import ensure_schema
    from infermeter.ingest.store import open_store

    if fmt not in ("table", "csv", "json"):
        raise ConfigError(f"--format must be table, csv or json, not {fmt!r}")
    period = parse_month(month)
    settings = settings_from(config, store)
    with open_store(settings) as st:
        ensure_schema(st, settings)
        rows = efficiency(st, period, deployment)
    rows = [r for r in rows if r.held_gpu_seconds > 0 or (r.cost or 0) > 0]
    if not rows:
        what = f"deployment {deployment!r}" if deployment else "any deployment"
        err_console.print(f"error: no GPU allocation heartbeats for {what} in {period.label}", highlight=False)
        raise typer.Exit(EXIT_FAILURE)
    if fmt == "table":
        console.print(efficiency_table(rows, period.label))
    elif fmt == "csv":
        _write(render_efficiency_csv(rows), out, None)
    else:
        _write(render_efficiency_json(rows, period.label), out, None)
