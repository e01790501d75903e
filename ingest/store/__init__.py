"""Store access: :func:`open_store` picks the embedded engine, a server, or the owner's API."""

from __future__ import annotations

import os
from pathlib import Path

from infermeter.errors import StoreUnavailable
from infermeter.ingest.store.base import Store, check_identifier
from infermeter.ingest.store.url import StoreURL, parse_store_url

__all__ = ["Store", "open_store", "open_store_url", "parse_store_url", "StoreURL", "check_identifier"]


def open_store_url(
    url: str,
    database: str = "infermeter",
    *,
    password: str | None = None,
    connect_timeout_s: float = 5.0,
    allow_remote: bool = True,
) -> Store:
    """Open the store at ``url``.

    For ``chdb://`` the directory is opened in this process when it is free; when another process
    holds it, that process's local API is used (``allow_remote``), or the error names the holder.
    """
    parsed = parse_store_url(url)
    if parsed.kind == "server":
        from infermeter.ingest.store.server_store import ServerStore

        store: Store = ServerStore(parsed, database, password=password, connect_timeout_s=connect_timeout_s)
        store.ping()
        return store

    from infermeter.ingest.store.chdb_store import ChdbStore, held_in_this_process, lock_holder
    from infermeter.ingest.store.owner import RemoteStore, read_owner

    path = Path(parsed.path)
    if held_in_this_process(path):
        return ChdbStore(path, database)
    holder = lock_holder(path)
    if holder is None:
        return ChdbStore(path, database)
    owner = read_owner(path)
    if owner and allow_remote and _alive(owner.get("pid")):
        return RemoteStore(owner["url"], owner["token"], database, owner_pid=owner.get("pid"))
    who = f"process {holder}" if holder > 0 else "another process"
    raise StoreUnavailable(
        f"chdb store {path} is held by {who}, which serves no local API; "
        "stop it, or run the work through `infermeter up`"
    )


def open_store(settings, *, allow_remote: bool = True) -> Store:  # settings: infermeter.config.Settings
    """Open the store that ``settings`` names."""
    cfg = settings.store
    password = cfg.password.get_secret_value() if cfg.password is not None else None
    return open_store_url(
        cfg.url, cfg.database, password=password, connect_timeout_s=cfg.connect_timeout_s, allow_remote=allow_remote
    )


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
