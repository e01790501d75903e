"""UsageSink: validation, quarantine rows, the duplicate window, and the columnar usage batch."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from prometheus_client import CollectorRegistry

from infermeter.exporters.gateway import GatewayConfig, make_sink
from infermeter.exporters.gateway.normalize import Candidate, api_key_id, key_hash, lookup
from infermeter.exporters.gateway.sink import MAX_PAYLOAD_CHARS, usage_table
from infermeter.ingest import schemas
from infermeter.ingest.models import UsageEvent, usage_row
from infermeter.ingest.runtime import open_writer


def data(n: int, **over) -> dict:
    return {"event_id": f"e{n}", "ts": "2026-10-01T12:00:00+02:00", "tenant": "acme", "model": "m",
            "input_tokens": n, "attributes": {"k": "v"}, "source": "otlp", **over}


def test_usage_table_equals_usage_rows():
    events = [UsageEvent.model_validate(data(1)), UsageEvent.model_validate(data(2, ttft_ms=None, attributes={}))]
    expected = pa.Table.from_pylist([usage_row(e) for e in events], schema=schemas.USAGE)
    assert usage_table(events).equals(expected)
    assert usage_table(events).column("ts")[0].as_py() == dt.datetime(2026, 10, 1, 10, 0)  # +02:00 -> UTC


def test_sink_writes_quarantines_and_counts(store, settings_for):
    writer = open_writer(settings_for(store.database), store, "gateway", background=False)
    registry = CollectorRegistry()
    sink = make_sink(GatewayConfig(dedup_window=3), writer, registry)
    huge = "x" * (MAX_PAYLOAD_CHARS + 10)
    result = sink.accept("otlp", [
        Candidate(data(1), "raw-1", "otlp"),
        Candidate(data(2, input_tokens=-3), lambda: "raw-2", "otlp"),
        Candidate(None, huge, "otlp", reason="span has no valid trace_id/span_id"),
        Candidate(data(3, unknown_field=1), "raw-3", "otlp"),
    ])
    assert (result.accepted, result.quarantined, result.duplicates) == (1, 3, 0)
    assert "input_tokens: Input should be greater than or equal to 0" in result.summary()
    # The window remembers 3 ids: e1 is still a duplicate after e4, e5; not after e6.
    assert sink.accept("otlp", [Candidate(data(n), "", "otlp") for n in (4, 5, 1)]).duplicates == 1
    assert sink.accept("otlp", [Candidate(data(n), "", "otlp") for n in (6, 7, 1)]).duplicates == 0
    writer.close()
    assert store.query_scalar("SELECT count() FROM usage FINAL") == 5  # e1, e4, e5, e6, e7
    rows = dict(store.query_rows("SELECT reason, payload FROM quarantine FINAL"))
    assert rows["unknown_field: unknown field"] == "raw-3"
    assert rows["span has no valid trace_id/span_id"].endswith(f"...<cut, {len(huge)} chars>")
    assert registry.get_sample_value("infermeter_gateway_events_accepted_total", {"input": "otlp"}) == 7
    assert registry.get_sample_value("infermeter_gateway_requests_total",
                                     {"tenant": "acme", "model": "m", "status_class": "2xx"}) == 6


def test_key_ids_never_keep_a_secret():
    assert api_key_id("key-7") == "key-7"
    assert api_key_id("sk-live-abc") == key_hash("sk-live-abc")
    assert api_key_id("Bearer sk-live-abc") == key_hash("sk-live-abc")
    assert len(key_hash("x")) == 64


def test_lookup_dotted_paths():
    record = {"a": {"b": [{"c": 1}]}, "x.y": 2}
    assert lookup(record, "a.b.0.c") == 1
    assert lookup(record, "x.y") == 2  # an exact key with dots wins
    assert lookup(record, "a.missing") is None
