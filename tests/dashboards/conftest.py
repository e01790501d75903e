"""Fixtures: the generated dashboards, a real Prometheus over a backfilled TSDB, a ClickHouse store
(chdb; a server too where Docker answers) holding generated rows."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from infermeter.dashboards.grafana.generate import DashboardOptions, dashboards
from infermeter.dashboards.grafana.provisioning import ProvisioningOptions
from tests.dashboards import chdata, promdata
from tests.dashboards.runner import Prometheus
from tests.support import require_binary

END = chdata.END
SCRAPE_INTERVAL = "60s"
OPTIONS = DashboardOptions(budgets=chdata.BUDGETS, provisioning=ProvisioningOptions(scrape_interval=SCRAPE_INTERVAL))


@pytest.fixture(scope="session")
def generated() -> dict:
    return dashboards(OPTIONS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory) -> Prometheus:
    """Prometheus (Debian package) serving a TSDB backfilled with promtool from generated history."""
    prom_bin = require_binary("prometheus", "prometheus")
    promtool = require_binary("promtool", "prometheus")
    root = tmp_path_factory.mktemp("prometheus")
    om = root / "history.om.txt"
    span = promdata.Span(END - dt.timedelta(hours=6, minutes=15), END)  # the 6h dashboards + rate windows
    slo_span = promdata.Span(END - dt.timedelta(hours=24, minutes=15), END)  # the 24h SLO dashboard
    promdata.write_openmetrics(om, span, slo_span)
    data = root / "data"
    result = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = _free_port()
    log = open(root / "prometheus.log", "w")
    proc = subprocess.Popen(
        [prom_bin, f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=3650d"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("prometheus did not become ready:\n" + (root / "prometheus.log").read_text()[-3000:])
            time.sleep(0.2)
        yield Prometheus(base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module", params=["chdb", "server"])
def clickhouse(request, chdb_path):
    """A query function over a migrated store of its own holding the generated rows."""
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store import open_store_url

    url = f"chdb://{chdb_path}" if request.param == "chdb" else request.getfixturevalue("clickhouse_server")
    db = "t_dash_" + uuid.uuid4().hex[:10]
    store = open_store_url(url, db)
    migrate(store, RenderOptions(database=db))
    try:
        chdata.load(store)
        yield store
    finally:
        try:
            store.command(f"DROP DATABASE IF EXISTS `{db}`")
        finally:
            store.close()
