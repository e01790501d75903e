"""Deleting rows where the table's data is: the table itself, or on a cluster its ``_local`` tables.

In cluster mode (``infermeter db migrate`` with ``store.cluster``) every table is a ``Distributed``
table over ``NAME_local``, and a lightweight ``DELETE`` cannot run on a Distributed table; it has to
run ``ON CLUSTER`` against the local tables. The store says which case it is in
(``system.tables``), so callers need not carry the cluster name around.
"""

from __future__ import annotations

import re
from typing import Any

from infermeter.ingest.store.base import Store, quote_identifier

# One argument: a 'string', a `quoted identifier` or a bare identifier (ClickHouse shows literals).
_ARG = r"""\s*('(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|[A-Za-z_][A-Za-z0-9_]*)\s*"""
_DISTRIBUTED = re.compile(rf"^Distributed\({_ARG},{_ARG},{_ARG}")


def distributed_target(engine_full: str) -> tuple[str, str, str] | None:
    """(cluster, database, local table) of a ``Distributed(...)`` engine definition, else None."""
    m = _DISTRIBUTED.match(engine_full or "")
    if not m:
        return None
    return tuple(_unquote(g) for g in m.groups())  # type: ignore[return-value]


def _unquote(arg: str) -> str:
    if arg[:1] in ("'", "`"):
        return re.sub(r"\\(.)", r"\1", arg[1:-1])
    return arg


def delete_where(store: Store, table: str, where: str, params: dict[str, Any] | None = None) -> str:
    """``DELETE FROM table WHERE where`` on the table that holds the rows; returns the statement run."""
    engine = store.query_scalar(
        "SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = {t:String}",
        {"d": store.database, "t": table},
    )
    target = distributed_target(engine or "")
    if target is None:
        sql = f"DELETE FROM {table} WHERE {where}"
    else:
        cluster, database, local = target
        sql = (
            f"DELETE FROM {quote_identifier(database, 'database')}.{quote_identifier(local, 'table')} "
            f"ON CLUSTER {quote_identifier(cluster, 'cluster')} WHERE {where}"
        )
    store.command(sql, params or {})
    return sql
