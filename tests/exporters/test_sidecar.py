"""The sidecar as a whole: real targets on loopback, NVML double, allocation, gateway, its HTTP endpoints,
a graceful stop that flushes, spooling when the store is away, and the CLI under SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import aiohttp
import pytest
import yaml

from infermeter.exporters import conventions as c
from infermeter.exporters.config import ExporterConfig
from infermeter.exporters.sidecar import Sidecar
from infermeter.ingest.runtime import open_writer
from tests.exporters.fake_nvml import FakeGpu, FakeNvml
from tests.exporters.scrape_servers import DcgmShape, PageServer, VllmShape, free_port
from tests.support import run_cli

POD = "vllm-7d4b9c6f8-x2k4q"
ENV = {c.POD_NAME_ENV: POD, c.POD_NAMESPACE_ENV: "llm", c.NODE_NAME_ENV: "node-1"}


def exporter_config(server: PageServer, vllm: VllmShape, dcgm: DcgmShape, **extra) -> ExporterConfig:
    return ExporterConfig.model_validate(
        {
            "listen": "127.0.0.1:0",
            "scrape": {"interval_s": 0.2, "jitter_s": 0.05},
            "targets": [
                {"name": "vllm", "kind": "vllm", "url": server.add("/vllm", vllm.page)},
                {"name": "dcgm", "kind": "dcgm", "url": server.add("/dcgm", dcgm.page)},
                {"name": "down", "url": f"http://127.0.0.1:{free_port()}/metrics", "timeout_s": 0.1},
            ],
            "nvml": {"interval_s": 0.2},
            "allocation": {"enabled": True, "deployment": "llama", "interval_s": 0.5, "dcgm_targets": ["dcgm"]},
            **extra,
        }
    )


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def scrapes(sidecar: Sidecar, target: str) -> float:
    return sidecar.metrics.registry.get_sample_value("infermeter_exporter_scrapes_total", {"target": target}) or 0


def test_sidecar_scrapes_collects_beats_serves_and_flushes_on_stop(store, settings_for, tmp_path):
    vllm, dcgm = VllmShape(), DcgmShape(gpus=1, pod=POD)
    log = tmp_path / "access.jsonl"
    log.write_text("")
    settings = settings_for(store.database, max_batch_age_s=0.2)
    with PageServer() as server:
        cfg = exporter_config(
            server, vllm, dcgm, gateway={"tailers": [{"name": "gw", "path": str(log)}], "offsets_dir": str(tmp_path / "off")}
        )
        nvml = FakeNvml([FakeGpu("GPU-NVML-0")])

        async def go():
            sidecar = Sidecar(settings, cfg, store=store, nvml=nvml, env=ENV)
            await sidecar.start()
            base = f"http://127.0.0.1:{sidecar.port}"
            try:
                for _ in range(4):
                    vllm.step(3)
                    dcgm.step()
                    await asyncio.sleep(0.2)
                await wait_for(lambda: scrapes(sidecar, "vllm") >= 3 and scrapes(sidecar, "down") >= 2)
                event = {"event_id": "e-1", "ts": time.time(), "tenant": "acme", "model": "m", "input_tokens": 12, "output_tokens": 3}
                log.write_text(json.dumps(event) + "\n")
                async with aiohttp.ClientSession() as http:
                    async with http.get(base + "/healthz") as r:
                        assert r.status == 200 and (await r.json())["status"] == "ok"
                    async with http.get(base + "/readyz") as r:
                        body = await r.json()
                        assert r.status == 200 and body["ready"] and body["targets"]["vllm"] is True
                        assert body["targets"]["down"] is False and body["nvml"] is True
                    async with http.get(base + "/metrics") as r:
                        metrics = await r.text()
                    async with http.post(base + "/v1/traces", json={}) as r:
                        assert r.status == 200  # the gateway's OTLP receiver is mounted
                await wait_for(lambda: sidecar.sink.counts.get(("jsonl:gw", "accepted"), 0) >= 1, 10)
            finally:
                await sidecar.stop()
            return metrics

        metrics = asyncio.run(go())
    for needle in (
        'infermeter_exporter_scrape_duration_seconds_bucket{le="0.005",target="vllm"}',
        'infermeter_exporter_scrape_errors_total{reason="connect",target="down"}',
        'infermeter_exporter_rows_written_total{table="samples"}',
        "infermeter_exporter_spool_batches ",
        "infermeter_exporter_nvml_up 1.0",
        'infermeter_exporter_target_up{target="vllm"} 1.0',
    ):
        assert needle in metrics, needle
    counts = dict(store.query_rows("SELECT target, count() FROM series GROUP BY target"))
    assert counts.keys() >= {"vllm", "dcgm", "down", "nvml"}
    energy = store.query_scalar(
        "SELECT sum(delta) FROM samples WHERE series_id IN "
        "(SELECT series_id FROM series WHERE metric = 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION')"
    )
    assert energy > 0
    up_down = store.query_rows(
        "SELECT DISTINCT value FROM samples WHERE series_id IN (SELECT series_id FROM series WHERE metric = 'up' AND target = 'down')"
    )
    assert up_down == [(0.0,)]
    held = dict(store.query_rows("SELECT source, sum(interval_s) FROM gpu_allocation FINAL GROUP BY source"))
    assert held.keys() == {"nvml", "dcgm"} and all(v > 0 for v in held.values())
    # The last heartbeat covers up to the stop: the heartbeats add up to the time it ran.
    span = store.query_rows(
        "SELECT sum(interval_s), (toUnixTimestamp64Milli(max(ts)) - toUnixTimestamp64Milli(min(ts))) / 1000 + argMin(interval_s, ts) "
        "FROM gpu_allocation FINAL WHERE source = 'nvml'"
    )[0]
    assert span[0] == pytest.approx(span[1], abs=0.01)
    assert store.query_scalar("SELECT count() FROM usage FINAL WHERE tenant = 'acme'") == 1


def test_with_the_store_away_rows_wait_in_the_spool_and_replay(store, settings_for):
    vllm, dcgm = VllmShape(models=("m",)), DcgmShape(gpus=1)
    settings = settings_for(store.database, max_batch_age_s=0.2)
    with PageServer() as server:
        cfg = exporter_config(server, vllm, dcgm, nvml={"enabled": False}, allocation={"enabled": False})

        async def go():
            sidecar = Sidecar(settings, cfg, store=None, env=ENV)
            await sidecar.start()
            try:
                await wait_for(lambda: scrapes(sidecar, "vllm") >= 2)
            finally:
                await sidecar.stop()
            return sidecar.writer.stats

        stats = asyncio.run(go())
    assert stats.spool_batches > 0 and stats.rows_written == {}
    writer = open_writer(settings, store, "exporter", background=False)  # the next start
    writer.close()
    assert store.query_scalar("SELECT count() FROM series WHERE target = 'vllm'") > 0
    assert store.query_scalar("SELECT count() FROM samples") > 0


def test_cli_runs_until_sigterm_and_leaves_the_rows_in_the_store(tmp_path):
    vllm = VllmShape(models=("m",))
    data = tmp_path / "store"
    with PageServer() as server:
        config = {
            "store": {"url": f"chdb://{data}"},
            "writer": {"max_batch_age_s": 0.2},
            "exporter": {
                "listen": "127.0.0.1:0",
                "scrape": {"interval_s": 0.2, "jitter_s": 0},
                "targets": [{"name": "vllm", "kind": "vllm", "url": server.add("/metrics", vllm.page)}],
                "nvml": {"enabled": True},
            },
        }
        path = tmp_path / "exporter.yaml"
        path.write_text(yaml.safe_dump(config))
        ready = tmp_path / "ready"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **ENV}
        env.pop("INFERMETER_CONFIG", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "infermeter", "exporter", "run", "-c", str(path), "--ready-file", str(ready)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert ready.exists(), proc.stdout.read() if proc.poll() is not None else "not ready"
            port = int(ready.read_text())
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                assert r.status == 200
            while server.routes["/metrics"].hits < 3 and time.monotonic() < deadline:
                vllm.step(2)
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, out
    assert "GPU telemetry from NVML is disabled" in out  # no driver here: said once, and it goes on
    result = run_cli("db", "query", "SELECT count() FROM samples", "--store", f"chdb://{data}", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) >= 3 * 10


def test_cli_rejects_a_bad_listen_address_and_bad_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"exporter": {"targets": [{"name": "x", "kind": "generic"}]}}))
    result = run_cli("exporter", "run", "-c", str(path))
    assert result.returncode == 2 and "url is required" in result.stderr
    result = run_cli("exporter", "run", "--listen", "nowhere")
    assert result.returncode == 2 and "--listen" in result.stderr
