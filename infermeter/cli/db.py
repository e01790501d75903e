"""``infermeter db``: migrations and ad-hoc queries."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from infermeter.cli.common import ConfigOption, StoreOption, console, settings_from
from infermeter.errors import ConfigError
from infermeter.ingest.migrate import migrate, render_all
from infermeter.ingest.schema_check import render_options
from infermeter.ingest.store import open_store

app = typer.Typer(no_args_is_help=True, help="The ClickHouse store: migrations and queries.")


@app.command("migrate")
def migrate_cmd(
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Render for a cluster: ON CLUSTER, Replicated*, Distributed."),
    print_only: bool = typer.Option(False, "--print", help="Print the rendered SQL instead of applying it."),
) -> None:
    """Create the database and apply the missing migrations (safe to run twice)."""
    settings = settings_from(config, store)
    opts = render_options(settings)
    if cluster:
        opts = type(opts)(database=opts.database, cluster=cluster, ttl_days=opts.ttl_days)
    if print_only:
        for migration, statements in render_all(opts):
            typer.echo(f"-- migration {migration.version:04d}_{migration.name}")
            for stmt in statements:
                typer.echo(stmt + ";\n")
        return
    with open_store(settings) as st:
        applied = migrate(st, opts)
        if applied:
            for m in applied:
                console.print(f"applied {m.version:04d}_{m.name}")
        else:
            console.print("schema is up to date")
        console.print(f"[dim]{st.describe()}[/]")


def _render(table, fmt: str) -> str:
    names = table.column_names
    rows = [tuple(col[i].as_py() for col in table.columns) for i in range(table.num_rows)]
    if fmt == "json":
        return "".join(json.dumps(dict(zip(names, r)), default=str) + "\n" for r in rows)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        w.writerows(rows)
        return buf.getvalue()
    raise ConfigError(f"unknown format {fmt!r}")


@app.command("query")
def query_cmd(
    sql: str = typer.Argument(..., help="The SQL; use {name:Type} placeholders with --param name=value."),
    param: list[str] = typer.Option([], "--param", "-p", help="Query parameter name=value (repeatable)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json (one object per line)."),
    config: Optional[Path] = ConfigOption,
    store: Optional[str] = StoreOption,
) -> None:
    """Run a query on the store (directly, or through the owner process when it holds the store)."""
    if fmt not in ("table", "csv", "json"):
        raise ConfigError(f"--format must be table, csv or json, not {fmt!r}")
    params = {}
    for item in param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: expected name=value")
        params[name] = value
    settings = settings_from(config, store)
    with open_store(settings) as st:
        result = st.query_arrow(sql, params or None)
    if fmt == "table":
        t = Table(*result.column_names, show_lines=False)
        for i in range(result.num_rows):
            t.add_row(*(str(col[i].as_py()) for col in result.columns))
        console.print(t)
    else:
        sys.stdout.write(_render(result, fmt))


@app.command("status")
def status_cmd(config: Optional[Path] = ConfigOption, store: Optional[str] = StoreOption) -> None:
    """Tables, rows and bytes on disk, and which migrations are applied."""
    settings = settings_from(config, store)
    with open_store(settings) as st:
        print_status(st)


def print_status(st) -> None:
    rows = st.query_rows(
        "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE active AND database = {d:String} "
        "GROUP BY table ORDER BY table",
        {"d": st.database},
    )
    tables = st.query_rows(
        "SELECT name, engine FROM system.tables WHERE database = {d:String} ORDER BY name", {"d": st.database}
    )
    sizes = {r[0]: (r[1], r[2]) for r in rows}
    t = Table("table", "engine", "rows", "bytes", title=st.describe())
    for name, engine in tables:
        n, b = sizes.get(name, (0, 0))
        t.add_row(name, engine, f"{n:,}", f"{b:,}")
    console.print(t)
