"""Portal fixtures: one seeded chdb database and real portal servers on loopback (port 0)."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest
import requests

from tests.portal import seed
from tests.support import REPO

HERE = Path(__file__).parent
VIEWER_TOKEN = "acme-viewer-token-0001"  # tenant acme
MULTI_TOKEN = "multi-viewer-token-0002"  # tenants acme and beta
ADMIN_TOKEN = "fleet-admin-token-0003"  # admin
EMPTY_TOKEN = "empty-viewer-token-0004"  # tenant with no lines


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


TOKENS = [
    {"name": "acme-viewer", "sha256": sha(VIEWER_TOKEN), "tenants": ["acme"]},
    {"name": "multi-viewer", "sha256": sha(MULTI_TOKEN), "tenants": ["acme", "beta"]},
    {"name": "fleet-admin", "sha256": sha(ADMIN_TOKEN), "admin": True},
    {"name": "quiet-viewer", "sha256": sha(EMPTY_TOKEN), "tenants": ["quiet"]},
]
PROXY = {
    "enabled": True,
    "trusted_proxies": ["127.0.0.1/32", "::1"],
    "admin_groups": ["platform-admins"],
    "group_tenants": {"team-acme": ["acme"], "team-beta": ["beta"]},
}


def artifacts_dir() -> Path:
    """Where tests leave screenshots and files: $INFERMETER_TEST_ARTIFACTS or ./test-artifacts."""
    path = Path(os.environ.get("INFERMETER_TEST_ARTIFACTS") or REPO / "test-artifacts") / "portal"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def portal_db(chdb_path):
    """A migrated database with the seed data, shared by the portal tests."""
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store import open_store_url

    db = "portal_" + uuid.uuid4().hex[:10]
    st = open_store_url(f"chdb://{chdb_path}", db)
    migrate(st, RenderOptions(database=db))
    seed.seed(st)
    try:
        yield st
    finally:
        try:
            st.command(f"DROP DATABASE IF EXISTS `{db}`")
        finally:
            st.close()


@pytest.fixture(scope="session")
def portal_settings(portal_db, chdb_path, tmp_path_factory):
    from infermeter.config import load_settings

    from infermeter.config import Settings

    def make(**portal):
        base = {"auth": {"tokens": TOKENS}, "cache_ttl_s": 0, "slo_specs": str(HERE / "slo.yaml")}
        merged = {**base, **portal}
        extra = {"chargeback": {"tenancy": str(HERE / "tenancy.yaml")}} if "chargeback" in Settings.model_fields else {}
        return load_settings(
            None,
            store={"url": f"chdb://{chdb_path}", "database": portal_db.database},
            data_dir=str(tmp_path_factory.mktemp("portal-data")),
            portal=merged,
            **extra,
        )

    return make


@pytest.fixture(scope="session")
def token_portal(portal_db, portal_settings):
    """The portal with bearer tokens (and the login form) only."""
    from infermeter.dashboards.portal.server import PortalServer

    server = PortalServer(portal_settings(port=0), portal_db).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def proxy_portal(portal_db, portal_settings):
    """The portal behind an authenticating proxy (headers trusted from loopback only)."""
    from infermeter.dashboards.portal.server import PortalServer

    server = PortalServer(portal_settings(port=0, auth={"proxy": PROXY}), portal_db).start()
    yield server
    server.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client(token: str | None = None, headers: dict[str, str] | None = None) -> requests.Session:
    s = requests.Session()
    if token:
        s.headers.update(bearer(token))
    if headers:
        s.headers.update(headers)
    return s
