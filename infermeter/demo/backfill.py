"""Backfill simulated history into the store through the same paths live data takes.

Usage and allocation rows go through ingest's Writer; metric pages go through the sidecar's own
page processing (:meth:`TargetScraper.process`: parse, series ids, reset-aware deltas), just
without the HTTP fetch. Event ids are the simulator's stable ids, so a second backfill of the
same range counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infermeter.exporters.config import TargetConfig
from infermeter.exporters.scrape import TargetScraper
from infermeter.ingest import conventions as tables
from infermeter.ingest.writer import Writer
from infermeter.simulator.fleet import FleetSpec
from infermeter.simulator.history import allocation_table, days, pages, usage_table
from infermeter.simulator.traffic import requests_between


@dataclass
class BackfillStats:
    usage_rows: int = 0
    allocation_rows: int = 0
    pages: int = 0
    samples: int = 0


def backfill(
    fleet: FleetSpec,
    writer: Writer,
    start: float,
    end: float,
    *,
    step_s: int = 900,
    heartbeat_s: int = 60,
    target_configs: dict[str, TargetConfig],
    progress: Callable[[float], None] | None = None,
) -> BackfillStats:
    """Write [start, end) of simulated history; ``progress`` gets the seconds done after each day."""
    stats = BackfillStats()
    scrapers = {name: TargetScraper(cfg, writer, env={}) for name, cfg in target_configs.items()}
    page_iter = pages(fleet, start, end, step_s)
    pending = next(page_iter, None)
    for lo, hi in days(start, end):
        req = requests_between(fleet, lo, hi)
        writer.write(tables.USAGE, usage_table(fleet, req))
        alloc = allocation_table(fleet, lo, hi, heartbeat_s)
        writer.write(tables.GPU_ALLOCATION, alloc)
        stats.usage_rows += len(req)
        stats.allocation_rows += alloc.num_rows
        while pending is not None and pending[0] <= hi:
            ts, rendered = pending
            for _, name, page in rendered:
                report = scrapers[name].process(page.decode(), None, int(ts * 1000), 0.0)
                stats.samples += report.rows
                stats.pages += 1
            pending = next(page_iter, None)
        if progress is not None:
            progress(hi - start)
    writer.flush()
    return stats
