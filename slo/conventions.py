"""Names and labels shared by every generated rule, and the metric names the SLO templates rely on.

The Sloth-compatible names are the contract with Sloth's dashboards and alert routing: changing
one breaks byte-for-byte compatibility. The ``infermeter`` names are our extensions.
"""

from __future__ import annotations

import re
from typing import Final

# --- Sloth rule names (slok/sloth conventions) -----------------------------------------------
SLI_ERROR_METRIC_PREFIX: Final = "slo:sli_error:ratio_rate"
OBJECTIVE_RATIO_METRIC: Final = "slo:objective:ratio"
ERROR_BUDGET_RATIO_METRIC: Final = "slo:error_budget:ratio"
TIME_PERIOD_DAYS_METRIC: Final = "slo:time_period:days"
CURRENT_BURN_RATE_METRIC: Final = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE_METRIC: Final = "slo:period_burn_rate:ratio"
PERIOD_ERROR_BUDGET_REMAINING_METRIC: Final = "slo:period_error_budget_remaining:ratio"
SLO_INFO_METRIC: Final = "sloth_slo_info"

# --- Sloth labels -----------------------------------------------------------------------------
LABEL_SLO: Final = "sloth_slo"
LABEL_ID: Final = "sloth_id"
LABEL_SERVICE: Final = "sloth_service"
LABEL_WINDOW: Final = "sloth_window"
LABEL_SEVERITY: Final = "sloth_severity"
LABEL_VERSION: Final = "sloth_version"
LABEL_MODE: Final = "sloth_mode"
LABEL_SPEC: Final = "sloth_spec"
LABEL_OBJECTIVE: Final = "sloth_objective"

SEVERITY_PAGE: Final = "page"
SEVERITY_TICKET: Final = "ticket"

# --- Sloth rule group names -------------------------------------------------------------------
GROUP_SLI_PREFIX: Final = "sloth-slo-sli-recordings-"
GROUP_META_PREFIX: Final = "sloth-slo-meta-recordings-"
GROUP_ALERTS_PREFIX: Final = "sloth-slo-alerts-"

# --- Spec conventions -------------------------------------------------------------------------
NAME_RE: Final = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$")
WINDOW_VAR_RE: Final = re.compile(r"{{ *\.window *}}")
WINDOW_VAR_NAME: Final = "window"

# --- Header and info labels -------------------------------------------------------------------
DEFAULT_TOOL_NAME: Final = "Sloth"
DEFAULT_TOOL_URL: Final = "https://github.com/slok/sloth"
MODE_CLI_PROMETHEUS: Final = "cli-gen-prom"
MODE_CLI_KUBERNETES: Final = "cli-gen-k8s"
MODE_CLI_OPENSLO: Final = "cli-gen-openslo"
SPEC_SLOTH_V1: Final = "prometheus/v1"
SPEC_K8S_V1: Final = "sloth.slok.dev/v1"
SPEC_OPENSLO_V1ALPHA: Final = "openslo/v1alpha"
SPEC_INFERMETER_V1: Final = "infermeter/v1"
K8S_COMPONENT_LABELS: Final = {
    "app.kubernetes.io/component": "SLO",
    "app.kubernetes.io/managed-by": "sloth",
}

# --- infermeter extensions: rule names and labels ---------------------------------------------
SLI_TOTAL_EVENTS_PREFIX: Final = "slo:sli_total:events"  # + window: events seen in that window
CALENDAR_MONTH_WINDOW: Final = "calendar_month"
CALENDAR_SLI_METRIC: Final = SLI_ERROR_METRIC_PREFIX + "_" + CALENDAR_MONTH_WINDOW
CALENDAR_START_METRIC: Final = "slo:calendar_month_start:timestamp"
CALENDAR_ELAPSED_METRIC: Final = "slo:calendar_month_elapsed:ratio"
GROUP_CALENDAR_PREFIX: Final = "infermeter-slo-calendar-recordings-"


def sli_error_metric(window: str) -> str:
    """``slo:sli_error:ratio_rate<window>`` for a Prometheus duration string such as ``5m``."""
    return SLI_ERROR_METRIC_PREFIX + window


def sli_total_events_metric(window: str) -> str:
    """``slo:sli_total:events<window>``: requests counted in that window (min-traffic guard)."""
    return SLI_TOTAL_EVENTS_PREFIX + window


# --- Metric names: the infermeter exporter's re-exposed gateway metrics ---------------------------
# The exporter's /metrics page carries these per-tenant series (cardinality capped there).
GATEWAY_REQUESTS_TOTAL: Final = "infermeter_gateway_requests_total"  # tenant, model, status_class
GATEWAY_REQUEST_DURATION_SECONDS: Final = "infermeter_gateway_request_duration_seconds"  # histogram
GATEWAY_TTFT_SECONDS: Final = "infermeter_gateway_ttft_seconds"  # histogram: tenant, model
GATEWAY_TOKENS_TOTAL: Final = "infermeter_gateway_tokens_total"  # tenant, model, kind
GATEWAY_LABEL_TENANT: Final = "tenant"
GATEWAY_LABEL_MODEL: Final = "model"
GATEWAY_LABEL_STATUS_CLASS: Final = "status_class"  # 2xx | 4xx | 5xx
GATEWAY_LABEL_TOKEN_KIND: Final = "kind"  # input | cached_input | output
GATEWAY_STATUS_CLASSES: Final = ("2xx", "4xx", "5xx")
GATEWAY_TOKEN_KINDS: Final = ("input", "cached_input", "output")

# --- Metric names: upstream inference servers ---------------------------------------------------
VLLM_REQUEST_SUCCESS_TOTAL: Final = "vllm:request_success_total"  # finished_reason, model_name
VLLM_TTFT_SECONDS: Final = "vllm:time_to_first_token_seconds"
VLLM_ITL_SECONDS: Final = "vllm:inter_token_latency_seconds"
VLLM_ITL_SECONDS_LEGACY: Final = "vllm:time_per_output_token_seconds"  # before vLLM V1's rename
VLLM_E2E_SECONDS: Final = "vllm:e2e_request_latency_seconds"
VLLM_LABEL_MODEL: Final = "model_name"
TRITON_REQUEST_SUCCESS: Final = "nv_inference_request_success"  # counters without _total
TRITON_REQUEST_FAILURE: Final = "nv_inference_request_failure"
TRITON_LABEL_MODEL: Final = "model"
