"""``infermeter up``: the all-in-one owner process.

It holds the store (migrations, and for chdb the local API other commands go through), and, as the
configuration asks, runs the sidecar (scrapers, NVML, allocation heartbeats, gateway receivers,
``/metrics`` with the tenant budget gauges) and serves the portal, in one process, until SIGTERM
or Ctrl-C; then the sidecar flushes (or spools) and everything stops.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any, Optional

import typer

from infermeter.cli.common import ConfigOption, StoreOption, console, settings_from
from infermeter.errors import ConfigError
from infermeter.ingest.runtime import open_writer
from infermeter.ingest.schema_check import ensure_schema
from infermeter.ingest.store import open_store
from infermeter.ingest.store.owner import OwnerAPI
from infermeter.ingest.store.url import parse_store_url


def _wants_exporter(settings: Any) -> bool:
    """The configuration has an ``exporter`` section (in the file or the environment)."""
    return "exporter" in settings.model_fields_set


def _wants_portal(settings: Any) -> bool:
    """The configuration has a ``portal`` section (in the file or the environment)."""
    return "portal" in settings.model_fields_set


def up_cmd(
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
    exporter: Optional[bool] = typer.Option(
        None, "--exporter/--no-exporter",
        help="Run the sidecar in this process. Default: when the configuration has an `exporter` section.",
    ),
    portal: Optional[bool] = typer.Option(
        None, "--portal/--no-portal", help="Serve the portal. Default: when the configuration has a `portal` section."
    ),
    ready_file: Optional[Path] = typer.Option(None, "--ready-file", help="Touch this file once serving (for scripts)."),
) -> None:
    """Run the all-in-one owner: hold the store, apply migrations, serve the local API and, as
    configured, the sidecar and the portal, until stopped (SIGTERM or Ctrl-C: flush, then exit 0)."""
    settings = settings_from(config, store)
    run_exporter = _wants_exporter(settings) if exporter is None else exporter
    run_portal = _wants_portal(settings) if portal is None else portal
    try:
        asyncio.run(_serve(settings, run_exporter, run_portal, ready_file))
    except KeyboardInterrupt:
        pass
    console.print("stopped")


async def _serve(settings: Any, run_exporter: bool, run_portal: bool, ready_file: Path | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parsed = parse_store_url(settings.store.url)
    st = open_store(settings, allow_remote=False)
    api = writer = sidecar = portal = None
    try:
        ensure_schema(st, settings)
        writer = open_writer(settings, st, "owner")
        if parsed.kind == "chdb":
            api = OwnerAPI(st, parsed.path, settings.api.host, settings.api.port).start()
            console.print(f"holding {st.describe()}; local API on {api.url} (pid file {parsed.path})")
        else:
            console.print(f"using {st.describe()}")
        if run_exporter:
            sidecar = await _start_sidecar(settings, st)
            console.print(f"sidecar: /metrics on http://{settings.exporter.listen.rsplit(':', 1)[0]}:{sidecar.port}/metrics, "
                          f"{len(settings.exporter.targets)} target(s)")
        if run_portal:
            from infermeter.dashboards.portal.server import PortalServer

            portal = PortalServer(settings, st).start()
            console.print(f"portal: {portal.url}")
        if ready_file:
            ready_file.write_text("ready\n")
        console.print("[dim]Ctrl-C or SIGTERM stops it.[/]")
        waits = [asyncio.ensure_future(stop.wait())]
        if sidecar is not None:
            waits.append(asyncio.ensure_future(sidecar.wait()))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
    finally:
        if sidecar is not None:
            await sidecar.stop()
        if portal is not None:
            portal.stop()
        if writer is not None:
            writer.close()
        if api is not None:
            api.stop()
        st.close()


async def _start_sidecar(settings: Any, st: Any):
    from infermeter.alerts.budget import TenantBudgetCollector
    from infermeter.alerts.spend import ledger_spend, tenancy_budgets
    from infermeter.exporters.sidecar import Sidecar

    sidecar = Sidecar(settings, store=st)
    try:
        await sidecar.start()
    except OSError as exc:
        await sidecar.stop()
        raise ConfigError(f"cannot listen on {settings.exporter.listen}: {exc.strerror or exc}") from None
    if settings.chargeback.tenancy is not None:
        budgets = tenancy_budgets(settings.chargeback.tenancy)
        if budgets:
            sidecar.metrics.registry.register(TenantBudgetCollector(ledger_spend(st, budgets)))
    return sidecar


def register(app: typer.Typer) -> None:
    app.command("up")(up_cmd)
