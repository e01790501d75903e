"""``infermeter demo``: the whole product against a simulated fleet, on the embedded store."""

from __future__ import annotations

from pathlib import Path

import typer

from infermeter.cli.common import console, progress_bar, sigterm_as_exit


def demo_cmd(
    workdir: Path = typer.Option(Path("infermeter-demo"), "--dir", help="Where the store and generated files go."),
    once: bool = typer.Option(False, "--once", help="Do everything but serve, check the portal answers, then exit."),
    seed: int = typer.Option(7, "--seed", help="Simulator seed (same seed, same fleet and traffic)."),
    days: int = typer.Option(35, "--days", min=1, max=400, help="Days of history to backfill."),
    step_s: int = typer.Option(3600, "--step", min=60, help="Seconds between backfilled metric pages."),
    live_s: float = typer.Option(8.0, "--live", min=1, help="Seconds of live scraping with --once."),
    portal_port: int = typer.Option(8050, "--portal-port", min=0, max=65535, help="Portal port (0 picks one)."),
    no_processes: bool = typer.Option(False, "--no-processes", help="Do not start Prometheus and Alertmanager."),
) -> None:
    """Simulate a GPU fleet, backfill its history, generate rules/alerts/dashboards, run chargeback,
    serve the portal (and Prometheus/Alertmanager when installed) until Ctrl-C."""
    from infermeter.demo.run import DemoOptions, run, summary

    opts = DemoOptions(workdir=workdir, seed=seed, days=days, step_s=step_s, once=once, live_s=live_s,
                       portal_port=portal_port, processes=not no_processes)
    say = lambda text: console.print(text, highlight=False, markup=False)  # noqa: E731
    with sigterm_as_exit():
        result = run(opts, say, progress_factory=progress_bar)
    if once:
        summary(result, say)
        bad = {p: code for p, code in result.facts.get("portal", {}).items() if code != 200}
        if bad:
            console.print(f"portal pages did not answer: {bad}")
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
