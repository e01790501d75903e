"""Real processes and loopback servers for the end-to-end alerting tests: free ports, webhook
receivers that record what Alertmanager sends, a scrape target whose error ratio the test sets,
and Prometheus/Alertmanager processes that are always stopped."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from infermeter.alerts.budget import TenantBudgetCollector, TenantSpend


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.25) -> Any:
    """Poll until ``predicate()`` is truthy; its value, or AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


# --- Webhook receivers ------------------------------------------------------------------------------
@dataclass
class Notification:
    path: str
    payload: dict[str, Any]

    @property
    def status(self) -> str:
        return self.payload["status"]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.payload["alerts"]


@dataclass
class WebhookSink:
    """One loopback HTTP server; each receiver posts to its own path."""

    port: int
    received: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def at(self, path: str) -> list[Notification]:
        with self.lock:
            return [n for n in self.received if n.path == "/" + path.lstrip("/")]

    def paths(self) -> set[str]:
        with self.lock:
            return {n.path for n in self.received}


@contextmanager
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with sink.lock:
                sink.received.append(Notification(self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


# --- The scrape target ----------------------------------------------------------------------------
class _Requests(Collector):
    """A request counter that advances by 100 requests per scrape, ``error_ratio`` of them 500s,
    so the error ratio Prometheus sees does not depend on timing."""

    def __init__(self) -> None:
        self.error_ratio = 0.0
        self.ok = 0.0
        self.errors = 0.0
        self.lock = threading.Lock()

    def collect(self):
        with self.lock:
            self.errors += 100 * self.error_ratio
            self.ok += 100 * (1 - self.error_ratio)
            family = CounterMetricFamily("infermeter_test_requests", "Test requests.", labels=["code"])
            family.add_metric(["200"], self.ok)
            family.add_metric(["500"], self.errors)
        yield family


@dataclass
class Target:
    port: int
    requests: _Requests
    spends: dict[str, TenantSpend]

    def set_error_ratio(self, ratio: float) -> None:
        with self.requests.lock:
            self.requests.error_ratio = ratio

    def set_spend(self, tenant: str, spent: str, budget: str) -> None:
        self.spends[tenant] = TenantSpend(tenant, Decimal(spent), Decimal(budget))


@contextmanager
def scrape_target() -> Iterator[Target]:
    registry = CollectorRegistry()
    requests = _Requests()
    spends: dict[str, TenantSpend] = {}
    registry.register(requests)
    registry.register(TenantBudgetCollector(lambda: list(spends.values())))
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield Target(port, requests, spends)
    finally:
        server.shutdown()
        server.server_close()


# --- Processes -------------------------------------------------------------------------------------
@dataclass
class Process:
    name: str
    proc: subprocess.Popen
    log: Path
    url: str

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


@contextmanager
def running(name: str, args: list[str], workdir: Path, url: str, timeout: float = 30) -> Iterator[Process]:
    """Start a process, wait for ``url/-/ready``, and always stop it (SIGTERM, then SIGKILL)."""
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    process = Process(name, proc, log, url)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url + "/-/ready"):
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{process.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not ready after {timeout:.0f}s:\n{process.log_tail()}")
            time.sleep(0.2)
        yield process
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def alertmanager(binary: str, config: Path, workdir: Path) -> Any:
    port = free_port()
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: a single instance
        "--log.level=info",
    ]
    return running("alertmanager", args, workdir, f"http://127.0.0.1:{port}")


def prometheus(binary: str, config: Path, workdir: Path) -> Any:
    port = free_port()
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--rules.alert.resend-delay=1s",
        "--log.level=info",
    ]
    return running("prometheus", args, workdir, f"http://127.0.0.1:{port}")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())
