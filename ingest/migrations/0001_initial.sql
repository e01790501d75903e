-- infermeter schema, version 1. Rendered by infermeter.ingest.migrate:
--   {db}                 the database            {on_cluster}  ON CLUSTER <name> in cluster mode
--   {table:NAME}         the storage table: NAME, or NAME_local in cluster mode
--   {engine:NAME:KIND}   KIND (a *MergeTree engine), or its Replicated* form in cluster mode
--   {distributed:NAME:SHARDING_KEY}  in cluster mode, a Distributed table NAME over NAME_local
--   {ttl_days}           retention of raw samples
-- Statements are separated by lines holding only ';'.

CREATE TABLE IF NOT EXISTS {db}.{table:series} {on_cluster}
(
    series_id   UInt64,
    -- Functions of series_id (a hash of metric and labels): `any` keeps them through merges.
    metric      SimpleAggregateFunction(any, LowCardinality(String)),
    labels      SimpleAggregateFunction(any, Map(String, String)),
    source      SimpleAggregateFunction(any, LowCardinality(String)),
    target      SimpleAggregateFunction(any, LowCardinality(String)),
    first_seen  SimpleAggregateFunction(min, DateTime64(3)),
    last_seen   SimpleAggregateFunction(max, DateTime64(3))
)
ENGINE = {engine:series:AggregatingMergeTree}
ORDER BY series_id
SETTINGS non_replicated_deduplication_window = 10000
;
{distributed:series:series_id}
;
CREATE TABLE IF NOT EXISTS {db}.{table:samples} {on_cluster}
(
    series_id   UInt64                  CODEC(DoubleDelta, ZSTD(1)),
    ts          DateTime64(3, 'UTC')    CODEC(DoubleDelta, ZSTD(1)),
    -- Delta on the float's bit pattern: a counter's next value shares its exponent, so the
    -- difference is a small integer with trailing zeros (1.11 B/sample vs 1.93 for Gorilla in
    -- bench/bench_writer.py); increments compress best with plain ZSTD (0.80 vs 0.92).
    value       Float64                 CODEC(Delta(8), ZSTD(1)),
    delta       Float64                 CODEC(ZSTD(1))
)
ENGINE = {engine:samples:MergeTree}
PARTITION BY toDate(ts)
ORDER BY (series_id, ts)
TTL toDateTime(ts) + INTERVAL {ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1
;
{distributed:samples:series_id}
;
CREATE TABLE IF NOT EXISTS {db}.{table:samples_1m} {on_cluster}
(
    series_id   UInt64,
    ts          DateTime('UTC')  CODEC(DoubleDelta, ZSTD(1)),
    min         SimpleAggregateFunction(min, Float64),
    max         SimpleAggregateFunction(max, Float64),
    sum         SimpleAggregateFunction(sum, Float64),
    count       SimpleAggregateFunction(sum, UInt64),
    delta       SimpleAggregateFunction(sum, Float64),
    last        AggregateFunction(argMax, Float64, DateTime64(3, 'UTC'))
)
ENGINE = {engine:samples_1m:AggregatingMergeTree}
PARTITION BY toYYYYMM(ts)
ORDER BY (series_id, ts)
TTL ts + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000
;
{distributed:samples_1m:series_id}
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{table:samples_1m_mv} {on_cluster}
TO {db}.{table:samples_1m}
AS SELECT
    series_id,
    toStartOfMinute(s.ts) AS ts,
    min(value) AS min,
    max(value) AS max,
    sum(value) AS sum,
    count() AS count,
    sum(delta) AS delta,
    argMaxState(s.value, s.ts) AS last
FROM {db}.{table:samples} AS s
GROUP BY series_id, ts
;
CREATE TABLE IF NOT EXISTS {db}.{table:samples_1h} {on_cluster}
(
    series_id   UInt64,
    ts          DateTime('UTC')  CODEC(DoubleDelta, ZSTD(1)),
    min         SimpleAggregateFunction(min, Float64),
    max         SimpleAggregateFunction(max, Float64),
    sum         SimpleAggregateFunction(sum, Float64),
    count       SimpleAggregateFunction(sum, UInt64),
    delta       SimpleAggregateFunction(sum, Float64),
    last        AggregateFunction(argMax, Float64, DateTime64(3, 'UTC'))
)
ENGINE = {engine:samples_1h:AggregatingMergeTree}
PARTITION BY toYYYYMM(ts)
ORDER BY (series_id, ts)
SETTINGS non_replicated_deduplication_window = 10000
;
{distributed:samples_1h:series_id}
;
-- The hourly rollup reads the minute rollup, not raw samples: 60x fewer rows per insert.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{table:samples_1h_mv} {on_cluster}
TO {db}.{table:samples_1h}
AS SELECT
    m.series_id AS series_id,
    toStartOfHour(m.ts) AS ts,
    min(m.min) AS min,
    max(m.max) AS max,
    sum(m.sum) AS sum,
    sum(m.count) AS count,
    sum(m.delta) AS delta,
    argMaxMergeState(m.last) AS last
FROM {db}.{table:samples_1m} AS m
GROUP BY series_id, ts
;
CREATE TABLE IF NOT EXISTS {db}.{table:usage} {on_cluster}
(
    event_id            String,
    ts                  DateTime64(3, 'UTC'),
    tenant              LowCardinality(String),
    api_key_id          String,
    model               LowCardinality(String),
    deployment          LowCardinality(String),
    instance            LowCardinality(String),
    input_tokens        UInt64,
    cached_input_tokens UInt64,
    output_tokens       UInt64,
    ttft_ms             Nullable(Float64),
    duration_ms         Float64,
    status_code         UInt16,
    error_type          LowCardinality(String),
    attributes          Map(LowCardinality(String), String),
    source              LowCardinality(String),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {engine:usage:ReplacingMergeTree(ingested_at)}
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), tenant, event_id)
SETTINGS non_replicated_deduplication_window = 10000
;
{distributed:usage:cityHash64(event_id)}
;
CREATE TABLE IF NOT EXISTS {db}.{table:gpu_allocation} {on_cluster}
(
    ts          DateTime64(3, 'UTC'),
    interval_s  Float64,
    deployment  LowCardinality(String),
    instance    LowCardinality(String),
    gpu_uuid    LowCardinality(String),
    gpu_model   LowCardinality(String),
    mig_profile LowCardinality(String) DEFAULT '',
    fraction    Float64 DEFAULT 1,
    source      LowCardinality(String) DEFAULT 'config'
)
ENGINE = {engine:gpu_allocation:ReplacingMergeTree}
PARTITION BY toYYYYMM(ts)
ORDER BY (deployment, instance, gpu_uuid, ts)
SETTINGS non_replicated_deduplication_window = 10000
;
{distributed:gpu_allocation:cityHash64(deployment, instance)}
;
CREATE TABLE IF NOT EXISTS {db}.{table:quarantine} {on_cluster}
(
    ts          DateTime64(3, 'UTC') DEFAULT now64(3),
    kind        LowCardinality(String),
    origin      String,
    line        UInt64,
    reason      String,
    payload     String,
    payload_hash UInt64 MATERIALIZED cityHash64(payload)
)
ENGINE = {engine:quarantine:ReplacingMergeTree}
PARTITION BY toYYYYMM(ts)
ORDER BY (kind, origin, line, payload_hash)
TTL toDateTime(ts) + INTERVAL 180 DAY
SETTINGS non_replicated_deduplication_window = 10000
;
{distributed:quarantine:rand()}
;
CREATE TABLE IF NOT EXISTS {db}.{table:ledger} {on_cluster}
(
    run_id          String,
    period_start    Date,
    period_end      Date,
    tenant          LowCardinality(String),
    deployment      LowCardinality(String),
    model           LowCardinality(String),
    resource        LowCardinality(String),
    quantity        Decimal(38, 9),
    unit            LowCardinality(String),
    unit_price      Decimal(38, 12),
    cost            Decimal(38, 2),
    currency        LowCardinality(String),
    method          LowCardinality(String),
    created_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {engine:ledger:MergeTree}
PARTITION BY toYYYYMM(period_start)
ORDER BY (period_start, tenant, deployment, model, resource, run_id)
SETTINGS non_replicated_deduplication_window = 10000
;
{distributed:ledger:cityHash64(tenant)}
;
CREATE TABLE IF NOT EXISTS {db}.{table:chargeback_runs} {on_cluster}
(
    run_id          String,
    period_start    Date,
    period_end      Date,
    version         UInt32,
    status          LowCardinality(String),
    started_at      DateTime64(3, 'UTC'),
    finished_at     Nullable(DateTime64(3, 'UTC')),
    usage_watermark Nullable(DateTime64(3, 'UTC')),
    notes           String
)
ENGINE = {engine:chargeback_runs:ReplacingMergeTree(started_at)}
ORDER BY (period_start, run_id)
;
{distributed:chargeback_runs:cityHash64(run_id)}
