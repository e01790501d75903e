"""The ``infermeter`` console script: one Typer app with a sub-command per area.

Each area keeps its commands in its own module (``infermeter.cli.<area>``) exposing either a
``app`` (a Typer group, mounted under the area's name) or a ``register(root)`` function for
top-level commands. Modules are imported when the CLI starts; errors that derive from
:class:`InfermeterError` end the process with one line and the error's exit code.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape

from infermeter import __version__
from infermeter.errors import InfermeterError

app = typer.Typer(
    name="infermeter",
    help="Observability, SLOs and cost attribution for shared GPU inference fleets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# (module, group name or None for top-level commands, help)
_AREAS: tuple[tuple[str, str | None, str], ...] = (
    ("infermeter.cli.db", "db", "The ClickHouse store: migrations and queries."),
    ("infermeter.cli.ingest", None, ""),
    ("infermeter.cli.up", None, ""),
    ("infermeter.cli.exporter", "exporter", "The sidecar: scrape, parse and re-expose metrics."),
    ("infermeter.cli.slo", "slo", "SLO specs to Prometheus rules (Sloth-compatible) and validation."),
    ("infermeter.cli.alerts", "alerts", "On-call routing to Alertmanager configuration."),
    ("infermeter.cli.chargeback", "chargeback", "GPU and token cost attribution and reports."),
    ("infermeter.cli.dashboards", "dashboards", "Grafana dashboards as code."),
    ("infermeter.cli.portal", None, ""),
    ("infermeter.cli.simulate", None, ""),
    ("infermeter.cli.demo", None, ""),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"infermeter {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Observability, SLOs and cost attribution for shared GPU inference fleets."""


def _mount() -> None:
    for module_name, group, help_text in _AREAS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # area not built yet
                continue
            raise
        if hasattr(module, "register"):
            module.register(app)
        if group and hasattr(module, "app"):
            app.add_typer(module.app, name=group, help=help_text)


_mount()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and the error's exit code."""
    try:
        app(args=argv, standalone_mode=True)
    except InfermeterError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
