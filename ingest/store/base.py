"""The store interface: the same SQL on the embedded engine, a server, or the owner's local API.

Every statement is parameterised with ClickHouse's server-side parameters (``{name:Type}`` in the
SQL, values in ``params``): no user value is ever formatted into SQL text. Inserts are columnar
(Arrow), and carry a deduplication token so that a retried batch is stored once.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

Params = Mapping[str, Any] | None

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: str, what: str = "identifier") -> str:
    """Validate a database or table name; identifiers are the only names put into SQL text."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"invalid {what} {name!r}: letters, digits and _ only, not starting with a digit")
    return name


def quote_identifier(name: str, what: str = "identifier") -> str:
    """A validated name in backquotes, ready for SQL text."""
    return f"`{check_identifier(name, what)}`"


# Settings sent with every insert so that a retried batch is stored exactly once, the rollup
# views included. One block per batch keeps the token's block ids the same on a replay.
INSERT_SETTINGS: dict[str, Any] = {
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "max_insert_block_size": 100_000_000,
}


class Store(abc.ABC):
    """A ClickHouse database that runs infermeter's SQL.

    Unqualified table names resolve to :attr:`database`; ``kind`` is ``chdb``, ``server`` or
    ``remote`` (the owner process's local API).
    """

    kind: str = ""
    database: str

    @abc.abstractmethod
    def command(self, sql: str, params: Params = None) -> None:
        """Run a statement that returns no rows (DDL, INSERT ... SELECT, mutations)."""

    @abc.abstractmethod
    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    @abc.abstractmethod
    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        """Insert columns into ``table`` (columns matched by name); returns the rows sent."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and locks."""

    def ping(self) -> None:
        """Raise if the store cannot answer a trivial query."""
        self.query_arrow("SELECT 1 AS ok")

    def query_rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run a query and return a list of row tuples."""
        table = self.query_arrow(sql, params)
        columns = [col.to_pylist() for col in table.columns]
        return list(zip(*columns)) if columns else []

    def query_df(self, sql: str, params: Params = None):  # -> pandas.DataFrame
        """Run a query and return a pandas DataFrame."""
        return self.query_arrow(sql, params).to_pandas()

    def query_scalar(self, sql: str, params: Params = None) -> Any:
        """The first column of the first row, or None."""
        rows = self.query_rows(sql, params)
        return rows[0][0] if rows else None

    def use_database(self, database: str) -> None:
        """Make ``database`` the default for unqualified names (it must exist)."""
        self.database = check_identifier(database, "database")

    def describe(self) -> str:
        """Where this store is, without secrets."""
        return f"{self.kind} store, database {self.database}"

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def settings_clause(settings: Mapping[str, Any]) -> str:
    """Render a SETTINGS clause from trusted, code-defined settings (never user values)."""
    items = []
    for key, value in settings.items():
        check_identifier(key, "setting")
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, (int, float)):
            items.append(f"{key}={value}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
            items.append(f"{key}='{escaped}'")
    return " SETTINGS " + ", ".join(items) if items else ""


def arrow_ipc_bytes(data: pa.Table) -> bytes:
    """Serialise a table as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return sink.getvalue().to_pybytes()


def arrow_from_ipc(payload: bytes) -> pa.Table:
    """Read an Arrow IPC stream."""
    return pa.ipc.open_stream(pa.py_buffer(payload)).read_all()


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"})


def _literal(value: Any) -> str:
    """A ClickHouse literal for an element inside an Array/Tuple parameter."""
    if isinstance(value, str):
        return "'" + value.translate(_TSV_ESCAPES).replace("'", "\\'") + "'"
    if value is None:
        return "NULL"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    return "'" + param_text(value) + "'" if not isinstance(value, (int, float)) or isinstance(value, bool) else repr(value)


def param_text(value: Any) -> str:
    """The text form ClickHouse parses for a ``{name:Type}`` query parameter.

    ClickHouse reads parameter values in its escaped text format, so backslashes, tabs and
    newlines in strings must be escaped or the value is misread (or rejected).
    """
    import datetime as _dt
    import decimal as _decimal

    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (int, float, _decimal.Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    return str(value).translate(_TSV_ESCAPES)
