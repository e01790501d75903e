"""The one path into the store: buffered, batched, deduplicated, spooled when the store is away.

Producers call :meth:`Writer.write` with columns (an Arrow table or record batch, or a mapping of
column name to array) or :meth:`Writer.write_rows` with dicts for low-rate tables. Rows are
buffered per table and flushed as one Arrow insert when the buffer reaches ``max_batch_rows`` or
``max_batch_age_s``. Every batch gets a deduplication token, so a retried batch is stored once.

Durability: with ``durable=True`` (the default) a batch is written ahead to the spool before it is
inserted and removed after the store acknowledged it; a process killed mid-insert replays it on
restart and the token makes the replay harmless. When the store is unreachable, batches stay in
the spool (bounded in bytes) and are replayed oldest first when it answers again. Memory stays
bounded: buffers flush to the spool whatever the store's state, and when the spool is full the
newest batch is dropped and counted with its reason.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from infermeter.errors import QueryError, StoreUnavailable
from infermeter.ingest.spool import Spool, SpoolFull
from infermeter.ingest.store.base import Store

log = logging.getLogger(__name__)

Columns = pa.Table | pa.RecordBatch | Mapping[str, Any]


@dataclass
class WriterStats:
    """The writer's own counters (exported as self-metrics by the sidecar)."""

    rows_written: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    batches_written: int = 0
    batches_retried: int = 0
    batches_spooled: int = 0
    rows_dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    insert_errors: int = 0
    spool_bytes: int = 0
    spool_batches: int = 0
    buffered_rows: int = 0


class _Buffer:
    __slots__ = ("parts", "rows", "since")

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []
        self.rows = 0
        self.since = 0.0


class Writer:
    """Buffers rows per table and writes them to a store exactly once."""

    def __init__(
        self,
        store: Store | None,
        spool: Spool,
        *,
        max_batch_rows: int = 200_000,
        max_batch_age_s: float = 2.0,
        max_buffer_rows: int = 2_000_000,
        durable: bool = True,
        retry_interval_s: float = 5.0,
        background: bool = True,
        writer_id: str | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.max_batch_rows = max_batch_rows
        self.max_batch_age_s = max_batch_age_s
        self.max_buffer_rows = max(max_buffer_rows, max_batch_rows)
        self.durable = durable
        self.retry_interval_s = retry_interval_s
        self.writer_id = writer_id or uuid.uuid4().hex[:12]
        self.stats = WriterStats()
        self._buffers: dict[str, _Buffer] = defaultdict(_Buffer)
        self._seq = 0
        self._lock = threading.RLock()  # buffers
        self._io = threading.Lock()  # store and spool, in order
        self._store_down_until = 0.0
        self._fresh: set = set()  # spooled by this process and not tried yet
        self._closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sync_spool_stats()
        if background:
            self._thread = threading.Thread(target=self._run, name="infermeter-writer", daemon=True)
            self._thread.start()

    # -- producers -------------------------------------------------------------------------
    def write(self, table: str, columns: Columns) -> None:
        """Buffer columns for ``table``; flushes when the batch is full."""
        data = _to_table(columns)
        if data.num_rows == 0:
            return
        if self._closed:
            raise RuntimeError("writer is closed")
        with self._lock:
            buf = self._buffers[table]
            if not buf.parts:
                buf.since = time.monotonic()
            buf.parts.append(data)
            buf.rows += data.num_rows
            self.stats.buffered_rows += data.num_rows
            full = buf.rows >= self.max_batch_rows
        if full:
            self.flush(table)

    def write_rows(self, table: str, rows: Iterable[Mapping[str, Any]], schema: pa.Schema | None = None) -> None:
        """Buffer dict rows (for low-rate tables such as usage and allocation)."""
        rows = list(rows)
        if rows:
            self.write(table, pa.Table.from_pylist(rows, schema=schema))

    # -- flushing --------------------------------------------------------------------------
    def flush(self, table: str | None = None) -> None:
        """Send the buffered rows of ``table`` (or of every table) now."""
        tables = [table] if table else list(self._buffers)
        for name in tables:
            with self._lock:
                buf = self._buffers.get(name)
                if not buf or not buf.parts:
                    continue
                parts, rows = buf.parts, buf.rows
                buf.parts, buf.rows = [], 0
                self.stats.buffered_rows -= rows
                self._seq += 1
                token = f"{self.writer_id}-{self._seq}"
            data = pa.concat_tables(parts, promote_options="default") if len(parts) > 1 else parts[0]
            self._send(name, data, token)

    def _send(self, table: str, data: pa.Table, token: str) -> None:
        with self._io:
            if self.durable or self._store_down() or len(self.spool):
                # Write ahead (or queue behind older spooled batches), then drain in order.
                entry = self._spool_append(table, data, token)
                if entry is not None and not self._store_down():
                    self._fresh.add(entry.path)
                self._drain_locked()
            else:
                try:
                    self._insert(table, data, token)
                except StoreUnavailable:
                    self._spool_append(table, data, token)
            self._sync_spool_stats()

    def _spool_append(self, table: str, data: pa.Table, token: str):
        try:
            entry = self.spool.append(table, data, token)
        except SpoolFull as exc:
            self.stats.rows_dropped["spool_full"] += data.num_rows
            log.error("dropping %d rows for %s: %s", data.num_rows, table, exc)
            return None
        self.stats.batches_spooled += 1
        return entry

    def _insert(self, table: str, data: pa.Table, token: str) -> None:
        if self.store is None:
            raise StoreUnavailable("no store attached")
        try:
            self.store.insert_arrow(table, data, dedup_token=token)
        except StoreUnavailable:
            self.stats.insert_errors += 1
            self._store_down_until = time.monotonic() + self.retry_interval_s
            raise
        self.stats.rows_written[table] += data.num_rows
        self.stats.batches_written += 1

    def _store_down(self) -> bool:
        return time.monotonic() < self._store_down_until

    def _drain_locked(self, force: bool = False) -> None:
        if not force and self._store_down():
            return
        for entry in self.spool.entries():
            table, token, data = Spool.read(entry)
            first_try = entry.path in self._fresh
            self._fresh.discard(entry.path)
            try:
                self._insert(table, data, token)
            except StoreUnavailable as exc:
                log.warning("store unavailable, %d batches spooled: %s", len(self.spool), exc)
                return
            except QueryError as exc:
                # The store rejects this batch for good (schema mismatch): keep it for inspection.
                self.stats.rows_dropped["rejected"] += data.num_rows
                self.stats.insert_errors += 1
                rejected = entry.path.with_suffix(".rejected")
                entry.path.rename(rejected)
                self.spool.remove(entry)
                log.error("batch for %s rejected by the store, kept as %s: %s", table, rejected, exc)
                continue
            if not first_try:
                self.stats.batches_retried += 1
            self.spool.remove(entry)
        self._store_down_until = 0.0

    def replay(self) -> int:
        """Replay every spooled batch now (e.g. at start-up); returns how many remain."""
        with self._io:
            self._drain_locked(force=True)
            self._sync_spool_stats()
            return len(self.spool)

    def set_store(self, store: Store | None) -> None:
        """Attach (or detach) the store, e.g. after reconnecting."""
        with self._io:
            self.store = store
            self._store_down_until = 0.0

    def _sync_spool_stats(self) -> None:
        self.stats.spool_bytes = self.spool.bytes
        self.stats.spool_batches = len(self.spool)

    # -- background ------------------------------------------------------------------------
    def _run(self) -> None:
        tick = min(0.25, self.max_batch_age_s / 2)
        while not self._stop.wait(tick):
            try:
                self.tick()
            except Exception:  # never let the flusher die
                log.exception("writer background flush failed")

    def tick(self) -> None:
        """Flush buffers older than ``max_batch_age_s`` and retry the spool when due."""
        now = time.monotonic()
        with self._lock:
            due = [t for t, b in self._buffers.items() if b.parts and now - b.since >= self.max_batch_age_s]
            over = sum(b.rows for b in self._buffers.values()) >= self.max_buffer_rows
        if over:
            due = list(self._buffers)
        for table in due:
            self.flush(table)
        if len(self.spool) and not self._store_down():
            with self._io:
                self._drain_locked()
                self._sync_spool_stats()

    def close(self) -> None:
        """Flush every buffer (to the store, or to the spool when it is away) and stop."""
        if self._closed:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
        if len(self.spool) and self.store is not None:
            with self._io:  # one last try; what fails stays spooled for the next start
                self._drain_locked(force=True)
                self._sync_spool_stats()
        self.spool.close()
        self._closed = True

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_table(columns: Columns) -> pa.Table:
    if isinstance(columns, pa.Table):
        return columns
    if isinstance(columns, pa.RecordBatch):
        return pa.Table.from_batches([columns])
    return pa.table(dict(columns))
