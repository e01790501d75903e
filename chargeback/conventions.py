"""Names in the ledger: resources, units, methods, issues and the idle tenant. One place for every reader."""

from __future__ import annotations

# ``ledger.resource``
GPU = "gpu"  # busy GPU-hours attributed by work (or to the dedicated tenant)
GPU_IDLE = "gpu_idle"  # held GPU-hours with no work in the minute, placed by the idle policy
INPUT_TOKENS = "input_tokens"  # uncached input tokens of a token-priced model
CACHED_INPUT_TOKENS = "cached_input_tokens"
OUTPUT_TOKENS = "output_tokens"
TOKEN_RESOURCES = (INPUT_TOKENS, CACHED_INPUT_TOKENS, OUTPUT_TOKENS)
RESOURCES = (GPU, GPU_IDLE, *TOKEN_RESOURCES)

# ``ledger.unit``
UNIT_GPU_HOUR = "GPU-hour"
UNIT_1M_TOKENS = "1M tokens"

# ``ledger.method``
METHOD_DEDICATED = "dedicated"
METHOD_SHARED = "shared"
METHOD_IDLE = {"proportional": "idle-proportional", "owner": "idle-owner", "separate": "idle-separate"}
METHOD_IDLE_DEDICATED = "idle-dedicated"
METHOD_LIST_PRICE = "list-price"
METHOD_ADJUSTMENT = "adjustment"

# ``ledger.issue``: why a line needs a look ('' = none). Lines with an issue are never dropped.
ISSUE_UNKNOWN_TENANT = "unknown-tenant"
ISSUE_UNKNOWN_DEPLOYMENT = "unknown-deployment"
ISSUE_NO_ALLOCATION = "no-allocation"  # GPU-priced usage in minutes where the deployment held no GPU
ISSUE_NOT_DEDICATED_TENANT = "not-dedicated-tenant"  # usage on a deployment dedicated to someone else

# The tenant of idle lines under the ``separate`` policy (and where no owner can take them).
IDLE_TENANT = "(idle)"

IDLE_POLICIES = ("proportional", "owner", "separate")

# The prefill/decode time split (``Weights.phase_split``): the ``_sum`` series of vLLM's phase
# histograms, and the labels naming a series' deployment: ``deployment`` (a target's static label),
# else the instance (``pod``, else ``target``) looked up in ``gpu_allocation``.
PREFILL_TIME_SUM = "vllm:request_prefill_time_seconds_sum"
DECODE_TIME_SUM = "vllm:request_decode_time_seconds_sum"
DEPLOYMENT_LABEL = "deployment"
INSTANCE_LABELS = ("pod", "target")

# ``chargeback_runs.status``
STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"

# Decimal places of the ledger columns (ingest/migrations/0001_initial.sql).
QUANTITY_PLACES = 9
UNIT_PRICE_PLACES = 12
COST_PLACES = 2
