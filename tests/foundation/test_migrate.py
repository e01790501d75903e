"""Migrations: every table of DESIGN.md, idempotent, and a cluster variant that parses."""

from __future__ import annotations

import re

import pytest

from infermeter.ingest import conventions
from infermeter.ingest.migrate import RenderOptions, applied_versions, load_migrations, migrate, render_all


def test_all_tables_exist_after_migrate(store):
    names = {r[0] for r in store.query_rows("SELECT name FROM system.tables WHERE database = {d:String}", {"d": store.database})}
    assert set(conventions.TABLES) | {conventions.MIGRATIONS, "samples_1m_mv", "samples_1h_mv"} <= names


def test_migrate_twice_is_a_no_op(store):
    again = migrate(store, RenderOptions(database=store.database))
    assert again == []
    assert sorted(applied_versions(store, store.database)) == [m.version for m in load_migrations()]


def test_samples_codecs_and_ttl(store):
    ddl = store.query_scalar(
        "SELECT create_table_query FROM system.tables WHERE database = {d:String} AND name = 'samples'", {"d": store.database}
    )
    assert "CODEC(DoubleDelta" in ddl and "CODEC(Delta(8), ZSTD(1))" in ddl
    assert re.search(r"TTL toDateTime\(ts\) \+ (toIntervalDay\(62\)|INTERVAL 62 DAY)", ddl)
    assert "PARTITION BY toDate(ts)" in ddl


@pytest.mark.parametrize("cluster", ["prod", None])
def test_every_rendered_statement_parses(store, cluster):
    """No cluster runs here: ClickHouse's own parser (formatQuery) checks the cluster DDL."""
    count = 0
    for _, statements in render_all(RenderOptions(database="infermeter", cluster=cluster)):
        for stmt in statements:
            formatted = store.query_scalar("SELECT formatQuery({q:String})", {"q": stmt})
            assert formatted
            count += 1
    assert count >= 10


def test_cluster_rendering_shape():
    statements = [s for _, sts in render_all(RenderOptions(database="im", cluster="prod")) for s in sts]
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    assert all("ON CLUSTER `prod`" in s for s in statements)
    local = [s for s in creates if "_local`" in s.split("(")[0] and "Distributed" not in s]
    assert local and all("ENGINE = Replicated" in s for s in local)
    assert any("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/im/usage_local', '{replica}', ingested_at)" in s for s in creates)
    dist = [s for s in creates if "ENGINE = Distributed(`prod`, `im`, `samples_local`, series_id)" in s]
    assert len(dist) == 1
    mv = [s for s in statements if "MATERIALIZED VIEW" in s and "samples_1m_mv_local" in s][0]
    assert "FROM `im`.`samples_local`" in mv and "TO `im`.`samples_1m_local`" in mv
