"""The live simulator: serves every simulated ``/metrics`` page over HTTP and drives the gateway.

``GET /targets`` lists the pages (kind, name, URL path) for scrape configuration;
``GET /metrics/<target>`` serves one page; ``GET /healthz`` answers ok. Every ``tick_s`` the
requests that started since the last tick advance the pages and become OTLP spans and/or JSON
lines, so the sidecar sees the same traffic through every input.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from aiohttp import web

from infermeter.simulator.fleet import FleetSpec
from infermeter.simulator.gateway import Gateway
from infermeter.simulator.history import usage_table
from infermeter.simulator.targets import FleetTargets
from infermeter.simulator.traffic import requests_between

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class LiveSimulator:
    def __init__(self, fleet: FleetSpec, *, gateway: Gateway | None = None, usage_jsonl: Path | None = None,
                 tick_s: float = 1.0) -> None:
        self.fleet = fleet
        self.targets = FleetTargets.build(fleet)
        self.by_name = {t.name: t for t in self.targets.all()}
        self.gateway = gateway
        self.usage_jsonl = usage_jsonl
        self.tick_s = tick_s
        self.last = time.time()
        self.requests = 0

    def tick(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        window = requests_between(self.fleet, self.last, now)
        self.targets.observe(window, max(now - self.last, 1e-3), now)
        if self.gateway is not None and len(window):
            self.gateway.emit(window)
        if self.usage_jsonl is not None and len(window):
            rows = usage_table(self.fleet, window).to_pylist()
            with self.usage_jsonl.open("a", encoding="utf-8") as fh:
                for row in rows:
                    row["ts"] = row["ts"].isoformat() + "Z"
                    row["attributes"] = dict(row["attributes"])
                    fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        self.last = now
        self.requests += len(window)
        return len(window)

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([
            web.get("/targets", self._targets),
            web.get("/metrics/{name}", self._metrics),
            web.get("/healthz", self._health),
        ])
        app.cleanup_ctx.append(self._loop)
        return app

    async def _loop(self, app: web.Application):
        async def run() -> None:
            while True:
                await asyncio.sleep(self.tick_s)
                self.tick()

        task = asyncio.create_task(run())
        yield
        task.cancel()
        if self.gateway is not None:
            await asyncio.to_thread(self.gateway.shutdown)

    async def _targets(self, request: web.Request) -> web.Response:
        return web.json_response([{"kind": t.kind, "name": t.name, "path": f"/metrics/{t.name}"} for t in self.targets.all()])

    async def _metrics(self, request: web.Request) -> web.Response:
        target = self.by_name.get(request.match_info["name"])
        if target is None:
            raise web.HTTPNotFound(text=f"no simulated target {request.match_info['name']!r}; see /targets")
        return web.Response(body=target.render(), headers={"Content-Type": CONTENT_TYPE})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")
