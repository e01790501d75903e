"""The embedded store: ClickHouse in-process through chdb, persistent under one directory.

chdb locks its directory to one process, and one process can hold one chdb path at a time.
:func:`open_chdb` enforces both rules with clear errors, and :func:`lock_holder` tells whether
another process holds a path (the single-owner design of DESIGN.md).
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path

import pyarrow as pa

from infermeter.errors import QueryError, StoreUnavailable
from infermeter.ingest.store.base import (
    INSERT_SETTINGS,
    Params,
    Store,
    arrow_ipc_bytes,
    check_identifier,
    param_text,
    quote_identifier,
    settings_clause,
)

_REGISTRY_LOCK = threading.Lock()
_OPEN: dict[str, "_Session"] = {}


class _Session:
    """One chdb session per process, shared by every ChdbStore on the same path."""

    def __init__(self, path: str) -> None:
        from chdb import session as chdb_session

        self.path = path
        self.lock = threading.RLock()
        self.refs = 0
        self.current_db = "default"
        try:
            self.session = chdb_session.Session(path)
        except Exception as exc:  # chdb raises RuntimeError for a held lock
            holder = lock_holder(path)
            who = f"process {holder}" if holder else "another process"
            raise StoreUnavailable(f"cannot open chdb store {path}: held by {who} ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def lock_holder(path: str | Path) -> int | None:
    """The PID of the process holding the chdb directory, or None when it is free."""
    status = Path(path) / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            return _status_pid(status) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _status_pid(status: Path) -> int | None:
    try:
        for line in status.read_text(errors="replace").splitlines():
            if line.startswith("PID:"):
                return int(line.split(":", 1)[1])
    except (OSError, ValueError):
        return None
    return None


def held_in_this_process(path: str | Path) -> bool:
    """Whether this process already has ``path`` open."""
    return str(Path(path).resolve()) in _OPEN


class ChdbStore(Store):
    """A store on the embedded engine."""

    kind = "chdb"

    def __init__(self, path: str | Path, database: str = "infermeter") -> None:
        resolved = str(Path(path).resolve())
        with _REGISTRY_LOCK:
            if resolved not in _OPEN:
                other = next(iter(_OPEN), None)
                if other is not None:
                    raise StoreUnavailable(
                        f"this process already holds chdb store {other}; one process can open one chdb path"
                    )
                Path(resolved).mkdir(parents=True, exist_ok=True)
                _OPEN[resolved] = _Session(resolved)
            self._s = _OPEN[resolved]
            self._s.refs += 1
        self.path = resolved
        self.database = check_identifier(database, "database")
        self._closed = False

    def _run(self, sql: str, fmt: str, params: Params):
        with self._s.lock:
            try:
                self._ensure_database()
                if params:
                    return self._s.session.query(sql, fmt, params={k: param_text(v) for k, v in params.items()})
                return self._s.session.query(sql, fmt)
            except Exception as exc:
                raise QueryError(_first_line(exc)) from None

    def _quoted_db(self) -> str:
        return f"`{self.database}`"

    def _ensure_database(self) -> None:
        """Unqualified names resolve to this store's database once it exists."""
        if self._s.current_db == self.database:
            return
        exists = self._s.session.query(
            "SELECT count() FROM system.databases WHERE name = {d:String}", "TabSeparated", params={"d": self.database}
        )
        if exists.bytes().decode().strip() == "1":
            self._s.session.query(f"USE {self._quoted_db()}", "CSV")
            self._s.current_db = self.database

    def command(self, sql: str, params: Params = None) -> None:
        self._run(sql, "CSV", params)

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        result = self._run(sql, "ArrowTable", params)
        if isinstance(result, pa.Table):
            return result
        return pa.table({})

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        check_identifier(table, "table")
        if data.num_rows == 0:
            return 0
        settings = dict(INSERT_SETTINGS)
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        columns = ", ".join(quote_identifier(c, "column") for c in data.column_names)
        sql = f"INSERT INTO {self._quoted_db()}.`{table}` ({columns}){settings_clause(settings)}"
        payload = arrow_ipc_bytes(data)
        with self._s.lock:
            try:
                inserter = self._s.session.send_insert(sql, "ArrowStream")
                inserter.append(payload)
                inserter.finish()
            except Exception as exc:
                raise QueryError(f"insert into {table}: {_first_line(exc)}") from None
        return data.num_rows

    def describe(self) -> str:
        return f"chdb store {self.path}, database {self.database}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _REGISTRY_LOCK:
            self._s.refs -= 1
            if self._s.refs <= 0:
                with self._s.lock:
                    try:
                        self._s.session.close()
                    finally:
                        _OPEN.pop(self.path, None)
