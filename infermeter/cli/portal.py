"""``infermeter portal``: the tenant-facing Dash portal (cost explorer, SLOs, reports, budgets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from infermeter.cli.common import ConfigOption, StoreOption, console, err_console, sigterm_as_exit
from infermeter.config import load_settings


def portal_cmd(
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default: portal.host, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", min=0, max=65535, help="Port (default: portal.port, 8050; 0 picks one)."),
) -> None:
    """Serve the portal: every page, callback and download checks who is asking (portal.auth)."""
    overrides: dict[str, Any] = {}
    if store:
        overrides["store"] = {"url": store}
    portal: dict[str, Any] = {}
    if host is not None:
        portal["host"] = host
    if port is not None:
        portal["port"] = port
    if portal:
        overrides["portal"] = portal
    settings = load_settings(config, **overrides)

    from infermeter.dashboards.portal.config import LOOPBACK_HOSTS
    from infermeter.dashboards.portal.server import serve

    cfg = settings.portal
    if cfg.auth.proxy.enabled and not cfg.auth.proxy.trusted_proxies and cfg.host not in LOOPBACK_HOSTS:
        err_console.print(
            "[yellow]warning:[/] portal.auth.proxy is enabled without trusted_proxies on a non-loopback "
            f"address ({cfg.host}): anyone who reaches it can claim any user with X-Forwarded-User",
            highlight=False,
        )
    from infermeter.ingest.schema_check import ensure_schema
    from infermeter.ingest.store import open_store

    with sigterm_as_exit(), open_store(settings) as st:
        ensure_schema(st, settings)
        serve(settings, st, announce=lambda url: console.print(f"portal on {url} ({st.describe()}); Ctrl-C stops it"))


def register(app: typer.Typer) -> None:
    app.command("portal")(portal_cmd)
