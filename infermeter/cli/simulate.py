"""``infermeter simulate``: a deterministic GPU inference fleet to try infermeter against."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer
import yaml
from aiohttp import web
from pydantic import ValidationError

from infermeter.cli.common import console, sigterm_as_exit
from infermeter.errors import ConfigError
from infermeter.simulator.fleet import FleetSpec, default_fleet


def load_fleet(path: Path | None, seed: int) -> FleetSpec:
    """The fleet from a YAML file (FleetSpec fields), or the demo fleet for ``seed``."""
    if path is None:
        return default_fleet(seed)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        return FleetSpec.model_validate({"seed": seed, **data})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc


def simulate_cmd(
    seed: int = typer.Option(7, "--seed", help="Same seed, same fleet and traffic."),
    fleet_file: Optional[Path] = typer.Option(None, "--fleet", help="Fleet YAML (FleetSpec); default: the demo fleet."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address for the /metrics pages."),
    port: int = typer.Option(9400, "--port", help="Port for the /metrics pages (0 picks one)."),
    otlp_endpoint: Optional[str] = typer.Option(
        None, "--otlp-endpoint", help="Send gateway spans here (e.g. http://127.0.0.1:9464/v1/traces)."
    ),
    usage_jsonl: Optional[Path] = typer.Option(None, "--usage-jsonl", help="Also append gateway usage as JSON lines."),
    tick_s: float = typer.Option(1.0, "--tick", min=0.05, help="Seconds between traffic steps."),
    duration_s: float = typer.Option(0.0, "--duration", min=0, help="Stop after this many seconds (0: until Ctrl-C)."),
    list_targets: bool = typer.Option(False, "--list-targets", help="Print the targets as JSON and exit."),
) -> None:
    """Serve simulated vLLM, Triton and DCGM /metrics pages and emit gateway traffic (OTLP GenAI spans)."""
    from infermeter.simulator.server import LiveSimulator

    fleet = load_fleet(fleet_file, seed)
    sim_gateway = None
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        from infermeter.simulator.gateway import Gateway

        sim_gateway = Gateway(fleet, OTLPSpanExporter(endpoint=otlp_endpoint))
    sim = LiveSimulator(fleet, gateway=sim_gateway, usage_jsonl=usage_jsonl, tick_s=tick_s)
    if list_targets:
        typer.echo(json.dumps([{"kind": t.kind, "name": t.name, "path": f"/metrics/{t.name}"} for t in sim.targets.all()]))
        return

    async def serve() -> None:
        runner = web.AppRunner(sim.app())
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1] if site._server else port  # type: ignore[union-attr]
        console.print(f"simulating {len(fleet.tenants)} tenants, {len(sim.targets.all())} targets on "
                      f"http://{host}:{bound}/targets" + (f"; spans to {otlp_endpoint}" if otlp_endpoint else ""))
        try:
            if duration_s:
                await asyncio.sleep(duration_s)
            else:
                await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with sigterm_as_exit():
        try:
            asyncio.run(serve())
        except KeyboardInterrupt:
            pass
    console.print(f"simulated {sim.requests} requests")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
