"""``infermeter ingest FILE --kind usage|allocation``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from infermeter.cli.common import ConfigOption, StoreOption, console, progress_bar, settings_from, sigterm_as_exit
from infermeter.errors import EXIT_FAILURE
from infermeter.ingest.jsonl import ingest_file
from infermeter.ingest.runtime import open_writer
from infermeter.ingest.store import open_store
from infermeter.ingest.schema_check import ensure_schema


def ingest_cmd(
    file: Path = typer.Argument(..., help="JSON lines file, one event per line."),
    kind: str = typer.Option(..., "--kind", "-k", help="usage (gateway requests) or allocation (GPU heartbeats)."),
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any line was quarantined."),
) -> None:
    """Store a JSON-lines file of events; bad lines go to the quarantine table with their line number."""
    settings = settings_from(config, store)
    with open_store(settings) as st, sigterm_as_exit():
        ensure_schema(st, settings)
        writer = open_writer(settings, st, "cli-ingest", background=False)
        try:
            with progress_bar() as bar:
                total = sum(1 for _ in file.open("rb")) if file.is_file() else 0
                task = bar.add_task(f"ingest {file.name}", total=total)
                result = ingest_file(file, kind, writer, progress=lambda n: bar.advance(task, n))
        finally:
            writer.close()
    spooled = len(writer.spool)
    console.print(
        f"{file}: {result.lines} lines, {result.stored} stored, {result.quarantined} quarantined"
        + (f", {spooled} batches spooled for replay" if spooled else "")
    )
    if strict and result.quarantined:
        raise typer.Exit(EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
