"""Store URLs: both kinds parse, secrets are masked, a wrong URL is one clear line."""

from __future__ import annotations

import pytest

from infermeter.errors import ConfigError
from infermeter.ingest.store.url import parse_store_url
from tests.support import run_cli


@pytest.mark.parametrize(
    "url, kind, path_or_host",
    [
        ("chdb:///var/lib/infermeter", "chdb", "/var/lib/infermeter"),
        ("chdb://./infermeter-data", "chdb", "infermeter-data"),
        ("chdb://data/store", "chdb", "data/store"),
        ("clickhouse://u:p@ch.internal:8123/fleet", "server", "ch.internal"),
        ("clickhouses://ch.example:8443", "server", "ch.example"),
    ],
)
def test_parse(url, kind, path_or_host):
    parsed = parse_store_url(url)
    assert parsed.kind == kind
    assert (parsed.path if kind == "chdb" else parsed.host) == path_or_host


def test_server_defaults_and_redaction():
    p = parse_store_url("clickhouse://alice:pa%40ss@db:9123/fleet")
    assert (p.username, p.password, p.port, p.database, p.secure) == ("alice", "pa@ss", 9123, "fleet", False)
    assert "pa@ss" not in repr(p)
    assert p.redacted() == "clickhouse://alice:***@db:9123/fleet"
    assert parse_store_url("clickhouses://db").port == 8443


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgres://x@y/z", "unknown scheme"),
        ("clickhouse:///nohost", "has no host"),
        ("chdb://", "has no path"),
        ("", "empty"),
        ("clickhouse://db:notaport/x", "invalid port"),
    ],
)
def test_wrong_urls(url, message):
    with pytest.raises(ConfigError, match=message):
        parse_store_url(url)


@pytest.mark.parametrize("url", ["postgres://u:secret@h/db", "clickhouse://u:secret@127.0.0.1:1/db"])
def test_cli_wrong_store_url_is_one_line(url):
    proc = run_cli("db", "query", "SELECT 1", "--store", url)
    assert proc.returncode in (2, 3), proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    assert "secret" not in proc.stderr
