"""Shared fixtures: real stores (chdb always, a ClickHouse server where Docker answers)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support import docker_skip_reason


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory) -> Path:
    """One chdb directory for the whole test process (a process can open one chdb path)."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def clickhouse_server():
    """A ClickHouse server in a container, or a skip with the reason."""
    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)
    import time
    import urllib.request

    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(os.environ.get("INFERMETER_TEST_CLICKHOUSE_IMAGE", "clickhouse/clickhouse-server:25.8"))
        .with_exposed_ports(8123)
        .with_env("CLICKHOUSE_USER", "test")
        .with_env("CLICKHOUSE_PASSWORD", "test")
        .with_env("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "1")
    )
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(8123)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/ping", timeout=2) as resp:
                    if resp.read().strip() == b"Ok.":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("ClickHouse container did not answer /ping within 90 s")
            time.sleep(0.5)
        yield f"clickhouse://test:test@{host}:{port}/"


def _unique_db() -> str:
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture(params=["chdb", "server"])
def store_url(request, chdb_path) -> str:
    """The store URL of each backend; every store test runs on both."""
    if request.param == "chdb":
        return f"chdb://{chdb_path}"
    return request.getfixturevalue("clickhouse_server")


@pytest.fixture
def store(store_url):
    """A migrated store on a database of its own, dropped afterwards."""
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store import open_store_url

    db = _unique_db()
    st = open_store_url(store_url, db)
    migrate(st, RenderOptions(database=db))
    try:
        yield st
    finally:
        try:
            st.command(f"DROP DATABASE IF EXISTS `{db}`")
        finally:
            st.close()


@pytest.fixture
def settings_for(tmp_path, store_url):
    """Settings pointing at the test's store and a spool under tmp_path."""
    from infermeter.config import load_settings

    def make(database: str, **writer):
        return load_settings(
            None,
            store={"url": store_url, "database": database},
            writer={"spool_dir": str(tmp_path / "spool"), **writer},
            data_dir=str(tmp_path / "data"),
        )

    return make

