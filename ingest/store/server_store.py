"""A ClickHouse server (or cluster) through clickhouse-connect, over HTTP(S)."""

from __future__ import annotations

import logging
import re

import pyarrow as pa

from infermeter.errors import QueryError, StoreUnavailable
from infermeter.ingest.store.base import INSERT_SETTINGS, Params, Store, check_identifier
from infermeter.ingest.store.url import StoreURL


def _is_connection_error(exc: BaseException) -> bool:
    from clickhouse_connect.driver.exceptions import OperationalError

    return isinstance(exc, (OperationalError, ConnectionError, TimeoutError, OSError))


class ServerStore(Store):
    """A store on a ClickHouse server; every process connects on its own."""

    kind = "server"

    def __init__(self, url: StoreURL, database: str, *, password: str | None = None, connect_timeout_s: float = 5.0):
        import clickhouse_connect

        # Its driver logs every failed request itself; our errors already say what happened.
        logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
        self.url = url
        self.database = check_identifier(url.database or database, "database")
        try:
            # Connect to `default` first: the database may not exist before `db migrate`.
            self._client = clickhouse_connect.get_client(
                host=url.host,
                port=url.port,
                username=url.username,
                password=password if password is not None else url.password,
                database="default",
                secure=url.secure,
                connect_timeout=connect_timeout_s,
                autogenerate_session_id=False,
            )
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach ClickHouse at {url.redacted()}: {_short(exc)}") from None
        self._current: str | None = None

    def _db_for_query(self) -> str | None:
        if self._current == self.database:
            return self.database
        exists = self._client.query(
            "SELECT count() FROM system.databases WHERE name = {d:String}", parameters={"d": self.database}
        ).result_rows[0][0]
        if exists:
            self._client.database = self.database
            self._current = self.database
            return self.database
        return None

    def _wrap(self, fn, *args, **kwargs):
        try:
            self._db_for_query()
            return fn(*args, **kwargs)
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(f"ClickHouse at {self.url.redacted()} is unreachable: {_short(exc)}") from None
            raise QueryError(_short(exc)) from None

    def command(self, sql: str, params: Params = None) -> None:
        self._wrap(self._client.command, sql, parameters=dict(params) if params else None)

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        return self._wrap(self._client.query_arrow, sql, parameters=dict(params) if params else None)

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        check_identifier(table, "table")
        if data.num_rows == 0:
            return 0
        settings = dict(INSERT_SETTINGS)
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        self._wrap(self._client.insert_arrow, table, data, database=self.database, settings=settings)
        return data.num_rows

    def describe(self) -> str:
        return f"ClickHouse server {self.url.redacted()}, database {self.database}"

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # pragma: no cover - closing a dead connection
            pass


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    errno = re.search(r"\[Errno -?\d+\] [^')\]]+", text)
    if errno:
        return errno.group(0)
    lines = text.splitlines()
    return lines[0][:500] if lines else type(exc).__name__
