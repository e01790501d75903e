"""Names shared by every generated dashboard: uids, titles, datasources, variables, labels and the
upstream metric names the panels query.

Uids and variable names are contracts: alert annotations link to
``/d/infermeter-slos/...?var-service=...&var-slo=...`` and provisioning references the datasource
uids. Metric names are exactly the upstream ones (vLLM V1, Triton, dcgm-exporter) or those of
infermeter's own rules and exporter (``infermeter.slo.conventions``).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, urlencode

from infermeter.ingest import conventions as store
from infermeter.slo import conventions as slo

# --- Dashboards -------------------------------------------------------------------------------
UID_FLEET: Final = "infermeter-fleet"
UID_SERVING: Final = "infermeter-serving"
UID_GPU: Final = "infermeter-gpu"
UID_SLOS: Final = "infermeter-slos"
UID_TENANT_COST: Final = "infermeter-tenant-cost"

TITLES: Final = {
    UID_FLEET: "infermeter / Fleet overview",
    UID_SERVING: "infermeter / Model serving",
    UID_GPU: "infermeter / GPUs",
    UID_SLOS: "infermeter / SLOs",
    UID_TENANT_COST: "infermeter / Tenant cost",
}
TAG: Final = "infermeter"
FOLDER: Final = "infermeter"
SCHEMA_VERSION: Final = 39  # Grafana 10.x/11.x dashboards; newer Grafana migrates on load

# --- Datasources --------------------------------------------------------------------------------
PROMETHEUS_TYPE: Final = "prometheus"
CLICKHOUSE_TYPE: Final = "grafana-clickhouse-datasource"
PROMETHEUS_UID: Final = "infermeter-prometheus"
CLICKHOUSE_UID: Final = "infermeter-clickhouse"
PROMETHEUS_NAME: Final = "infermeter Prometheus"
CLICKHOUSE_NAME: Final = "infermeter ClickHouse"
DEFAULT_SCRAPE_INTERVAL: Final = "15s"  # Prometheus datasource `timeInterval` ($__rate_interval)

# --- Template variables -------------------------------------------------------------------------
VAR_PROMETHEUS: Final = "datasource"  # the Prometheus datasource picker
VAR_CLICKHOUSE: Final = "clickhouse"  # the ClickHouse datasource picker
VAR_DEPLOYMENT: Final = "deployment"
VAR_MODEL: Final = "model"
VAR_TRITON_MODEL: Final = "triton_model"
VAR_TENANT: Final = "tenant"
VAR_GPU: Final = "gpu"
VAR_SERVICE: Final = "service"  # sloth_service
VAR_SLO: Final = "slo"  # sloth_slo
PROMETHEUS_ALL: Final = ".*"  # Prometheus variables' custom All value (regex matchers)
# ClickHouse variables keep Grafana's own All value ($__all): the plugin's $__conditionalAll only
# recognises All when no custom All value is set.

# --- Prometheus labels ----------------------------------------------------------------------------
# Every scraped vLLM, Triton and sidecar target carries the `deployment` target label (set by the
# scrape configuration, see docs/dashboards.md). dcgm-exporter runs per node: the deployment of a
# GPU is derived from the `pod` label that dcgm-exporter's Kubernetes mapping adds: a Deployment's
# pod is <deployment>-<replicaset hash (5-10)>-<pod hash (5)>, a StatefulSet's <name>-<ordinal>
# (the same rule as infermeter.exporters.allocation.pod_deployment). RE2 and JavaScript alike.
LABEL_DEPLOYMENT: Final = "deployment"
DCGM_POD_LABEL: Final = "pod"
DCGM_POD_SUFFIX_RE: Final = "-[a-z0-9]{5,10}-[a-z0-9]{5}|-[0-9]+"
DCGM_POD_DEPLOYMENT_RE: Final = f"(.+?)(?:{DCGM_POD_SUFFIX_RE})"
DCGM_GPU_LABEL: Final = "gpu"
DCGM_UUID_LABEL: Final = "UUID"
DCGM_HOST_LABELS: Final = ("Hostname", "hostname")  # releases, newest main
DCGM_MODEL_LABEL: Final = "modelName"

# --- Metric names: vLLM V1 (vllm/v1/metrics/loggers.py) ------------------------------------------
VLLM_LABEL_MODEL: Final = slo.VLLM_LABEL_MODEL  # model_name
VLLM_NUM_REQUESTS_RUNNING: Final = "vllm:num_requests_running"
VLLM_NUM_REQUESTS_WAITING: Final = "vllm:num_requests_waiting"
VLLM_KV_CACHE_USAGE: Final = "vllm:kv_cache_usage_perc"
VLLM_PREFIX_CACHE_QUERIES: Final = "vllm:prefix_cache_queries_total"
VLLM_PREFIX_CACHE_HITS: Final = "vllm:prefix_cache_hits_total"
VLLM_NUM_PREEMPTIONS: Final = "vllm:num_preemptions_total"
VLLM_PROMPT_TOKENS: Final = "vllm:prompt_tokens_total"
VLLM_GENERATION_TOKENS: Final = "vllm:generation_tokens_total"
VLLM_REQUEST_SUCCESS: Final = slo.VLLM_REQUEST_SUCCESS_TOTAL
VLLM_TTFT: Final = slo.VLLM_TTFT_SECONDS  # histograms: base names
VLLM_ITL: Final = slo.VLLM_ITL_SECONDS
VLLM_E2E: Final = slo.VLLM_E2E_SECONDS
VLLM_QUEUE_TIME: Final = "vllm:request_queue_time_seconds"
VLLM_PREFILL_TIME: Final = "vllm:request_prefill_time_seconds"
VLLM_DECODE_TIME: Final = "vllm:request_decode_time_seconds"

# --- Metric names: Triton (counters without _total) -----------------------------------------------
TRITON_LABEL_MODEL: Final = slo.TRITON_LABEL_MODEL  # model
TRITON_SUCCESS: Final = slo.TRITON_REQUEST_SUCCESS
TRITON_FAILURE: Final = slo.TRITON_REQUEST_FAILURE  # label `reason`
TRITON_INFERENCE_COUNT: Final = "nv_inference_count"
TRITON_EXEC_COUNT: Final = "nv_inference_exec_count"
TRITON_PENDING: Final = "nv_inference_pending_request_count"
TRITON_REQUEST_DURATION_US: Final = "nv_inference_request_duration_us"
TRITON_QUEUE_DURATION_US: Final = "nv_inference_queue_duration_us"
TRITON_COMPUTE_INPUT_US: Final = "nv_inference_compute_input_duration_us"
TRITON_COMPUTE_INFER_US: Final = "nv_inference_compute_infer_duration_us"
TRITON_COMPUTE_OUTPUT_US: Final = "nv_inference_compute_output_duration_us"

# --- Metric names: dcgm-exporter (etc/default-counters.csv; SM_ACTIVE must be enabled) ------------
DCGM_GPU_UTIL: Final = "DCGM_FI_DEV_GPU_UTIL"  # %
DCGM_MEM_COPY_UTIL: Final = "DCGM_FI_DEV_MEM_COPY_UTIL"  # %
DCGM_GR_ENGINE_ACTIVE: Final = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"  # ratio (default counters)
DCGM_SM_ACTIVE: Final = "DCGM_FI_PROF_SM_ACTIVE"  # ratio (not in the default counters)
DCGM_TENSOR_ACTIVE: Final = "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"  # ratio
DCGM_DRAM_ACTIVE: Final = "DCGM_FI_PROF_DRAM_ACTIVE"  # ratio
DCGM_FB_USED: Final = "DCGM_FI_DEV_FB_USED"  # MiB
DCGM_FB_FREE: Final = "DCGM_FI_DEV_FB_FREE"  # MiB
DCGM_POWER: Final = "DCGM_FI_DEV_POWER_USAGE"  # W
DCGM_ENERGY: Final = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"  # mJ, counter
DCGM_GPU_TEMP: Final = "DCGM_FI_DEV_GPU_TEMP"  # C
DCGM_MEMORY_TEMP: Final = "DCGM_FI_DEV_MEMORY_TEMP"  # C
DCGM_XID: Final = "DCGM_FI_DEV_XID_ERRORS"  # last XID code (gauge)
MJ_PER_KWH: Final = 3.6e9

# --- Metric names: infermeter's sidecar and SLO rules ---------------------------------------------
GATEWAY_REQUESTS: Final = slo.GATEWAY_REQUESTS_TOTAL
GATEWAY_TOKENS: Final = slo.GATEWAY_TOKENS_TOTAL
GATEWAY_DURATION: Final = slo.GATEWAY_REQUEST_DURATION_SECONDS
GATEWAY_TTFT: Final = slo.GATEWAY_TTFT_SECONDS
GATEWAY_LABEL_TENANT: Final = slo.GATEWAY_LABEL_TENANT
GATEWAY_LABEL_MODEL: Final = slo.GATEWAY_LABEL_MODEL
GATEWAY_LABEL_STATUS_CLASS: Final = slo.GATEWAY_LABEL_STATUS_CLASS
GATEWAY_LABEL_TOKEN_KIND: Final = slo.GATEWAY_LABEL_TOKEN_KIND
SLO_ID_LABELS: Final = (slo.LABEL_ID, slo.LABEL_SERVICE, slo.LABEL_SLO)
ALERTS_METRIC: Final = "ALERTS"  # Prometheus' synthetic series of pending/firing alerts
AT_RISK_BURN_RATE: Final = 1.0  # burning faster than the budget allows
AT_RISK_BUDGET_REMAINING: Final = 0.25  # less than a quarter of the period's budget left

# --- ClickHouse tables (unqualified: the datasource's defaultDatabase is the store's database) ----
USAGE: Final = store.USAGE
GPU_ALLOCATION: Final = store.GPU_ALLOCATION
LEDGER: Final = store.LEDGER
CHARGEBACK_RUNS: Final = store.CHARGEBACK_RUNS


def dashboard_path(uid: str) -> str:
    """The path of a dashboard under the Grafana root URL: ``/d/<uid>/<slug>``."""
    return f"/d/{uid}/{uid}"


def slo_dashboard_url(service: str, slo_name: str, base_url: str = "") -> str:
    """Link to the SLO dashboard with ``service`` and ``slo`` selected (alert annotations use it)."""
    query = urlencode({f"var-{VAR_SERVICE}": service, f"var-{VAR_SLO}": slo_name}, quote_via=quote)
    return f"{base_url.rstrip('/')}{dashboard_path(UID_SLOS)}?{query}"
