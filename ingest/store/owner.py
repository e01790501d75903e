"""The owner's local API: how other processes reach an embedded store that one process holds.

``infermeter up`` (and ``demo``) opens the chdb store and serves this API on loopback. Its
address and a random bearer token are written to ``<store>/infermeter-owner.json`` (mode 0600),
so only users who can read the store directory can use it. Other commands read that file and
talk to the owner through :class:`RemoteStore`, with the same interface as a direct store.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa

from infermeter.errors import InfermeterError, QueryError, StoreUnavailable
from infermeter.ingest.store.base import Params, Store, arrow_from_ipc, arrow_ipc_bytes, check_identifier, param_text

OWNER_FILE = "infermeter-owner.json"
_MAX_BODY = 1 << 30


def owner_file(store_path: str | Path) -> Path:
    return Path(store_path) / OWNER_FILE


def read_owner(store_path: str | Path) -> dict[str, Any] | None:
    """The owner record of a store directory, or None when there is none."""
    try:
        return json.loads(owner_file(store_path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _json_param(value: Any) -> Any:
    """A parameter as JSON; the owner's store escapes it as a direct store would."""
    if isinstance(value, (list, tuple)):
        return [_json_param(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return param_text(value)  # dates, times, decimals: their text form has nothing to escape


class RemoteStore(Store):
    """A store reached through the owner's local API."""

    kind = "remote"

    def __init__(self, base_url: str, token: str, database: str, *, owner_pid: int | None = None, timeout_s: float = 300):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.database = check_identifier(database, "database")
        self.owner_pid = owner_pid
        self.timeout_s = timeout_s

    def _post(self, path: str, body: bytes, content_type: str, query: dict[str, str] | None = None) -> bytes:
        url = self.base_url + path
        if query:
            from urllib.parse import urlencode

            url += "?" + urlencode(query)
        req = urllib.request.Request(url, data=body, method="POST")
        req.add_header("Authorization", f"Bearer {self._token}")
        req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", str(exc))
            except Exception:
                message = str(exc)
            if exc.code in (401, 403):
                raise StoreUnavailable(f"owner process refused the local API token: {message}") from None
            raise QueryError(message) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise StoreUnavailable(f"the store's owner (pid {self.owner_pid}) at {self.base_url} does not answer: {exc}") from None

    def _json(self, sql: str, params: Params) -> bytes:
        payload = {"sql": sql, "params": {k: _json_param(v) for k, v in (params or {}).items()}, "database": self.database}
        return json.dumps(payload).encode()

    def command(self, sql: str, params: Params = None) -> None:
        self._post("/v1/command", self._json(sql, params), "application/json")

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        return arrow_from_ipc(self._post("/v1/query", self._json(sql, params), "application/json"))

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        check_identifier(table, "table")
        if data.num_rows == 0:
            return 0
        query = {"table": table, "database": self.database}
        if dedup_token:
            query["token"] = dedup_token
        self._post("/v1/insert", arrow_ipc_bytes(data), "application/vnd.apache.arrow.stream", query)
        return data.num_rows

    def describe(self) -> str:
        return f"store held by process {self.owner_pid}, through its local API {self.base_url}, database {self.database}"

    def close(self) -> None:
        pass


class OwnerAPI:
    """Serves a store to other local processes until :meth:`stop`."""

    def __init__(self, store: Store, store_path: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        self.store_path = Path(store_path)
        self.token = secrets.token_urlsafe(32)
        handler = _make_handler(self)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="owner-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "OwnerAPI":
        self._thread.start()
        path = owner_file(self.store_path)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"pid": os.getpid(), "url": self.url, "token": self.token}, fh)
        os.replace(tmp, path)
        return self

    def stop(self) -> None:
        record = read_owner(self.store_path)
        if record and record.get("pid") == os.getpid():
            owner_file(self.store_path).unlink(missing_ok=True)
        self.server.shutdown()
        self.server.server_close()


def _make_handler(api: OwnerAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _reply(self, code: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, code: int, message: str) -> None:
            self._reply(code, json.dumps({"error": message}).encode())

        def _authorised(self) -> bool:
            given = self.headers.get("Authorization", "")
            expected = f"Bearer {api.token}"
            return hmac.compare_digest(given.encode(), expected.encode())

        def do_GET(self) -> None:  # noqa: N802
            if urlsplit(self.path).path == "/v1/ping" and self._authorised():
                self._reply(200, json.dumps({"pid": os.getpid()}).encode())
            else:
                self._error(401 if not self._authorised() else 404, "unauthorised or unknown path")

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorised():
                self._error(401, "missing or wrong bearer token")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._error(413, "body too large")
                return
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            try:
                if parts.path == "/v1/insert":
                    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    store = _with_db(api.store, q.get("database"))
                    rows = store.insert_arrow(q["table"], arrow_from_ipc(body), dedup_token=q.get("token"))
                    self._reply(200, json.dumps({"rows": rows}).encode())
                elif parts.path in ("/v1/query", "/v1/command"):
                    req = json.loads(body)
                    store = _with_db(api.store, req.get("database"))
                    if parts.path == "/v1/command":
                        store.command(req["sql"], req.get("params") or None)
                        self._reply(200, b"{}")
                    else:
                        table = store.query_arrow(req["sql"], req.get("params") or None)
                        self._reply(200, arrow_ipc_bytes(table), "application/vnd.apache.arrow.stream")
                else:
                    self._error(404, f"unknown path {parts.path}")
            except InfermeterError as exc:
                self._error(400, str(exc))
            except (KeyError, ValueError, json.JSONDecodeError, pa.ArrowInvalid) as exc:
                self._error(400, f"bad request: {exc}")

    return Handler


_VIEWS: dict[tuple[int, str], Store] = {}
_VIEWS_LOCK = threading.Lock()


def _with_db(store: Store, database: str | None) -> Store:
    """The owner's store seen with another default database (each test uses its own)."""
    if not database or database == store.database:
        return store
    from infermeter.ingest.store.chdb_store import ChdbStore

    if not isinstance(store, ChdbStore):
        raise QueryError("this owner serves one database only")
    key = (id(store), database)
    with _VIEWS_LOCK:
        if key not in _VIEWS:
            _VIEWS[key] = ChdbStore(store.path, database)
        return _VIEWS[key]
