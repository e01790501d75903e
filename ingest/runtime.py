"""Wiring from configuration: a writer with its spool, for one process and one purpose."""

from __future__ import annotations

from pathlib import Path

from infermeter.config import Settings
from infermeter.ingest.spool import Spool
from infermeter.ingest.store.base import Store
from infermeter.ingest.writer import Writer


def spool_dir(settings: Settings, purpose: str) -> Path:
    base = settings.writer.spool_dir or (settings.resolved_data_dir() / "spool")
    return Path(base) / purpose


def open_writer(settings: Settings, store: Store | None, purpose: str, *, background: bool = True) -> Writer:
    """A writer on ``store`` spooling under ``<data>/spool/<purpose>``; replays what a previous run left."""
    directory = spool_dir(settings, purpose)
    cfg = settings.writer
    writer = Writer(
        store,
        Spool(directory, cfg.spool_max_bytes),
        max_batch_rows=cfg.max_batch_rows,
        max_batch_age_s=cfg.max_batch_age_s,
        max_buffer_rows=cfg.max_buffer_rows,
        durable=cfg.durable,
        retry_interval_s=cfg.retry_interval_s,
        background=background,
    )
    if store is not None and len(writer.spool):
        writer.replay()
    return writer
