"""Numbered SQL migrations, rendered for one server or a cluster, applied once each.

A migration file ``NNNN_name.sql`` holds statements separated by lines that contain only ``;``,
with the placeholders documented at the top of ``0001_initial.sql``. :func:`render` is pure (SQL
text in, statements out) so the cluster variant can be checked without a cluster;
:func:`migrate` applies what the store's ``schema_migrations`` table does not record yet.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from infermeter.ingest.conventions import MIGRATIONS
from infermeter.ingest.store.base import Store, check_identifier, quote_identifier

_PLACEHOLDER = re.compile(r"\{(db|on_cluster|ttl_days|table:[A-Za-z0-9_]+|engine:[A-Za-z0-9_]+:[^{}]+|distributed:[A-Za-z0-9_]+:[^{}]+)\}")
_ENGINE = re.compile(r"^(?P<kind>[A-Za-z]*MergeTree)(?:\((?P<args>.*)\))?$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RenderOptions:
    database: str = "infermeter"
    cluster: str | None = None
    ttl_days: int = 62


def load_migrations() -> list[Migration]:
    """The packaged migrations in version order."""
    out = []
    for entry in resources.files("infermeter.ingest").joinpath("migrations").iterdir():
        m = re.match(r"^(\d{4})_([a-z0-9_]+)\.sql$", entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort(key=lambda m: m.version)
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return out


def _quote(name: str) -> str:
    return quote_identifier(name)


def render(sql: str, opts: RenderOptions) -> list[str]:
    """Render one migration into executable statements (empty ones dropped)."""
    check_identifier(opts.database, "database")
    cluster = check_identifier(opts.cluster, "cluster") if opts.cluster else None

    def table_name(name: str) -> str:
        return f"{name}_local" if cluster else name

    def sub(match: re.Match[str]) -> str:
        token = match.group(1)
        if token == "db":
            return _quote(opts.database)
        if token == "on_cluster":
            return f"ON CLUSTER {_quote(cluster)}" if cluster else ""
        if token == "ttl_days":
            return str(int(opts.ttl_days))
        kind, _, rest = token.partition(":")
        if kind == "table":
            return _quote(table_name(rest))
        if kind == "engine":
            table, _, engine = rest.partition(":")
            m = _ENGINE.match(engine.strip())
            if not m:
                raise ValueError(f"unknown engine {engine!r}")
            if not cluster:
                return engine.strip()
            args = [f"'/clickhouse/tables/{{shard}}/{opts.database}/{table_name(table)}'", "'{replica}'"]
            if m.group("args"):
                args.append(m.group("args"))
            return f"Replicated{m.group('kind')}({', '.join(args)})"
        if kind == "distributed":
            table, _, key = rest.partition(":")
            if not cluster:
                return ""
            return (
                f"CREATE TABLE IF NOT EXISTS {_quote(opts.database)}.{_quote(table)} ON CLUSTER {_quote(cluster)} "
                f"AS {_quote(opts.database)}.{_quote(table_name(table))} "
                f"ENGINE = Distributed({_quote(cluster)}, {_quote(opts.database)}, {_quote(table_name(table))}, {key})"
            )
        raise ValueError(f"unknown placeholder {token}")  # pragma: no cover

    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    statements = []
    for chunk in re.split(r"^\s*;\s*$", body, flags=re.M):
        rendered = _PLACEHOLDER.sub(sub, chunk).strip()
        if rendered:
            statements.append(rendered)
    return statements


def bootstrap_statements(opts: RenderOptions) -> list[str]:
    """The database and the migrations table, created before any migration."""
    db = _quote(opts.database)
    on = f" ON CLUSTER {_quote(opts.cluster)}" if opts.cluster else ""
    engine = (
        f"ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{opts.database}/{MIGRATIONS}', '{{replica}}', applied_at)"
        if opts.cluster
        else "ReplacingMergeTree(applied_at)"
    )
    return [
        f"CREATE DATABASE IF NOT EXISTS {db}{on}",
        f"CREATE TABLE IF NOT EXISTS {db}.{_quote(MIGRATIONS)}{on} (version UInt32, name String, checksum String, "
        f"applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = {engine} ORDER BY version",
    ]


def render_all(opts: RenderOptions) -> list[tuple[Migration, list[str]]]:
    return [(m, render(m.sql, opts)) for m in load_migrations()]


def applied_versions(store: Store, database: str) -> dict[int, str]:
    rows = store.query_rows(
        f"SELECT version, argMax(checksum, applied_at) FROM {_quote(database)}.{_quote(MIGRATIONS)} GROUP BY version"
    )
    return {int(v): c for v, c in rows}


def migrate(store: Store, opts: RenderOptions, progress=None) -> list[Migration]:
    """Apply the missing migrations in order; returns the ones applied. Safe to run twice."""
    for stmt in bootstrap_statements(opts):
        store.command(stmt)
    store.use_database(opts.database)
    done = applied_versions(store, opts.database)
    applied = []
    for migration, statements in render_all(opts):
        if migration.version in done:
            continue
        for stmt in statements:
            store.command(stmt)
            if progress:
                progress(migration, stmt)
        store.command(
            f"INSERT INTO {_quote(opts.database)}.{_quote(MIGRATIONS)} (version, name, checksum) "
            "VALUES ({v:UInt32}, {n:String}, {c:String})",
            {"v": migration.version, "n": migration.name, "c": migration.checksum},
        )
        applied.append(migration)
    return applied
