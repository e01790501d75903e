"""Names used by the sidecar: scrape kinds, added labels, synthetic and NVML metrics, self-metrics.

One place, so the scrapers, the NVML collector, the dashboards and the docs agree.
"""

from __future__ import annotations

# --- scrape kinds ---------------------------------------------------------------------------

KINDS = ("vllm", "triton", "dcgm", "generic")
"""``kind`` of a scrape target; it is also the ``source`` column of the target's series."""

NVML_SOURCE = "nvml"

# What a page of each kind is expected to hold (a target whose page has none of these is
# probably misconfigured: the sidecar logs it once) and its usual address.
KIND_PREFIX = {"vllm": "vllm:", "triton": "nv_", "dcgm": "DCGM_FI_", "generic": ""}
KIND_DEFAULT_URL = {
    "vllm": "http://127.0.0.1:8000/metrics",
    "triton": "http://127.0.0.1:8002/metrics",
    "dcgm": "http://127.0.0.1:9400/metrics",
}

# DCGM writes a blank field as a sentinel value near 2**63 (int64 fields,
# DCGM_FT_INT64_BLANK = 0x7ffffffffffffff0 and up) or 2**47 (DCGM_FT_FP64_BLANK = 140737488355328.0
# and up); such samples are dropped.
DCGM_INT64_BLANK = float(0x7FFFFFFFFFFFFFF0)
DCGM_FP64_BLANK = 140737488355328.0
DCGM_FP64_BLANK_MAX = DCGM_FP64_BLANK + 16

# Label renames applied to a kind's pages before they are stored. dcgm-exporter releases write
# `Hostname`, its newest main writes `hostname`: both are stored as `hostname`.
KIND_LABEL_RENAMES: dict[str, dict[str, str]] = {"dcgm": {"Hostname": "hostname"}}

# --- labels the sidecar adds to every series ------------------------------------------------

TARGET_LABEL = "target"
POD_LABEL = "pod"
NAMESPACE_LABEL = "namespace"
NODE_LABEL = "node"
EXPORTED_PREFIX = "exported_"
"""A page label that clashes with an added label is kept as ``exported_<name>`` (Prometheus's
``honor_labels: false`` rule): dcgm-exporter's ``pod``/``namespace`` name the GPU's user."""

# Kubernetes downward-API environment variables read at start-up (see deploy/k8s/).
POD_NAME_ENV = "POD_NAME"
POD_NAMESPACE_ENV = "POD_NAMESPACE"
NODE_NAME_ENV = "NODE_NAME"
K8S_ENV_LABELS = ((POD_NAME_ENV, POD_LABEL), (POD_NAMESPACE_ENV, NAMESPACE_LABEL), (NODE_NAME_ENV, NODE_LABEL))

# --- synthetic samples written for every scrape (Prometheus' own names) ---------------------

UP = "up"
SCRAPE_DURATION = "scrape_duration_seconds"
SCRAPE_SAMPLES = "scrape_samples_scraped"
SYNTHETIC = (UP, SCRAPE_DURATION, SCRAPE_SAMPLES)

# --- NVML metrics (source "nvml"); labels: gpu (index), uuid, model --------------------------

GPU_UTILIZATION = "infermeter_gpu_utilization_percent"
GPU_MEMORY_UTILIZATION = "infermeter_gpu_memory_utilization_percent"
GPU_MEMORY_USED = "infermeter_gpu_memory_used_bytes"
GPU_MEMORY_TOTAL = "infermeter_gpu_memory_total_bytes"
GPU_POWER = "infermeter_gpu_power_watts"
GPU_ENERGY = "infermeter_gpu_energy_joules_total"
GPU_TEMPERATURE = "infermeter_gpu_temperature_celsius"
GPU_SM_CLOCK = "infermeter_gpu_sm_clock_hertz"
GPU_PROCESS_MEMORY = "infermeter_gpu_process_memory_used_bytes"  # + pid, process
GPU_MIG_MEMORY_USED = "infermeter_gpu_mig_memory_used_bytes"  # + mig_uuid, mig_profile, gpu_instance
GPU_MIG_MEMORY_TOTAL = "infermeter_gpu_mig_memory_total_bytes"
GPU_MIG_FRACTION = "infermeter_gpu_mig_fraction"  # slices of the instance / slices of the GPU

NVML_TYPES = {
    GPU_UTILIZATION: "gauge",
    GPU_MEMORY_UTILIZATION: "gauge",
    GPU_MEMORY_USED: "gauge",
    GPU_MEMORY_TOTAL: "gauge",
    GPU_POWER: "gauge",
    GPU_ENERGY: "counter",
    GPU_TEMPERATURE: "gauge",
    GPU_SM_CLOCK: "gauge",
    GPU_PROCESS_MEMORY: "gauge",
    GPU_MIG_MEMORY_USED: "gauge",
    GPU_MIG_MEMORY_TOTAL: "gauge",
    GPU_MIG_FRACTION: "gauge",
}

# Slices of a whole GPU in MIG mode, when NVML cannot say (DCGM labels, profile names).
DEFAULT_MIG_SLICES = 7
MIG_SLICES_BY_MODEL = {"A30": 4}

# --- allocation sources (gpu_allocation.source) ---------------------------------------------

ALLOC_CONFIG = "config"
ALLOC_NVML = "nvml"
ALLOC_DCGM = "dcgm"

# dcgm-exporter labels read for allocation heartbeats.
DCGM_UUID = "UUID"
DCGM_MODEL = "modelName"
DCGM_MIG_PROFILE = "GPU_I_PROFILE"
DCGM_MIG_ID = "GPU_I_ID"
DCGM_POD = "pod"
DCGM_NAMESPACE = "namespace"

# --- the sidecar's own /metrics -------------------------------------------------------------

SELF_PREFIX = "infermeter_exporter_"
SCRAPE_ERROR_REASONS = ("connect", "timeout", "http_status", "too_large", "decode", "parse")
DEFAULT_LISTEN = "0.0.0.0:9470"
