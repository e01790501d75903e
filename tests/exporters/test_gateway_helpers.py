"""Shared pieces of the gateway tests: a real aiohttp server on loopback, a wired sink, HTTP posts.

No tests here; the gateway test modules import these.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from infermeter.exporters.gateway import GatewayConfig, gateway_routes, make_sink
from infermeter.exporters.gateway.sink import UsageSink
from infermeter.ingest.runtime import open_writer
from infermeter.ingest.writer import Writer


class ServerThread:
    """An aiohttp application on 127.0.0.1 (a free port), served by its own event loop thread."""

    def __init__(self, routes: list[web.RouteDef], *, auto_decompress: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="gateway-test-server", daemon=True)
        self.thread.start()

        async def start():
            app = web.Application()
            app.add_routes(routes)
            runner = web.AppRunner(app, auto_decompress=auto_decompress)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return runner, runner.addresses[0][1]

        self.runner, self.port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Gateway:
    config: GatewayConfig
    writer: Writer
    sink: UsageSink
    registry: CollectorRegistry
    server: ServerThread
    store: object

    @property
    def url(self) -> str:
        return self.server.url

    def flush(self) -> None:
        self.writer.flush()

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def start_gateway(store, settings_for, *, auto_decompress: bool = False, **config) -> Gateway:
    cfg = GatewayConfig.model_validate(config)
    writer = open_writer(settings_for(store.database), store, "gateway", background=False)
    registry = CollectorRegistry()
    sink = make_sink(cfg, writer, registry)
    server = ServerThread(gateway_routes(cfg, sink), auto_decompress=auto_decompress)
    return Gateway(cfg, writer, sink, registry, server, store)


def stop_gateway(gw: Gateway) -> None:
    gw.server.close()
    gw.writer.close()


def post(url: str, body: bytes, content_type: str, *, gzip_body: bool = False, headers: dict | None = None):
    """(status, content type, body) of a POST; HTTP errors are answers too."""
    hdrs = {"Content-Type": content_type, **(headers or {})}
    if gzip_body:
        body = gzip.compress(body)
        hdrs["Content-Encoding"] = "gzip"
    request = urllib.request.Request(url, data=body, headers=hdrs, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers.get_content_type(), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read()
