"""``infermeter demo``: the whole product on the embedded store, against a simulated fleet.

1. writes the inputs a platform team would (SLO specs, routing, prices, tenancy, sidecar config)
   from the simulated fleet, and an ``infermeter.yaml`` that ties them together;
2. generates the Prometheus rules, the Alertmanager configuration and the Grafana dashboards
   through the real commands;
3. backfills the last ``days`` of simulated history through the sidecar's own page processing;
4. runs the simulator and a sidecar that scrapes it over real HTTP and receives its OTLP spans;
5. runs chargeback for the last full month (and this month so far), writes its reports and the
   SLO report;
6. serves the portal (and, when installed, Prometheus and Alertmanager with the generated files)
   until Ctrl-C; ``--once`` checks the portal pages answer and exits instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infermeter.demo import configs
from infermeter.errors import InfermeterError
from infermeter.simulator.fleet import FleetSpec, default_fleet


@dataclass
class DemoOptions:
    workdir: Path
    seed: int = 7
    days: int = 35
    step_s: int = 3600
    once: bool = False
    live_s: float = 8.0
    scrape_interval_s: float = 2.0
    portal_port: int = 8050
    processes: bool = True  # start Prometheus/Alertmanager when installed (never with --once)


@dataclass
class DemoResult:
    files: dict[str, Path] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def last_full_month(today: dt.date) -> str:
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def cli(*args: str, ok: tuple[int, ...] = (0,)) -> int:
    """Run an infermeter command in this process (the same code path as the console script).

    Returns its exit code; a code outside ``ok`` is an error (click returns, rather than raises,
    the code of ``typer.Exit`` when it is not in standalone mode).
    """
    from typer.main import get_command

    from infermeter.cli.app import app

    code = get_command(app).main(list(args), standalone_mode=False) or 0
    if code not in ok:
        raise InfermeterError(f"infermeter {' '.join(args[:2])} exited with {code}")
    return code


def _dump(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


class Demo:
    def __init__(self, opts: DemoOptions, fleet: FleetSpec | None = None, say: Callable[[str], None] = print) -> None:
        self.opts = opts
        self.fleet = fleet or default_fleet(opts.seed)
        self.say = say
        self.result = DemoResult()
        w = opts.workdir.resolve()
        self.dirs = {"data": w / "data", "gen": w / "generated"}
        self.now = time.time() // 60 * 60
        self.sim_port = free_port()
        self.sidecar_port = free_port()
        self.webhook_port = free_port()

    # -- 1. inputs -------------------------------------------------------------------------------
    def write_inputs(self) -> Path:
        gen, fleet, f = self.dirs["gen"], self.fleet, self.result.files
        from infermeter.simulator.server import LiveSimulator

        self.targets = [{"kind": t.kind, "name": t.name, "path": f"/metrics/{t.name}"}
                        for t in LiveSimulator(fleet).targets.all()]
        start = dt.datetime.fromtimestamp(self.now - self.opts.days * 86400, dt.timezone.utc).date()
        f["slo specs"] = _dump(gen / "slo" / "inference.yaml", configs.slo_spec(fleet))
        f["routing"] = _dump(gen / "alerts" / "routing.yaml",
                             configs.routing(fleet, f"http://127.0.0.1:{self.webhook_port}/alerts"))
        f["prices"] = _dump(gen / "chargeback" / "prices.yaml", configs.prices(fleet, start.replace(day=1)))
        f["tenancy"] = _dump(gen / "chargeback" / "tenancy.yaml", configs.tenancy(fleet))
        exporter = configs.exporter(self.targets, f"http://127.0.0.1:{self.sim_port}", fleet,
                                    f"127.0.0.1:{self.sidecar_port}", self.opts.scrape_interval_s)
        settings = {
            "store": {"url": f"chdb://{self.dirs['data']}"},
            "chargeback": {"prices": str(f["prices"]), "tenancy": str(f["tenancy"])},
            "portal": {"host": "127.0.0.1", "port": self.opts.portal_port, "slo_specs": str(f["slo specs"]),
                       "auth": {"anonymous_admin": True}},
            "exporter": exporter,
        }
        f["config"] = _dump(self.opts.workdir.resolve() / "infermeter.yaml", settings)
        return f["config"]

    # -- 2. generators ---------------------------------------------------------------------------
    def generate(self) -> None:
        gen, f = self.dirs["gen"], self.result.files
        f["rules"] = gen / "rules" / "inference.yml"
        cli("slo", "generate", "-i", str(f["slo specs"]), "-o", str(f["rules"]),
            "--runbook-url", "https://runbooks.example.com/{service}/{slo}", "--dashboard-url", "http://localhost:3000")
        f["budget rules"] = gen / "rules" / "tenant-budgets.yml"
        cli("alerts", "budget-rules", "-c", str(f["routing"]), "-o", str(f["budget rules"]))
        f["alertmanager"] = gen / "alertmanager" / "alertmanager.yml"
        cli("alerts", "generate", "-c", str(f["routing"]), "-o", str(f["alertmanager"]))
        f["dashboards"] = gen / "grafana"
        cli("dashboards", "generate", "-o", str(f["dashboards"]), "-c", str(f["config"]),
            "--tenancy", str(f["tenancy"]))

    # -- 3. history ------------------------------------------------------------------------------
    def backfill(self, store, settings, progress: Callable[[float], None] | None = None) -> None:
        from infermeter.demo.backfill import backfill
        from infermeter.exporters.config import TargetConfig
        from infermeter.ingest.runtime import open_writer

        cfgs = {}
        for t in settings.exporter.targets:
            d = t.model_dump()
            d.update(interval_s=self.opts.step_s, timeout_s=5.0, jitter_s=0.0, max_page_bytes=settings.exporter.scrape.max_page_bytes)
            cfgs[t.name] = TargetConfig(**d)
        writer = open_writer(settings, store, "demo-backfill")
        try:
            end = self.now - self.now % self.opts.step_s
            stats = backfill(self.fleet, writer, end - self.opts.days * 86400, end, step_s=self.opts.step_s,
                             target_configs=cfgs, progress=progress)
        finally:
            writer.close()
        self.result.facts.update(usage_events=stats.usage_rows, heartbeats=stats.allocation_rows,
                                 pages=stats.pages, samples=stats.samples)

    # -- 4. live ---------------------------------------------------------------------------------
    async def live(self, settings, store, on_ready: Callable[[], Any] | None = None) -> None:
        """Simulator, sidecar and an alert webhook on loopback: ``live_s`` seconds, or, with
        ``on_ready``, until cancelled (Ctrl-C)."""
        from aiohttp import web
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        from infermeter.exporters.sidecar import Sidecar
        from infermeter.simulator.gateway import Gateway
        from infermeter.simulator.server import LiveSimulator

        alerts_log = self.dirs["gen"] / "alerts" / "received.jsonl"

        async def webhook(request: web.Request) -> web.Response:
            body = await request.text()
            with alerts_log.open("a", encoding="utf-8") as fh:
                fh.write(body.replace("\n", " ") + "\n")
            return web.Response(text="ok")

        gateway = Gateway(self.fleet, OTLPSpanExporter(endpoint=f"http://127.0.0.1:{self.sidecar_port}/v1/traces"))
        sim = LiveSimulator(self.fleet, gateway=gateway, tick_s=1.0)
        sim_app = sim.app()
        sim_app.router.add_post("/alerts", webhook)
        sim_runner = web.AppRunner(sim_app, access_log=None)
        await sim_runner.setup()
        await web.TCPSite(sim_runner, "127.0.0.1", self.sim_port).start()
        hook = web.Application()
        hook.router.add_post("/alerts", webhook)
        hook_runner = web.AppRunner(hook, access_log=None)
        await hook_runner.setup()
        await web.TCPSite(hook_runner, "127.0.0.1", self.webhook_port).start()
        sidecar = Sidecar(settings, store=store)
        await sidecar.start()
        sidecar.metrics.registry.register(self.budget_collector(store))
        self.result.urls.update(simulator=f"http://127.0.0.1:{self.sim_port}/targets",
                                sidecar=f"http://127.0.0.1:{self.sidecar_port}/metrics")
        try:
            if on_ready is None:
                await asyncio.sleep(self.opts.live_s)
            else:
                on_ready()
                await asyncio.Event().wait()
        finally:
            await sidecar.stop()
            await sim_runner.cleanup()
            await hook_runner.cleanup()
            self.result.facts["live requests"] = sim.requests

    def budget_collector(self, store):
        """Month-to-date spend against budgets on the sidecar's /metrics (the budget alert rules' input)."""
        from decimal import Decimal

        from infermeter.alerts.budget import TenantBudgetCollector
        from infermeter.alerts.spend import ledger_spend

        return TenantBudgetCollector(ledger_spend(store, {t.name: Decimal(f"{t.budget:.2f}") for t in self.fleet.tenants}))

    # -- 5. chargeback and reports ---------------------------------------------------------------
    def chargeback(self) -> None:
        f, gen = self.result.files, self.dirs["gen"]
        today = dt.datetime.fromtimestamp(self.now, dt.timezone.utc).date()
        month = last_full_month(today)
        self.result.facts["month"] = month
        config = str(f["config"])
        cli("chargeback", "run", "--month", month, "-c", config)
        cli("chargeback", "run", "--month", today.strftime("%Y-%m"), "-c", config)
        for fmt, ext in (("csv", "csv"), ("html", "html"), ("focus", "focus.csv"), ("json", "json")):
            path = gen / "reports" / f"chargeback-{month}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            cli("chargeback", "report", "--month", month, "--format", fmt, "-o", str(path), "-c", config,
                "--slo-specs", str(f["slo specs"]))
            f[f"chargeback {fmt}"] = path
        slo = gen / "reports" / f"slo-{month}.json"
        with slo.open("w", encoding="utf-8") as out, contextlib.redirect_stdout(out):
            # exit 1: some SLO missed its objective; the report is written all the same
            cli("slo", "report", "-i", str(f["slo specs"]), "--month", month, "--format", "json", "-c", config, ok=(0, 1))
        f["slo report"] = slo

    # -- 6. processes ----------------------------------------------------------------------------
    def start_processes(self) -> list[subprocess.Popen]:
        """Prometheus and Alertmanager with the generated files, when the binaries are installed."""
        procs: list[subprocess.Popen] = []
        prom_bin = shutil.which("prometheus")
        am_bin = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        f, gen = self.result.files, self.dirs["gen"]
        am_addr = None
        if am_bin:
            port = free_port()
            am_addr = f"127.0.0.1:{port}"
            procs.append(subprocess.Popen(
                [am_bin, f"--config.file={f['alertmanager']}", f"--storage.path={gen / 'alertmanager' / 'data'}",
                 f"--web.listen-address={am_addr}", "--cluster.listen-address="],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.result.urls["alertmanager"] = f"http://{am_addr}"
        if prom_bin:
            port = free_port()
            f["prometheus config"] = _dump(gen / "prometheus" / "prometheus.yml", configs.prometheus(
                f"127.0.0.1:{self.sidecar_port}", f"127.0.0.1:{self.sim_port}", self.targets, self.fleet,
                [str(f["rules"]), str(f["budget rules"])], am_addr))
            procs.append(subprocess.Popen(
                [prom_bin, f"--config.file={f['prometheus config']}", f"--storage.tsdb.path={gen / 'prometheus' / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.result.urls["prometheus"] = f"http://127.0.0.1:{port}"
        return procs

    def check_portal(self, settings, store) -> dict[str, int]:
        """Every portal page answers (the Flask test client, no socket)."""
        from infermeter.dashboards.portal.app import create_app

        app = create_app(settings, store)
        client = app.server.test_client()
        pages = ["/", "/tenants", "/slos", "/reports", "/budgets", f"/tenants/{self.fleet.tenants[0].name}"]
        return {p: client.get(p).status_code for p in pages}


def run(opts: DemoOptions, say: Callable[[str], None], progress_factory=None) -> DemoResult:
    """The whole demo; returns what it made (files, URLs, facts)."""
    from infermeter.config import load_settings
    from infermeter.ingest.schema_check import ensure_schema
    from infermeter.ingest.store import open_store

    demo = Demo(opts, say=say)
    config = demo.write_inputs()
    settings = load_settings(config)
    say(f"simulated fleet: {len(demo.fleet.tenants)} tenants, {len(demo.fleet.deployments)} deployments, "
        f"{sum(len(i.gpus) for i in demo.fleet.instances)} GPUs")
    demo.generate()
    say("generated SLO rules, Alertmanager configuration and Grafana dashboards")
    store = open_store(settings)
    ensure_schema(store, settings)
    total = opts.days * 86400
    if progress_factory is not None:
        with progress_factory() as bar:
            task = bar.add_task(f"backfill {opts.days} days", total=total)
            demo.backfill(store, settings, lambda done: bar.update(task, completed=done))
    else:
        demo.backfill(store, settings)
    say(f"backfilled {opts.days} days: {demo.result.facts['usage_events']:,} requests, "
        f"{demo.result.facts['samples']:,} samples")
    asyncio.run(demo.live(settings, store, None))
    say(f"live: the sidecar scraped the simulator over HTTP and received {demo.result.facts['live requests']} OTLP spans")
    demo.chargeback()
    say(f"chargeback for {demo.result.facts['month']} and this month; reports written")
    if opts.once:
        demo.result.facts["portal"] = demo.check_portal(settings, store)
        store.close()
        return demo.result

    procs = demo.start_processes() if opts.processes else []
    from infermeter.dashboards.portal.server import PortalServer

    portal = PortalServer(settings, store, port=opts.portal_port).start()
    demo.result.urls["portal"] = portal.url

    def ready() -> None:
        summary(demo.result, say)
        say("serving; Ctrl-C stops everything")

    try:
        asyncio.run(demo.live(settings, store, ready))
    except KeyboardInterrupt:
        pass
    finally:
        portal.stop()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        store.close()
    return demo.result


def summary(result: DemoResult, say: Callable[[str], None]) -> None:
    for name, url in result.urls.items():
        say(f"  {name:<16} {url}")
    for name, path in result.files.items():
        say(f"  {name:<16} {path}")
    for name, value in result.facts.items():
        say(f"  {name:<16} {value}")

