"""The sidecar's own metrics, on its ``/metrics`` (one prometheus_client registry).

Per target: scrape duration (histogram), scrapes, errors by reason, up, samples scraped,
malformed lines, counter resets seen, series on the last page, skipped ticks. The writer's
counters (rows written per table, batches spooled and retried, rows dropped by reason, spool
bytes and batches, buffered rows, insert errors) are read at collection time. NVML and
allocation heartbeats have a few more. The gateway's per-tenant metrics register on the same
registry (``SidecarMetrics.registry``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from infermeter.exporters import conventions as c
from infermeter.ingest.writer import Writer

P = c.SELF_PREFIX
SCRAPE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class SidecarMetrics:
    """Self-metrics; thread-safe (prometheus_client metrics are)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.scrape_duration = Histogram(
            P + "scrape_duration_seconds", "Time to fetch a target's page.", ["target"], buckets=SCRAPE_BUCKETS, registry=r
        )
        self.scrapes = Counter(P + "scrapes", "Scrapes attempted.", ["target"], registry=r)
        self.scrape_errors = Counter(P + "scrape_errors", "Failed scrapes, by reason.", ["target", "reason"], registry=r)
        self.target_up = Gauge(P + "target_up", "1 when the last scrape succeeded.", ["target"], registry=r)
        self.samples_scraped = Counter(P + "samples_scraped", "Samples read from pages.", ["target"], registry=r)
        self.samples_written = Counter(
            P + "samples_written", "Sample rows handed to the writer.", ["target"], registry=r
        )
        self.parse_errors = Counter(P + "parse_errors", "Malformed lines skipped in pages.", ["target"], registry=r)
        self.counter_resets = Counter(P + "counter_resets", "Counter resets seen.", ["target"], registry=r)
        self.series = Gauge(P + "series", "Series on the target's last page.", ["target"], registry=r)
        self.skipped = Counter(P + "scrapes_skipped", "Ticks skipped because the sidecar fell behind.", ["target"], registry=r)
        self.nvml_up = Gauge(P + "nvml_up", "1 when NVML answers, 0 when it is unavailable.", registry=r)
        self.nvml_errors = Counter(P + "nvml_errors", "NVML calls that failed.", registry=r)
        self.allocation_rows = Counter(
            P + "allocation_heartbeats", "gpu_allocation rows written, by source.", ["source"], registry=r
        )
        self.store_connected = Gauge(P + "store_connected", "1 when the writer has a store.", registry=r)
        self._writer_collector: _WriterCollector | None = None

    def add_target(self, name: str) -> None:
        """Create a target's series at zero, so that rates and absences read well from the start."""
        self.scrapes.labels(name)
        for reason in c.SCRAPE_ERROR_REASONS:
            self.scrape_errors.labels(name, reason)
        for metric in (self.samples_scraped, self.samples_written, self.parse_errors, self.counter_resets, self.skipped):
            metric.labels(name)
        self.target_up.labels(name).set(0)

    def watch_writer(self, writer_of: Callable[[], Writer | None]) -> None:
        """Expose the writer's counters (read when /metrics is collected)."""
        if self._writer_collector is None:
            self._writer_collector = _WriterCollector(writer_of)
            self.registry.register(self._writer_collector)


class _WriterCollector(Collector):
    def __init__(self, writer_of: Callable[[], Writer | None]) -> None:
        self._writer_of = writer_of

    def collect(self) -> Iterable:
        writer = self._writer_of()
        if writer is None:
            return []
        st = writer.stats
        rows = CounterMetricFamily(P + "rows_written", "Rows the store acknowledged, by table.", labels=["table"])
        for table, n in sorted(dict(st.rows_written).items()):
            rows.add_metric([table], n)
        dropped = CounterMetricFamily(P + "rows_dropped", "Rows dropped by the writer, by reason.", labels=["reason"])
        for reason, n in sorted(dict(st.rows_dropped).items()):
            dropped.add_metric([reason], n)
        return [
            rows,
            dropped,
            CounterMetricFamily(P + "batches_written", "Batches inserted.", value=st.batches_written),
            CounterMetricFamily(P + "batches_retried", "Batches inserted from the spool after a failure.", value=st.batches_retried),
            CounterMetricFamily(P + "batches_spooled", "Batches written to the spool.", value=st.batches_spooled),
            CounterMetricFamily(P + "insert_errors", "Inserts that failed.", value=st.insert_errors),
            GaugeMetricFamily(P + "spool_bytes", "Bytes waiting in the spool.", value=st.spool_bytes),
            GaugeMetricFamily(P + "spool_batches", "Batches waiting in the spool (spool depth).", value=st.spool_batches),
            GaugeMetricFamily(P + "buffered_rows", "Rows buffered in memory.", value=st.buffered_rows),
        ]
