"""Fixtures: the generated dashboards, a real Prometheus over a backfilled TSDB, a ClickHouse store
(chdb; a server too where Docker answers) holding generated rows."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from infermeter.dashboards.grafana.generate import DashboardOptions, dashboards
from infermeter.dashboards.grafana.provisioning import ProvisioningOptions
from tests.dashboards import chdata, promdata
from tests.dashboards.runner import Prometheus
from tests.support import backfilled_prometheus

END = chdata.END
SCRAPE_INTERVAL = "60s"
OPTIONS = DashboardOptions(budgets=chdata.BUDGETS, provisioning=ProvisioningOptions(scrape_interval=SCRAPE_INTERVAL))


@pytest.fixture(scope="session")
def generated() -> dict:
    return dashboards(OPTIONS)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory) -> Prometheus:
    """Prometheus (Debian package) serving a TSDB backfilled with promtool from generated history."""
    root = tmp_path_factory.mktemp("prometheus")
    om = root / "history.om.txt"
    span = promdata.Span(END - dt.timedelta(hours=6, minutes=15), END)  # the 6h dashboards + rate windows
    slo_span = promdata.Span(END - dt.timedelta(hours=24, minutes=15), END)  # the 24h SLO dashboard
    promdata.write_openmetrics(om, span, slo_span)
    with backfilled_prometheus(om, root) as url:
        yield Prometheus(url)


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
