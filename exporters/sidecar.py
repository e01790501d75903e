"""The sidecar process: scrapers, NVML, allocation heartbeats and the gateway inputs around one writer.

One aiohttp application serves:

* ``/metrics`` - the sidecar's self-metrics and the gateway's per-tenant metrics (one
  prometheus_client registry; OpenMetrics when the scraper asks for it);
* ``/healthz`` - liveness: 200 while the event loop answers and the worker thread is not stuck;
* ``/readyz`` - readiness: 200 once started and until stopping. A store that is away does *not*
  make the sidecar unready (rows wait in the spool), because in a pod an unready sidecar would
  take the model server out of its Service;
* the gateway's routes (OTLP ``/v1/traces``, the LiteLLM callback) when ``exporter.gateway`` is set.

Stopping (SIGTERM): the web server stops taking requests, the loops end, a last allocation
heartbeat covers the time since the previous one, and the writer flushes to the store, or to
the spool when the store is away (replayed at the next start).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.exposition import choose_encoder

from infermeter.config import Settings
from infermeter.errors import InfermeterError
from infermeter.exporters import conventions as c
from infermeter.exporters.allocation import AllocationTracker
from infermeter.exporters.config import ExporterConfig, split_listen
from infermeter.exporters.edge import EdgeState
from infermeter.exporters.nvml import NvmlCollector, nvml_family
from infermeter.exporters.scrape import TargetScraper, now_ms, ticks
from infermeter.exporters.selfmetrics import SidecarMetrics
from infermeter.exporters.series import added_labels
from infermeter.ingest import conventions as tables
from infermeter.ingest import schemas
from infermeter.ingest.runtime import open_writer
from infermeter.ingest.schema_check import ensure_schema
from infermeter.ingest.store import open_store
from infermeter.ingest.store.base import Store
from infermeter.ingest.writer import Writer

log = logging.getLogger(__name__)

WRITER_PURPOSE = "exporter"
STUCK_AFTER_S = 120.0  # /healthz fails when the worker thread has not answered for this long
_UNSET: Any = object()


class Sidecar:
    """Everything ``infermeter exporter run`` runs, startable and stoppable in-process (tests)."""

    def __init__(
        self,
        settings: Settings,
        config: ExporterConfig | None = None,
        *,
        store: Store | None = _UNSET,
        nvml: Any = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.config = config if config is not None else settings.exporter
        self.env = os.environ if env is None else env
        self.metrics = SidecarMetrics()
        self.store: Store | None = None
        self._given_store = store
        self._nvml_module = nvml
        self.writer: Writer | None = None
        self.scrapers: list[TargetScraper] = []
        self.nvml: NvmlCollector | None = None
        self.allocation: AllocationTracker | None = None
        self.sink: Any = None
        self.port: int | None = None
        self.started = False
        self.stopping = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._executor: ThreadPoolExecutor | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._worker_seen = time.monotonic()
        self._nvml_edge: EdgeState | None = None
        self._store_warned = ""

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infermeter-edge")
        if self._given_store is _UNSET:
            self.store = await loop.run_in_executor(self._executor, self._connect)
        else:
            self.store = self._given_store
        self.writer = await loop.run_in_executor(
            self._executor, lambda: open_writer(self.settings, self.store, WRITER_PURPOSE)
        )
        self.metrics.watch_writer(lambda: self.writer)
        self.metrics.store_connected.set(1 if self.store is not None else 0)

        if cfg.allocation.enabled:
            self.allocation = AllocationTracker(cfg.allocation, env=self.env, start_ms=now_ms())
        hook = self.allocation.observe_dcgm if self.allocation and cfg.allocation.dcgm_targets else None
        self.scrapers = [
            TargetScraper(
                t,
                self.writer,
                metrics=self.metrics,
                env=self.env,
                refresh_s=cfg.series_refresh_s,
                on_page=hook if t.name in cfg.allocation.dcgm_targets else None,
            )
            for t in cfg.targets
        ]
        if cfg.nvml.enabled or (self.allocation and cfg.allocation.from_nvml):
            self.nvml = NvmlCollector(self._nvml_module, per_process=cfg.nvml.per_process)
            ok = await loop.run_in_executor(self._executor, self.nvml.start)
            self.metrics.nvml_up.set(1 if ok else 0)
            if ok and self.allocation is not None:  # know the GPUs before the first heartbeat
                snap = await loop.run_in_executor(self._executor, self.nvml.collect)
                if snap is not None:
                    self.allocation.observe_nvml(snap.gpus)

        routes = [
            web.get("/metrics", self._metrics),
            web.get("/healthz", self._healthz),
            web.get("/readyz", self._readyz),
        ]
        if cfg.gateway is not None:
            routes += self._gateway_routes()
        app = web.Application()
        app.add_routes(routes)
        self._runner = web.AppRunner(app, access_log=None, auto_decompress=False)  # the gateway handlers decompress with limits
        await self._runner.setup()
        host, port = split_listen(cfg.listen)
        site = web.TCPSite(self._runner, host, port, shutdown_timeout=2.0)
        await site.start()
        self.port = _bound_port(self._runner, port)

        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=2), auto_decompress=True)
        for scraper in self.scrapers:
            self._spawn(scraper.run(self._session, self._executor, self._stop), f"scrape:{scraper.name}")
        if self.nvml is not None and self.nvml.enabled and cfg.nvml.enabled:
            self._spawn(self._nvml_loop(), "nvml")
        if self.allocation is not None:
            self._spawn(self._allocation_loop(), "allocation")
        if self.store is None and self._given_store is _UNSET:
            self._spawn(self._reconnect_loop(), "store")
        if cfg.gateway is not None and cfg.gateway.tailers and self.sink is not None:
            from infermeter.exporters.gateway import run_tailers

            offsets = self.settings.resolved_data_dir() / "offsets" / "gateway"
            self._spawn(run_tailers(cfg.gateway, self.sink, self._stop, offsets_dir=offsets), "tailers")
        self._spawn(self._watchdog(), "watchdog")
        self.started = True
        log.info(
            "sidecar listening on %s:%s; %d targets; NVML %s; store %s",
            host,
            self.port,
            len(self.scrapers),
            "on" if self.nvml is not None and self.nvml.enabled else "off",
            self.store.describe() if self.store is not None else "away (spooling)",
        )

    def request_stop(self) -> None:
        self._stop.set()

    async def wait(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        """Graceful stop: no new requests, loops end, last heartbeat, flush or spool."""
        if self.stopping:
            return
        self.stopping = True
        self._stop.set()
        loop = asyncio.get_running_loop()
        timeout = self.config.stop_timeout_s
        if self._runner is not None:
            await self._runner.cleanup()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=timeout / 2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self.allocation is not None and self.writer is not None:
            await loop.run_in_executor(self._executor, self._write_heartbeats, now_ms())
        if self.sink is not None and hasattr(self.sink, "flush"):
            await loop.run_in_executor(self._executor, self.sink.flush)
        if self.writer is not None:
            await loop.run_in_executor(self._executor, self.writer.close)
        if self.nvml is not None:
            self.nvml.close()
        if self.store is not None and self._given_store is _UNSET:
            self.store.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        log.info("sidecar stopped")

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start, wait for ``stop`` (or :meth:`request_stop`), stop."""
        await self.start()
        try:
            if stop is not None:
                waiter = asyncio.ensure_future(stop.wait())
                own = asyncio.ensure_future(self._stop.wait())
                await asyncio.wait({waiter, own}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                own.cancel()
            else:
                await self._stop.wait()
        finally:
            await self.stop()

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(_guarded(coro, name), name=name))

    # -- store -----------------------------------------------------------------------------

    def _connect(self) -> Store | None:
        try:
            store = open_store(self.settings)
        except InfermeterError as exc:
            self._warn_store(str(exc))
            return None
        try:
            if self.config.ensure_schema:
                ensure_schema(store, self.settings)
        except InfermeterError as exc:
            self._warn_store(f"schema check failed: {exc}")
            store.close()
            return None
        return store

    def _warn_store(self, message: str) -> None:
        if message != self._store_warned:
            self._store_warned = message
            log.warning("store unavailable, rows go to the spool until it answers: %s", message)

    async def _reconnect_loop(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.settings.writer.retry_interval_s
        while self.store is None and not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            store = await loop.run_in_executor(self._executor, self._connect)
            if store is not None and self.writer is not None:
                self.store = store
                self.writer.set_store(store)
                await loop.run_in_executor(self._executor, self.writer.replay)
                self.metrics.store_connected.set(1)
                log.info("store reached: %s", store.describe())

    # -- NVML and allocation ---------------------------------------------------------------

    async def _nvml_loop(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config.nvml
        self._nvml_edge = EdgeState(
            c.NVML_SOURCE,
            c.NVML_SOURCE,
            added_labels(c.NVML_SOURCE, None, self.env),
            refresh_ms=round(self.config.series_refresh_s * 1000),
        )
        async for tick in ticks(max(1, round(cfg.interval_s * 1000)), 0, self._stop):
            await loop.run_in_executor(self._executor, self.collect_nvml, tick)

    def collect_nvml(self, tick_ms: int) -> int:
        """One NVML collection into rows (worker thread); returns the sample rows written."""
        assert self.nvml is not None and self.writer is not None
        snap = self.nvml.collect()
        if snap is None:
            return 0
        if snap.errors:
            self.metrics.nvml_errors.inc(snap.errors)
        if self.allocation is not None:
            self.allocation.observe_nvml(snap.gpus)
        if self._nvml_edge is None:
            self._nvml_edge = EdgeState(c.NVML_SOURCE, c.NVML_SOURCE, added_labels(c.NVML_SOURCE, None, self.env))
        batch = self._nvml_edge.process(snap.samples, nvml_family, tick_ms)
        if batch.series is not None:
            self.writer.write(tables.SERIES, batch.series)
        self.writer.write(tables.SAMPLES, batch.samples)
        return batch.samples.num_rows

    async def _allocation_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval_ms = max(1, round(self.config.allocation.interval_s * 1000))
        async for tick in ticks(interval_ms, 0, self._stop):
            await loop.run_in_executor(self._executor, self._write_heartbeats, tick)

    def _write_heartbeats(self, at_ms: int) -> None:
        if self.allocation is None or self.writer is None:
            return
        rows = self.allocation.beat(at_ms)
        if rows:
            self.writer.write_rows(tables.GPU_ALLOCATION, rows, schemas.GPU_ALLOCATION)
            for row in rows:
                self.metrics.allocation_rows.labels(row["source"]).inc()

    # -- gateway ---------------------------------------------------------------------------

    def _gateway_routes(self) -> list[web.RouteDef]:
        from infermeter.exporters.gateway import gateway_routes, make_sink

        assert self.writer is not None
        self.sink = make_sink(self.config.gateway, self.writer, self.metrics.registry)
        return gateway_routes(self.config.gateway, self.sink)

    # -- HTTP ------------------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        stuck = time.monotonic() - self._worker_seen
        ok = stuck < STUCK_AFTER_S
        body = {"status": "ok" if ok else "worker stuck", "worker_answered_s_ago": round(stuck, 3)}
        return web.json_response(body, status=200 if ok else 503)

    async def _readyz(self, request: web.Request) -> web.Response:
        ready = self.started and not self.stopping
        stats = self.writer.stats if self.writer is not None else None
        body = {
            "ready": ready,
            "store": self.store.describe() if self.store is not None else None,
            "spool_batches": stats.spool_batches if stats else 0,
            "targets": {s.name: s.up for s in self.scrapers},
            "nvml": None if self.nvml is None else bool(self.nvml.enabled),
        }
        return web.Response(
            text=json.dumps(body), status=200 if ready else 503, content_type="application/json"
        )

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            await loop.run_in_executor(self._executor, _noop)
            self._worker_seen = time.monotonic()
            try:
                await asyncio.wait_for(self._stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass


def _noop() -> None:
    return None


async def _guarded(coro: Any, name: str) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("sidecar task %s failed", name)


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked
