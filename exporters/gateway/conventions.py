"""Names of the gateway inputs: OpenTelemetry GenAI attributes, HTTP paths, self-metrics, sources.

The GenAI attribute names follow the OpenTelemetry semantic conventions for generative AI
(``gen_ai.*``, as in opentelemetry-semantic-conventions); ``input_tokens`` counts every input
token, cached ones included, and ``cache_read.input_tokens`` is the cached part of it.
"""

from __future__ import annotations

from typing import Final

# --- OpenTelemetry GenAI span attributes ---------------------------------------------------------
GEN_AI_PREFIX: Final = "gen_ai."
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # the older name of gen_ai.provider.name
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"  # deprecated alias of input_tokens
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"  # deprecated alias of output
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"  # seconds
ERROR_TYPE: Final = "error.type"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
HTTP_STATUS_CODE_OLD: Final = "http.status_code"  # pre-1.21 HTTP conventions
SERVICE_NAME: Final = "service.name"
SERVICE_INSTANCE_ID: Final = "service.instance.id"
K8S_DEPLOYMENT_NAME: Final = "k8s.deployment.name"
K8S_POD_NAME: Final = "k8s.pod.name"
SERVER_ADDRESS: Final = "server.address"

INPUT_TOKEN_ATTRIBUTES: Final = (GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_PROMPT_TOKENS)
OUTPUT_TOKEN_ATTRIBUTES: Final = (GEN_AI_USAGE_OUTPUT_TOKENS, GEN_AI_USAGE_COMPLETION_TOKENS)
CACHED_TOKEN_ATTRIBUTES: Final = (GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,)
HTTP_STATUS_ATTRIBUTES: Final = (HTTP_RESPONSE_STATUS_CODE, HTTP_STATUS_CODE_OLD)

# OTLP span status codes (opentelemetry.proto.trace.v1.Status.StatusCode).
SPAN_STATUS_ERROR: Final = 2

# --- HTTP paths ----------------------------------------------------------------------------------
OTLP_TRACES_PATH: Final = "/v1/traces"
LITELLM_PATH: Final = "/litellm/v1/logs"
CONTENT_TYPE_PROTOBUF: Final = "application/x-protobuf"
CONTENT_TYPE_JSON: Final = "application/json"

# --- `source` column of usage rows and `input` label of the self-metrics -------------------------
SOURCE_OTLP: Final = "otlp"
SOURCE_JSONL: Final = "jsonl"
SOURCE_LITELLM: Final = "litellm"
QUARANTINE_KIND: Final = "usage"

# --- Self-metrics (the sidecar's own /metrics) -----------------------------------------------------
EVENTS_ACCEPTED_TOTAL: Final = "infermeter_gateway_events_accepted_total"  # input
EVENTS_QUARANTINED_TOTAL: Final = "infermeter_gateway_events_quarantined_total"  # input
EVENTS_DUPLICATE_TOTAL: Final = "infermeter_gateway_events_duplicate_total"  # input
SPANS_IGNORED_TOTAL: Final = "infermeter_gateway_spans_ignored_total"  # spans that are not GenAI requests
REQUESTS_REJECTED_TOTAL: Final = "infermeter_gateway_http_rejected_total"  # input, reason
TENANT_LABELS_GAUGE: Final = "infermeter_gateway_tenant_labels"  # tenants holding their own label
TENANT_SWAPS_TOTAL: Final = "infermeter_gateway_tenant_label_swaps_total"
LABEL_INPUT: Final = "input"
LABEL_REASON: Final = "reason"

# The value that stands for every tenant (or model) without a label of its own.
OVERFLOW_LABEL: Final = "other"

# Histogram bounds (seconds). They include the gateway-latency (5 s) and gateway-ttft (1 s)
# default thresholds of slo/templates.py, so those SLIs match a bucket.
DURATION_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS: Final = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0)
