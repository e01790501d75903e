"""``infermeter up``: the store's owner process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import typer

from infermeter.cli.common import ConfigOption, StoreOption, console, settings_from, sigterm_as_exit
from infermeter.ingest.schema_check import ensure_schema
from infermeter.ingest.runtime import open_writer
from infermeter.ingest.store import open_store
from infermeter.ingest.store.owner import OwnerAPI
from infermeter.ingest.store.url import parse_store_url


def up_cmd(
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
    ready_file: Optional[Path] = typer.Option(None, "--ready-file", help="Touch this file once serving (for scripts)."),
) -> None:
    """Run the all-in-one owner: hold the store, apply migrations and serve the local API until stopped."""
    settings = settings_from(config, store)
    parsed = parse_store_url(settings.store.url)
    stop = threading.Event()
    with sigterm_as_exit():
        st = open_store(settings, allow_remote=False)
        api = None
        writer = None
        try:
            ensure_schema(st, settings)
            writer = open_writer(settings, st, "owner")
            if parsed.kind == "chdb":
                api = OwnerAPI(st, parsed.path, settings.api.host, settings.api.port).start()
                console.print(f"holding {st.describe()}; local API on {api.url} (pid file {parsed.path})")
            else:
                console.print(f"using {st.describe()}")
            if ready_file:
                ready_file.write_text("ready\n")
            console.print("[dim]Ctrl-C or SIGTERM stops it.[/]")
            try:
                while not stop.wait(1.0):
                    pass
            except KeyboardInterrupt:
                pass
        finally:
            if writer is not None:
                writer.close()
            if api is not None:
                api.stop()
            st.close()
            console.print("stopped")


def register(app: typer.Typer) -> None:
    app.command("up")(up_cmd)
