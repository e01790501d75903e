"""Names in the store: tables, columns and sources. One place, so every area agrees."""

from __future__ import annotations

SERIES = "series"
SAMPLES = "samples"
SAMPLES_1M = "samples_1m"
SAMPLES_1H = "samples_1h"
USAGE = "usage"
GPU_ALLOCATION = "gpu_allocation"
QUARANTINE = "quarantine"
LEDGER = "ledger"
CHARGEBACK_RUNS = "chargeback_runs"
MIGRATIONS = "schema_migrations"

TABLES = (SERIES, SAMPLES, SAMPLES_1M, SAMPLES_1H, USAGE, GPU_ALLOCATION, QUARANTINE, LEDGER, CHARGEBACK_RUNS)

# `source` values of the series table.
SOURCES = ("vllm", "triton", "dcgm", "nvml", "gateway", "generic")

# Kinds accepted by `infermeter ingest --kind`, and the table each lands in.
INGEST_KINDS = {"usage": USAGE, "allocation": GPU_ALLOCATION}
