"""``infermeter exporter ...``: the sidecar's commands.

``infermeter exporter run -c exporter.yaml`` runs the sidecar (the ``exporter:`` section of the
configuration: targets, NVML, allocation heartbeats, gateway inputs) until SIGTERM or Ctrl-C, then
flushes what it holds to the store (or the spool). Exit codes: 0 stopped cleanly; 2 bad
configuration or the listen address cannot be bound.

``infermeter exporter parse FILE [--json]`` parses a Prometheus/OpenMetrics exposition page (a
saved ``/metrics`` response, or ``-`` for standard input) and prints its samples: as JSON lines
with ``--json`` (``NaN``, ``+Inf`` and ``-Inf`` as strings, so every line is valid JSON), as a
table otherwise. Malformed lines go to standard error as ``FILE:LINE: reason``.

Exit codes: 0 every line parsed; 1 some lines were malformed (the others are still printed);
2 the file is missing, unreadable or not UTF-8.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from infermeter.cli.common import ConfigOption, StoreOption, settings_from
from infermeter.errors import ConfigError
from infermeter.exporters.exposition import ParseResult, Sample, parse

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _exporter() -> None:
    """The sidecar: scrape, parse and re-expose metrics."""


@app.command("parse")
def parse_command(
    file: str = typer.Argument(..., help="Exposition page to parse; '-' reads standard input."),
    json_lines: bool = typer.Option(False, "--json", help="Print one JSON object per sample."),
    openmetrics: bool | None = typer.Option(
        None, "--openmetrics/--text", help="Force the format (default: OpenMetrics when the page ends with '# EOF')."
    ),
) -> None:
    """Parse an exposition page and print its samples."""
    source = "<stdin>" if file == "-" else file
    result = parse(read_page(file), openmetrics=openmetrics)
    if json_lines:
        if result.samples:
            typer.echo("\n".join(sample_json(sample) for sample in result.samples))
    else:
        print_table(result)
    for error in result.errors:
        typer.echo(f"{source}:{error.line_no}: {error.message}", err=True)
    if result.errors:
        raise typer.Exit(1)


@app.command("run")
def run_command(
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
    listen: Optional[str] = typer.Option(None, "--listen", help="host:port to serve on, overriding exporter.listen."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    ready_file: Optional[Path] = typer.Option(
        None, "--ready-file", help="Write the bound port here once serving (for scripts and tests)."
    ),
) -> None:
    """Run the sidecar: scrape targets, read NVML, send allocation heartbeats, receive gateway
    usage, serve /metrics, /healthz and /readyz; SIGTERM flushes (or spools) and stops."""
    from infermeter.exporters.config import split_listen

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise ConfigError(f"--log-level: unknown level {log_level!r}")
    settings = settings_from(config, store)
    cfg = settings.exporter
    if listen is not None:
        try:
            split_listen(listen)
        except ValueError as exc:
            raise ConfigError(f"--listen: {exc}") from None
        cfg = cfg.model_copy(update={"listen": listen})
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    asyncio.run(_serve(settings, cfg, ready_file))


async def _serve(settings: Any, cfg: Any, ready_file: Path | None) -> None:
    from infermeter.exporters.sidecar import Sidecar

    sidecar = Sidecar(settings, cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, sidecar.request_stop)
    try:
        await sidecar.start()
    except OSError as exc:
        await sidecar.stop()
        raise ConfigError(f"cannot listen on {cfg.listen}: {exc.strerror or exc}") from None
    if ready_file is not None:
        ready_file.write_text(f"{sidecar.port}\n")
    try:
        await sidecar.wait()
    finally:
        await sidecar.stop()


def read_page(file: str) -> str:
    """The page's text; ConfigError (exit 2) when it cannot be read or is not UTF-8."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, not an exposition page") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (invalid byte at offset {exc.start})") from None


def json_value(value: float) -> float | str:
    """A sample value for JSON: a number, or "NaN", "+Inf", "-Inf" as the exposition writes them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def sample_json(sample: Sample) -> str:
    """One JSON line: name, labels, value and timestamp_ms (integer milliseconds or null)."""
    record: dict[str, Any] = {
        "name": sample.name,
        "labels": sample.labels,
        "value": json_value(sample.value),
        "timestamp_ms": sample.timestamp_ms,
    }
    return json.dumps(record, ensure_ascii=False, allow_nan=False)


def print_table(result: ParseResult[Sample]) -> None:
    """A readable table of the samples, with each sample's family type, and a summary line."""
    table = Table(show_lines=False, header_style="bold")
    for column in ("name", "labels", "value", "timestamp_ms", "type"):
        right = column in ("value", "timestamp_ms")
        table.add_column(column, justify="right" if right else "left", overflow="fold", no_wrap=right)
    for sample in result.samples:
        labels = ", ".join(f'{key}="{value}"' for key, value in sample.labels.items())
        table.add_row(
            Text(sample.name),
            Text(labels),
            Text(str(json_value(sample.value))),
            Text("" if sample.timestamp_ms is None else str(sample.timestamp_ms)),
            Text(result.family_of(sample.name).type),
        )
    console = Console(soft_wrap=False)
    console.print(table)
    kind = "OpenMetrics" if result.openmetrics else "Prometheus text format"
    console.print(
        Text(
            f"{len(result.samples)} samples, {len(result.families)} families ({kind}), "
            f"{len(result.errors)} malformed lines"
        )
    )
