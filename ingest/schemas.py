"""Arrow schemas of the tables that the writer fills, matching the migrations' column types."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")
_LABELS = pa.map_(pa.string(), pa.string())

SERIES = pa.schema(
    [
        ("series_id", pa.uint64()),
        ("metric", pa.string()),
        ("labels", _LABELS),
        ("source", pa.string()),
        ("target", pa.string()),
        ("first_seen", TS),
        ("last_seen", TS),
    ]
)

SAMPLES = pa.schema([("series_id", pa.uint64()), ("ts", TS), ("value", pa.float64()), ("delta", pa.float64())])

USAGE = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", pa.timestamp("ms")),
        ("tenant", pa.string()),
        ("api_key_id", pa.string()),
        ("model", pa.string()),
        ("deployment", pa.string()),
        ("instance", pa.string()),
        ("input_tokens", pa.uint64()),
        ("cached_input_tokens", pa.uint64()),
        ("output_tokens", pa.uint64()),
        ("ttft_ms", pa.float64()),
        ("duration_ms", pa.float64()),
        ("status_code", pa.uint16()),
        ("error_type", pa.string()),
        ("attributes", _LABELS),
        ("source", pa.string()),
    ]
)

GPU_ALLOCATION = pa.schema(
    [
        ("ts", pa.timestamp("ms")),
        ("interval_s", pa.float64()),
        ("deployment", pa.string()),
        ("instance", pa.string()),
        ("gpu_uuid", pa.string()),
        ("gpu_model", pa.string()),
        ("mig_profile", pa.string()),
        ("fraction", pa.float64()),
        ("source", pa.string()),
    ]
)

QUARANTINE = pa.schema(
    [
        ("ts", pa.timestamp("ms")),
        ("kind", pa.string()),
        ("origin", pa.string()),
        ("line", pa.uint64()),
        ("reason", pa.string()),
        ("payload", pa.string()),
    ]
)

CHARGEBACK_RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("period_start", pa.date32()),
        ("period_end", pa.date32()),
        ("version", pa.uint32()),
        ("status", pa.string()),
        ("started_at", TS),
        ("finished_at", TS),
        ("usage_watermark", TS),
        ("notes", pa.string()),
    ]
)
