"""Where every gateway input delivers its events: validate, write, quarantine, count.

Valid events become ``usage`` rows through the shared :class:`~infermeter.ingest.writer.Writer`
(batched, deduplication-tokened, spooled when the store is away); invalid ones become
``quarantine`` rows with the reason and the raw payload. A duplicate ``event_id`` is harmless:
the row is written again and ``usage`` (a ReplacingMergeTree read with FINAL) keeps one, and the
per-tenant metrics count it once while it is among the last ``dedup_window`` ids.

Thread-safe: the HTTP handlers call it on the event loop, the tailers from worker threads.
``accept`` only buffers (the writer flushes by age in its own thread), except when a batch is
full, when that flush happens in the caller.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
from pydantic import ValidationError

from infermeter.exporters.gateway import conventions as gc
from infermeter.exporters.gateway.metrics import GatewaySelfMetrics, TenantMetrics
from infermeter.exporters.gateway.normalize import Candidate
from infermeter.ingest import conventions, schemas
from infermeter.ingest.jsonl import explain
from infermeter.ingest.models import UsageEvent
from infermeter.ingest.writer import Writer

MAX_PAYLOAD_CHARS = 64 * 1024  # a quarantined payload is cut there (with a marker)


@dataclass
class SinkResult:
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    reasons: list[str] = field(default_factory=list)  # the first few quarantine reasons

    def summary(self) -> str:
        if not self.quarantined:
            return ""
        more = f" (and {self.quarantined - len(self.reasons)} more)" if self.quarantined > len(self.reasons) else ""
        return f"{self.quarantined} rejected: " + "; ".join(self.reasons) + more


class UsageSink:
    """Validates usage candidates and writes them (or their quarantine rows) through ``writer``."""

    def __init__(
        self,
        writer: Writer,
        tenant_metrics: TenantMetrics | None = None,
        self_metrics: GatewaySelfMetrics | None = None,
        *,
        dedup_window: int = 100_000,
    ) -> None:
        self.writer = writer
        self.tenant_metrics = tenant_metrics
        self.self_metrics = self_metrics
        self.dedup_window = dedup_window
        self.counts: Tally[tuple[str, str]] = Tally()  # (input, accepted|quarantined|duplicate|ignored)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def accept(self, input_name: str, candidates: Iterable[Candidate]) -> SinkResult:
        """Validate and buffer ``candidates`` from ``input_name`` (``otlp``, ``litellm``, ``jsonl:NAME``)."""
        result = SinkResult()
        events: list[UsageEvent] = []
        bad: list[dict] = []
        now = None
        for cand in candidates:
            reason = cand.reason
            if cand.data is not None:
                try:
                    events.append(UsageEvent.model_validate(cand.data))
                    continue
                except ValidationError as exc:
                    reason = self._explain(exc, cand)
            now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            bad.append(_quarantine_row(cand, reason or "unreadable", now))
            if len(result.reasons) < 3:
                result.reasons.append(reason or "unreadable")
        if events:
            self.writer.write(conventions.USAGE, usage_table(events))
        if bad:
            self.writer.write_rows(conventions.QUARANTINE, bad, schemas.QUARANTINE)
        fresh = self._fresh(events)
        result.accepted, result.quarantined = len(events), len(bad)
        result.duplicates = len(events) - len(fresh)
        if self.tenant_metrics is not None and fresh:
            self.tenant_metrics.observe_many(fresh)
        self._count(input_name, result)
        return result

    def _explain(self, exc: ValidationError, cand: Candidate) -> str:
        reason = explain(exc)
        if cand.hints:
            for name, where in cand.hints.items():
                if f"{name}: Field required" in reason:
                    reason = reason.replace(f"{name}: Field required", f"{name}: Field required (looked in {where})")
        return reason

    def _fresh(self, events: list[UsageEvent]) -> list[UsageEvent]:
        if not self.dedup_window:
            return events
        fresh = []
        with self._lock:
            recent = self._recent
            for e in events:
                if e.event_id in recent:
                    continue
                recent[e.event_id] = None
                fresh.append(e)
                if len(recent) > self.dedup_window:
                    recent.popitem(last=False)
        return fresh

    def _count(self, input_name: str, r: SinkResult) -> None:
        with self._lock:
            for outcome, n in (("accepted", r.accepted), ("quarantined", r.quarantined), ("duplicate", r.duplicates)):
                if n:
                    self.counts[(input_name, outcome)] += n
        m = self.self_metrics
        if m is not None:
            if r.accepted:
                m.accepted.labels(input_name).inc(r.accepted)
            if r.quarantined:
                m.quarantined.labels(input_name).inc(r.quarantined)
            if r.duplicates:
                m.duplicates.labels(input_name).inc(r.duplicates)

    def ignored(self, input_name: str, n: int) -> None:
        """Spans that are not GenAI requests (not an error)."""
        if n:
            with self._lock:
                self.counts[(input_name, "ignored")] += n
            if self.self_metrics is not None:
                self.self_metrics.ignored.labels(input_name).inc(n)

    def rejected(self, input_name: str, reason: str) -> None:
        """A whole HTTP request refused (bad body, auth, size)."""
        with self._lock:
            self.counts[(input_name, "rejected:" + reason)] += 1
        if self.self_metrics is not None:
            self.self_metrics.rejected.labels(input_name, reason).inc()

    def flush(self) -> None:
        """Hand what is buffered to the store (or the spool) now."""
        self.writer.flush(conventions.USAGE)
        self.writer.flush(conventions.QUARANTINE)


def usage_table(events: list[UsageEvent]) -> pa.Table:
    """The rows :func:`~infermeter.ingest.models.usage_row` makes, built column by column (3-4x
    faster than dicts for the receiver's batches; a test holds the two to the same result)."""
    columns = {}
    for name in schemas.USAGE.names:
        if name == "ts":
            columns[name] = [e.ts.replace(tzinfo=None) for e in events]  # UTC: parse_ts normalises
        elif name == "attributes":
            columns[name] = [list(e.attributes.items()) for e in events]
        else:
            columns[name] = [getattr(e, name) for e in events]
    return pa.table(columns, schema=schemas.USAGE)


def _quarantine_row(cand: Candidate, reason: str, now: dt.datetime) -> dict:
    try:
        payload = cand.raw()
    except Exception as exc:  # a payload that cannot even be rendered still leaves a trace
        payload = f"<payload not renderable: {type(exc).__name__}: {exc}>"
    if len(payload) > MAX_PAYLOAD_CHARS:
        payload = payload[:MAX_PAYLOAD_CHARS] + f"...<cut, {len(payload)} chars>"
    return {
        "ts": now,
        "kind": gc.QUARANTINE_KIND,
        "origin": cand.origin,
        "line": cand.line,
        "reason": reason,
        "payload": payload,
    }


def make_sink(config, writer: Writer, registry=None) -> UsageSink:
    """A sink wired to ``config`` (a GatewayConfig): tenant metrics and self-metrics on ``registry``."""
    tenant_metrics = TenantMetrics.from_config(registry, config)
    self_metrics = GatewaySelfMetrics(registry)
    return UsageSink(writer, tenant_metrics, self_metrics, dedup_window=config.dedup_window)
