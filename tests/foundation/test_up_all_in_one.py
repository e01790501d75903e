"""``infermeter up`` as the all-in-one owner: store, local API, sidecar and portal in one process.

A real vLLM-shaped page on loopback is scraped, a real OpenTelemetry SDK client sends a GenAI span
to the sidecar's OTLP receiver, the rows are read back through the owner (a second process), the
portal answers, and SIGTERM stops everything with exit code 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.exporters.scrape_servers import PageServer
from tests.support import free_port, run_cli

PAGE = (
    "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
    "# TYPE vllm:num_requests_running gauge\n"
    'vllm:num_requests_running{engine="0",model_name="m"} 3.0\n'
)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode()


def _query(store: str, sql: str) -> list[dict]:
    out = run_cli("db", "query", sql, "--store", store, "-f", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    return data if isinstance(data, list) else [data]


def test_up_runs_the_sidecar_and_the_portal(tmp_path):
    sidecar_port = free_port()
    with PageServer() as pages:
        url = pages.add("/metrics", lambda: PAGE)
        config = {
            "store": {"url": f"chdb://{tmp_path / 'data'}"},
            "exporter": {
                "listen": f"127.0.0.1:{sidecar_port}",
                "scrape": {"interval_s": 0.5, "timeout_s": 0.5, "jitter_s": 0},
                "targets": [{"name": "vllm-0", "kind": "vllm", "url": url, "labels": {"deployment": "llama"}}],
                "nvml": {"enabled": False},
                "gateway": {"otlp": {"enabled": True}},
            },
            "portal": {"port": free_port(), "auth": {"anonymous_admin": True}},
        }
        cfg = tmp_path / "infermeter.yaml"
        cfg.write_text(yaml.safe_dump(config))
        ready = tmp_path / "ready"
        proc = subprocess.Popen(
            [sys.executable, "-m", "infermeter", "up", "-c", str(cfg), "--ready-file", str(ready)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + 90
            while not ready.exists():
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=10)
                time.sleep(0.2)
            status, body = _get(f"http://127.0.0.1:{sidecar_port}/metrics")
            assert status == 200 and "infermeter_" in body
            assert _get(f"http://127.0.0.1:{config['portal']['port']}/")[0] == 200

            provider = TracerProvider(resource=Resource.create({"service.name": "gateway"}))
            provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{sidecar_port}/v1/traces")))
            attrs = {"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 11, "gen_ai.usage.output_tokens": 7, "tenant.id": "acme"}
            with provider.get_tracer("t").start_as_current_span("chat m", attributes=attrs):
                pass
            provider.shutdown()

            store = config["store"]["url"]
            deadline = time.monotonic() + 60
            while True:
                rows = _query(store, "SELECT (SELECT count() FROM samples) AS samples, (SELECT sum(input_tokens) FROM usage) AS tokens")
                if rows[0]["samples"] > 0 and rows[0]["tokens"] == 11:
                    break
                assert time.monotonic() < deadline, rows
                time.sleep(1)
            assert pages.routes["/metrics"].hits >= 1
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "sidecar: /metrics" in out and "portal: http" in out and "stopped" in out
    assert not (tmp_path / "data" / "infermeter-owner.json").exists()
