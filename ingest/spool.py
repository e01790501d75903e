"""A bounded on-disk queue of batches, replayed oldest first.

Each entry is one Arrow IPC stream file named ``<seq>-<table>.arrow`` whose schema metadata
holds the table and the batch's deduplication token. Entries are written to a temporary name,
fsynced, renamed into place and the directory fsynced, so a crash leaves either a whole entry or
none. Replaying an entry with its token is harmless when the batch was already stored.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from infermeter.errors import InfermeterError

_NAME = re.compile(r"^(?P<seq>\d{20})-(?P<table>[A-Za-z_][A-Za-z0-9_]*)\.arrow$")


@dataclass(frozen=True)
class SpoolEntry:
    path: Path
    seq: int
    table: str
    size: int


class SpoolBusy(InfermeterError):
    """Another process holds the spool."""


class SpoolFull(Exception):
    """The spool would exceed its byte bound."""


class Spool:
    """Durable FIFO of batches under one directory (one writer process at a time)."""

    def __init__(self, directory: str | Path, max_bytes: int = 1 << 30, *, exclusive: bool = True) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock_fd = self._hold() if exclusive else None
        self._lock = threading.Lock()
        for stale in self.dir.glob("*.tmp"):
            stale.unlink(missing_ok=True)  # a write that never completed
        self._entries: list[SpoolEntry] = sorted(self._scan(), key=lambda e: e.seq)
        self._bytes = sum(e.size for e in self._entries)
        self._next = max((e.seq for e in self._entries), default=0) + 1
        self._next = max(self._next, time.time_ns())

    def _hold(self) -> int:
        """One process per spool: a second writer on it would replay batches twice at once."""
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SpoolBusy(f"spool {self.dir} is in use by another infermeter process") from None
        return fd

    def close(self) -> None:
        """Release the spool for another process (entries stay on disk)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _scan(self) -> list[SpoolEntry]:
        out = []
        for p in self.dir.iterdir():
            m = _NAME.match(p.name)
            if m:
                out.append(SpoolEntry(p, int(m.group("seq")), m.group("table"), p.stat().st_size))
        return out

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[SpoolEntry]:
        with self._lock:
            return list(self._entries)

    def append(self, table: str, data: pa.Table, token: str) -> SpoolEntry:
        """Write a batch durably; raises :class:`SpoolFull` when the bound would be passed."""
        meta = {b"infermeter.table": table.encode(), b"infermeter.token": token.encode()}
        schema = data.schema.with_metadata({**(data.schema.metadata or {}), **meta})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as writer:
            writer.write_table(data.replace_schema_metadata(schema.metadata))
        payload = sink.getvalue()
        with self._lock:
            if self._bytes + payload.size > self.max_bytes:
                raise SpoolFull(f"spool {self.dir} holds {self._bytes} bytes; bound {self.max_bytes}")
            seq = self._next
            self._next += 1
            final = self.dir / f"{seq:020d}-{table}.arrow"
            tmp = final.with_suffix(".tmp")
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
                fh.write(memoryview(payload))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            _fsync_dir(self.dir)
            entry = SpoolEntry(final, seq, table, payload.size)
            self._entries.append(entry)
            self._bytes += entry.size
            return entry

    @staticmethod
    def read(entry: SpoolEntry) -> tuple[str, str, pa.Table]:
        """(table, token, data) of an entry."""
        with pa.OSFile(str(entry.path), "rb") as fh:
            data = pa.ipc.open_stream(fh).read_all()
        meta = data.schema.metadata or {}
        table = meta.get(b"infermeter.table", entry.table.encode()).decode()
        token = meta[b"infermeter.token"].decode()
        clean = {k: v for k, v in meta.items() if not k.startswith(b"infermeter.")}
        return table, token, data.replace_schema_metadata(clean or None)

    def remove(self, entry: SpoolEntry) -> None:
        with self._lock:
            entry.path.unlink(missing_ok=True)
            if entry in self._entries:
                self._entries.remove(entry)
                self._bytes -= entry.size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
