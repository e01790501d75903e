"""``infermeter dashboards``: Grafana dashboards as code and their provisioning files."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer
from pydantic import ValidationError

from infermeter.cli.common import ConfigOption, StoreOption, console, settings_from
from infermeter.config import format_validation_error
from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana.generate import DashboardOptions, write
from infermeter.dashboards.grafana.provisioning import ClickHouseConnection, ProvisioningOptions
from infermeter.errors import ConfigError
from infermeter.ingest.store.url import parse_store_url

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _clickhouse(url: str | None, store_url: str, database: str, protocol: str | None) -> tuple[ClickHouseConnection, str]:
    """The ClickHouse Grafana should query: --clickhouse-url, else the store's server, else a default."""
    note = ""
    parsed = parse_store_url(url or store_url)
    if parsed.kind == "chdb":
        if url:
            raise ConfigError(f"--clickhouse-url: Grafana needs a ClickHouse server, not {url!r}")
        parsed = parse_store_url("clickhouse://default@localhost:8123")
        note = ("the store is embedded (chdb): the ClickHouse datasource points at localhost:8123; "
                "give --clickhouse-url for the server Grafana should query")
    if parsed.password:
        note = "the password in the URL is not written: Grafana reads it from $INFERMETER_CLICKHOUSE_PASSWORD"
    proto = protocol or "http"
    port = parsed.port
    if proto == "native" and port in (8123, 8443):
        port = 9440 if parsed.secure else 9000
    conn = ClickHouseConnection(
        host=parsed.host, port=port, protocol=proto, secure=parsed.secure, username=parsed.username,
        database=parsed.database or database,
    )
    return conn, note


def _budgets(tenancy: Path | None, pairs: list[str]) -> dict[str, Decimal]:
    budgets: dict[str, Decimal] = {}
    if tenancy is not None:
        from infermeter.chargeback.tenancy import load_tenancy

        budgets.update(load_tenancy(tenancy).budgets())
    for pair in pairs:
        tenant, sep, amount = pair.partition("=")
        try:
            if not sep or not tenant:
                raise InvalidOperation
            budgets[tenant] = Decimal(amount)
        except InvalidOperation:
            raise ConfigError(f"--budget: expected TENANT=AMOUNT (e.g. acme=2500), got {pair!r}") from None
    return budgets


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Directory for dashboards/*.json and provisioning/**.", file_okay=False),
    config: Path | None = ConfigOption,
    store: str | None = StoreOption,
    prometheus_url: str = typer.Option("http://localhost:9090", "--prometheus-url", help="Prometheus as Grafana reaches it."),
    scrape_interval: str = typer.Option(c.DEFAULT_SCRAPE_INTERVAL, "--scrape-interval", help="Prometheus scrape interval ($__rate_interval)."),
    clickhouse_url: str | None = typer.Option(
        None, "--clickhouse-url", help="ClickHouse as Grafana reaches it (clickhouse://user@host:port/db); default: the store's server."
    ),
    clickhouse_protocol: str = typer.Option("http", "--clickhouse-protocol", help="http or native."),
    dashboards_path: str = typer.Option(
        "/var/lib/grafana/dashboards/infermeter", "--dashboards-path",
        help="Where Grafana finds the dashboard JSON files (the provider's path).",
    ),
    currency: str = typer.Option("USD", "--currency", help="Currency of the ledger (ISO code) for money units."),
    tenancy: Path | None = typer.Option(None, "--tenancy", help="Tenancy YAML: tenants' monthly budgets.", dir_okay=False),
    budget: list[str] = typer.Option([], "--budget", help="TENANT=AMOUNT monthly budget (repeatable; wins over --tenancy)."),
) -> None:
    """Generate the Grafana dashboards (fleet, serving, GPUs, SLOs, tenant cost) and provisioning files."""
    settings = settings_from(config, store)
    if clickhouse_protocol not in ("http", "native"):
        raise ConfigError(f"--clickhouse-protocol: expected http or native, got {clickhouse_protocol!r}")
    conn, note = _clickhouse(clickhouse_url, settings.store.url, settings.store.database, clickhouse_protocol)
    try:
        opts = DashboardOptions(
            currency=currency,
            budgets=_budgets(tenancy, budget),
            provisioning=ProvisioningOptions(
                prometheus_url=prometheus_url, scrape_interval=scrape_interval, clickhouse=conn,
                dashboards_path=dashboards_path,
            ),
        )
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "dashboards generate")) from None
    written = write(out, opts)
    for path in written:
        console.print(str(path), highlight=False)
    if note:
        console.print(f"note: {note}", highlight=False, style="yellow")


@app.command("list")
def list_dashboards() -> None:
    """List the dashboards: uid and title."""
    for uid, title in c.TITLES.items():
        typer.echo(f"{uid}\t{title}")
