"""Options and helpers shared by the commands."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infermeter.config import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

ConfigOption = typer.Option(
    None, "--config", "-c", help="YAML configuration file (default: $INFERMETER_CONFIG).", exists=False, dir_okay=False
)
StoreOption = typer.Option(None, "--store", help="Store URL, overriding the configuration (chdb://PATH or clickhouse://…).")


def settings_from(config: Path | None, store: str | None = None) -> Settings:
    overrides = {"store": {"url": store}} if store else {}
    return load_settings(config, **overrides)


def progress_bar(transient: bool = True) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
        disable=not err_console.is_terminal,
    )


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so ``finally`` blocks flush and spool."""
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):  # noqa: ARG001
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
