"""Store URLs: ``chdb://PATH`` (embedded) and ``clickhouse[s]://user:pass@host:port/db`` (server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from infermeter.errors import ConfigError

SERVER_SCHEMES = {"clickhouse": False, "clickhouses": True, "http": False, "https": True}


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL. ``password`` is kept out of ``repr``."""

    kind: str  # "chdb" | "server"
    path: str = ""
    host: str = ""
    port: int = 0
    username: str = "default"
    password: str = field(default="", repr=False)
    database: str | None = None
    secure: bool = False

    def redacted(self) -> str:
        """The URL with the password masked, safe for logs and errors."""
        if self.kind == "chdb":
            return f"chdb://{self.path}"
        scheme = "clickhouses" if self.secure else "clickhouse"
        auth = f"{self.username}:***@" if self.password else f"{self.username}@"
        db = f"/{self.database}" if self.database else ""
        return f"{scheme}://{auth}{self.host}:{self.port}{db}"


def parse_store_url(url: str) -> StoreURL:
    """Parse a store URL; a wrong one raises :class:`ConfigError` with one clear line."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("store URL is empty; use chdb://PATH or clickhouse://user:pass@host:8123/db")
    url = url.strip()
    if url.startswith("chdb:"):
        rest = url[len("chdb:") :]
        if rest.startswith("//"):
            rest = rest[2:]
        if not rest:
            raise ConfigError(f"store URL {url!r} has no path; use chdb:///abs/path or chdb://relative/path")
        return StoreURL(kind="chdb", path=str(Path(rest)))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SERVER_SCHEMES:
        shown = url.split("@")[-1] if "@" in url else url
        raise ConfigError(
            f"store URL '{scheme or shown}' has an unknown scheme; use chdb://PATH (embedded) "
            "or clickhouse://user:pass@host:8123/db (server)"
        )
    secure = SERVER_SCHEMES[scheme]
    if not parts.hostname:
        raise ConfigError("store URL has no host; use clickhouse://user:pass@host:8123/db")
    try:
        port = parts.port or (8443 if secure else 8123)
    except ValueError:
        raise ConfigError(f"store URL for host {parts.hostname} has an invalid port") from None
    database = unquote(parts.path.lstrip("/")) or None
    return StoreURL(
        kind="server",
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        database=database,
        secure=secure,
    )
