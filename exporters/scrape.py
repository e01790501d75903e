"""Scraping: fetch each target's page on its interval, parse it, compute deltas, hand rows to the writer.

Per target (:class:`TargetScraper`): an interval, a timeout (at most the interval), a stable
offset after each tick (``jitter_s`` bounds it; derived from the target's name, so targets
spread out and each keeps its rhythm), and a page-size limit. Samples are stamped with the tick.

A target that is down, slow (timeout), answers with an HTTP error, a page over the limit, bytes
that are not UTF-8 or a page that is mostly malformed lines gets an ``up 0`` sample for that tick
and its error counter goes up (``infermeter_exporter_scrape_errors_total{target,reason}``);
nothing of it reaches the scrape loop, which goes on. A page with a few malformed lines keeps
the rest (``infermeter_exporter_parse_errors_total``).

Fetching runs on the event loop (aiohttp); parsing, deltas and writing run on one worker
thread shared by all targets (the writer may block on an insert or an fsync, the event loop must
not).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import aiohttp
import numpy as np

from infermeter.exporters import conventions as c
from infermeter.exporters.config import TargetConfig
from infermeter.exporters.edge import EdgeState
from infermeter.exporters.exposition import FamilyRef, LabelCache, SeriesSample, parse_series
from infermeter.exporters.selfmetrics import SidecarMetrics
from infermeter.exporters.series import added_labels
from infermeter.ingest import conventions as tables
from infermeter.ingest.writer import Writer

log = logging.getLogger(__name__)

ACCEPT = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"
_SYNTHETIC = {name: FamilyRef(name, "gauge", "") for name in c.SYNTHETIC}

PageHook = Callable[[str, Sequence[SeriesSample]], None]
"""Called (on the worker thread) with a target's name and page samples after each good scrape."""


class ScrapeError(Exception):
    """Why a scrape produced no page: ``reason`` is one of ``SCRAPE_ERROR_REASONS``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class ScrapeReport:
    """One scrape, for tests and logs."""

    target: str
    tick_ms: int
    up: bool
    reason: str | None
    message: str
    samples: int
    rows: int
    new_series: int
    resets: int
    parse_errors: int
    duration_s: float


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def stable_offset_ms(name: str, jitter_s: float) -> int:
    """A per-target offset in [0, jitter_s) that never changes for a name."""
    if jitter_s <= 0:
        return 0
    h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    return int(h / 2**64 * jitter_s * 1000)


async def ticks(
    interval_ms: int, offset_ms: int, stop: asyncio.Event, *, on_skip: Callable[[int], None] | None = None
) -> AsyncIterator[int]:
    """Yield each interval-aligned tick (epoch ms) at ``tick + offset_ms``, until ``stop`` is set.

    The first tick is the next one after now. When the consumer falls behind by whole
    intervals, the ticks more than half an interval late are skipped (and counted through ``on_skip``), never bunched.
    """
    tick = -(-now_ms() // interval_ms) * interval_ms
    while not stop.is_set():
        delay = (tick + offset_ms - now_ms()) / 1000
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
        yield tick
        tick += interval_ms
        late = now_ms() - offset_ms - tick  # a tick late by up to half an interval still runs
        if late > interval_ms // 2:
            missed = math.ceil((late - interval_ms // 2) / interval_ms)
            tick += missed * interval_ms
            if on_skip is not None:
                on_skip(missed)


def dcgm_valid(values: np.ndarray) -> np.ndarray:
    """False for DCGM's blank-field sentinels (near 2**63 and 2**47)."""
    blank64 = values >= c.DCGM_INT64_BLANK
    blank_fp = (values >= c.DCGM_FP64_BLANK) & (values < c.DCGM_FP64_BLANK_MAX)
    return ~(blank64 | blank_fp)


async def fetch_page(session: aiohttp.ClientSession, url: str, timeout_s: float, max_bytes: int) -> str:
    """The page's text; :class:`ScrapeError` for anything else."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s), headers={"Accept": ACCEPT}) as resp:
            if resp.status != 200:
                raise ScrapeError("http_status", f"HTTP {resp.status} {resp.reason or ''}".strip())
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise ScrapeError("too_large", f"page of {resp.content_length} bytes exceeds max_page_bytes {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise ScrapeError("too_large", f"page exceeds max_page_bytes {max_bytes}")
                chunks.append(chunk)
    except asyncio.TimeoutError:
        raise ScrapeError("timeout", f"no complete answer within {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise ScrapeError("connect", str(exc) or type(exc).__name__) from None
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScrapeError("decode", f"not UTF-8 (invalid byte at offset {exc.start})") from None


class TargetScraper:
    """One target: its configuration, label cache, edge state and loop."""

    def __init__(
        self,
        cfg: TargetConfig,
        writer: Writer,
        *,
        metrics: SidecarMetrics | None = None,
        env: Mapping[str, str] | None = None,
        refresh_s: float = 3600.0,
        on_page: PageHook | None = None,
    ) -> None:
        assert cfg.url and cfg.interval_s and cfg.timeout_s is not None and cfg.max_page_bytes
        self.cfg = cfg
        self.name = cfg.name
        self.writer = writer
        self.metrics = metrics
        self.on_page = on_page
        self.interval_ms = max(1, round(cfg.interval_s * 1000))
        self.offset_ms = stable_offset_ms(cfg.name, cfg.jitter_s or 0.0)
        self.cache = LabelCache()
        self.edge = EdgeState(
            cfg.name,
            cfg.kind,
            added_labels(cfg.name, cfg.labels, env),
            renames=c.KIND_LABEL_RENAMES.get(cfg.kind),
            keep_created=cfg.keep_created,
            drop=cfg.drop_pattern(),
            value_filter=dcgm_valid if cfg.kind == "dcgm" else None,
            refresh_ms=round(refresh_s * 1000),
        )
        self.up: bool | None = None
        self.last_report: ScrapeReport | None = None
        self._prefix_checked = False
        self._parse_error_logged = False
        if metrics is not None:
            metrics.add_target(cfg.name)

    # -- the loop

    async def run(self, session: aiohttp.ClientSession, executor: Executor, stop: asyncio.Event) -> None:
        """Scrape on every tick until ``stop`` is set; never raises (but CancelledError)."""

        def skipped(missed: int) -> None:
            if self.metrics is not None:
                self.metrics.skipped.labels(self.name).inc(missed)

        async for tick in ticks(self.interval_ms, self.offset_ms, stop, on_skip=skipped):
            try:
                await self.scrape(session, executor, tick)
            except asyncio.CancelledError:
                raise
            except Exception:  # the sidecar never dies of a target
                log.exception("target %s: scrape failed unexpectedly", self.name)

    async def scrape(self, session: aiohttp.ClientSession, executor: Executor | None, tick_ms: int) -> ScrapeReport:
        """Fetch once and process the page on ``executor`` (None: in this thread)."""
        started = time.perf_counter()
        text: str | None = None
        error: ScrapeError | None = None
        try:
            text = await fetch_page(session, self.cfg.url or "", self.cfg.timeout_s or 10.0, self.cfg.max_page_bytes or 0)
        except ScrapeError as exc:
            error = exc
        duration = time.perf_counter() - started
        if executor is None:
            return self.process(text, error, tick_ms, duration)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self.process, text, error, tick_ms, duration)

    # -- the work (worker thread)

    def process(self, text: str | None, error: ScrapeError | None, tick_ms: int, duration_s: float) -> ScrapeReport:
        """Parse ``text`` (or record ``error``), compute deltas and write the rows."""
        samples: list[SeriesSample] = []
        family_of: Callable[[str], FamilyRef] = _SYNTHETIC.__getitem__
        parse_errors = 0
        if error is None and text is not None:
            result = parse_series(text, cache=self.cache)
            parse_errors = len(result.errors)
            if parse_errors and parse_errors > len(result.samples):
                first = result.errors[0]
                error = ScrapeError("parse", f"{parse_errors} malformed lines (line {first.line_no}: {first.message})")
            else:
                samples = result.samples

                def family_of(name: str, _refs=result.family_of) -> FamilyRef:
                    return _SYNTHETIC.get(name) or _refs(name)

                if parse_errors and not self._parse_error_logged:
                    self._parse_error_logged = True
                    log.warning("target %s: %d malformed lines skipped, first: %s", self.name, parse_errors, result.errors[0])
                self._check_prefix(samples)
        page_samples = len(samples)
        if self.on_page is not None and error is None and page_samples:
            try:
                self.on_page(self.name, samples)
            except Exception:
                log.exception("target %s: page hook failed", self.name)
        samples.append((c.UP, (), 0.0 if error else 1.0, None))
        samples.append((c.SCRAPE_DURATION, (), duration_s, None))
        samples.append((c.SCRAPE_SAMPLES, (), float(page_samples), None))
        batch = self.edge.process(samples, family_of, tick_ms, page=error is None)
        if batch.series is not None:
            self.writer.write(tables.SERIES, batch.series)
        self.writer.write(tables.SAMPLES, batch.samples)
        report = ScrapeReport(
            self.name,
            tick_ms,
            error is None,
            error.reason if error else None,
            str(error) if error else "",
            page_samples,
            batch.samples.num_rows,
            batch.new_series,
            batch.resets,
            parse_errors,
            duration_s,
        )
        self._record(report)
        return report

    def _record(self, report: ScrapeReport) -> None:
        if report.up != self.up:
            if report.up:
                log.info("target %s (%s) is up: %d samples", self.name, self.cfg.url, report.samples)
            else:
                log.warning("target %s (%s) is down: %s: %s", self.name, self.cfg.url, report.reason, report.message)
        self.up = report.up
        self.last_report = report
        m = self.metrics
        if m is None:
            return
        name = self.name
        m.scrapes.labels(name).inc()
        m.scrape_duration.labels(name).observe(report.duration_s)
        m.target_up.labels(name).set(1 if report.up else 0)
        if report.reason:
            m.scrape_errors.labels(name, report.reason).inc()
        m.samples_scraped.labels(name).inc(report.samples)
        m.samples_written.labels(name).inc(report.rows)
        if report.parse_errors:
            m.parse_errors.labels(name).inc(report.parse_errors)
        if report.resets:
            m.counter_resets.labels(name).inc(report.resets)
        m.series.labels(name).set(self.edge.series_count)

    def _check_prefix(self, samples: Sequence[SeriesSample]) -> None:
        if self._prefix_checked:
            return
        self._prefix_checked = True
        prefix = c.KIND_PREFIX.get(self.cfg.kind, "")
        if prefix and samples and not any(s[0].startswith(prefix) for s in samples):
            log.warning(
                "target %s is kind %s but its page has no %s* metrics: is %s the right address?",
                self.name,
                self.cfg.kind,
                prefix,
                self.cfg.url,
            )
