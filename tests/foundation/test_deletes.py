"""Deletes go where the rows are: the table itself, or ``ON CLUSTER`` to the ``_local`` tables."""

from __future__ import annotations

import pytest

from infermeter.ingest.deletes import delete_where, distributed_target
from infermeter.ingest.migrate import RenderOptions, render_all


@pytest.mark.parametrize(
    "engine, expected",
    [
        ("Distributed('infer', 'infermeter', 'ledger_local', rand())", ("infer", "infermeter", "ledger_local")),
        ("Distributed(`my cluster`, `db`, `ledger_local`, cityHash64(run_id))", ("my cluster", "db", "ledger_local")),
        ("Distributed(c1, db, t_local)", ("c1", "db", "t_local")),
        ("Distributed('it\\'s', 'db', 't')", ("it's", "db", "t")),
        ("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/ledger', '{replica}')", None),
        ("MergeTree ORDER BY a", None),
        ("", None),
    ],
)
def test_distributed_target(engine, expected):
    assert distributed_target(engine) == expected


def test_the_cluster_migration_makes_ledger_a_distributed_table_this_reads():
    """The DDL migrate renders for a cluster, with its engine clause as system.tables shows it."""
    statements = [s for _, stmts in render_all(RenderOptions(database="db", cluster="c")) for s in stmts]
    ddl = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS `db`.`ledger` ON CLUSTER"))
    engine = ddl[ddl.index("ENGINE = ") + len("ENGINE = "):]
    assert distributed_target(engine) == ("c", "db", "ledger_local")


def test_delete_on_a_plain_table(store):
    store.command("CREATE TABLE del_t (a UInt8) ENGINE = MergeTree ORDER BY a")
    store.command("INSERT INTO del_t VALUES (1), (2), (3)")
    sql = delete_where(store, "del_t", "a >= {x:UInt8}", {"x": 2})
    assert sql == "DELETE FROM del_t WHERE a >= {x:UInt8}"
    assert store.query_scalar("SELECT groupArray(a) FROM del_t") == [1]
    store.command("DROP TABLE del_t")


def test_a_cluster_name_outside_the_identifier_rule_is_refused(store, monkeypatch):
    """Names go into SQL text only after the project's identifier check (as migrate's DDL did)."""
    monkeypatch.setattr(store, "query_scalar", lambda *a, **k: "Distributed('my cluster', 'db', 'ledger_local', rand())")
    with pytest.raises(ValueError, match="invalid cluster 'my cluster'"):
        delete_where(store, "ledger", "1")
