"""Model serving: vLLM V1 engine metrics and Triton per-model metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from infermeter.dashboards.grafana import common
from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana import variables as v
from infermeter.dashboards.grafana.panels import Grid, Row, prom, stat, timeseries
from infermeter.dashboards.grafana.promql import QUANTILES, mean, quantile, sel, sum_rate

M = c.VLLM_LABEL_MODEL
VLLM = sel(**{c.LABEL_DEPLOYMENT: c.VAR_DEPLOYMENT, M: c.VAR_MODEL})
TRITON = sel(**{c.LABEL_DEPLOYMENT: c.VAR_DEPLOYMENT, c.TRITON_LABEL_MODEL: c.VAR_TRITON_MODEL})


def _latency(title: str, histogram: str, description: str) -> Any:
    targets = [prom(quantile(q, histogram, VLLM), f"p{round(q * 100)}") for q in QUANTILES]
    targets.append(prom(mean(histogram, VLLM), "mean"))
    return timeseries(title, targets, unit="s", w=8, description=description)


def _triton_per_request(counter_us: str) -> str:
    """Mean microseconds per successful request, in seconds, by model."""
    by = c.TRITON_LABEL_MODEL
    return f"{sum_rate(counter_us, TRITON, by)} / {sum_rate(c.TRITON_SUCCESS, TRITON, by)} / 1e6"


def variables() -> list[v.Variable]:
    return [
        v.prometheus_datasource(),
        v.prom_label_values(c.VAR_DEPLOYMENT, "Deployment", "{__name__=~\"vllm:num_requests_running|nv_inference_request_success\"}", c.LABEL_DEPLOYMENT),
        v.prom_label_values(c.VAR_MODEL, "vLLM model", f'{c.VLLM_NUM_REQUESTS_RUNNING}{{{c.LABEL_DEPLOYMENT}=~"${c.VAR_DEPLOYMENT}"}}', M),
        v.prom_label_values(c.VAR_TRITON_MODEL, "Triton model", f'{c.TRITON_SUCCESS}{{{c.LABEL_DEPLOYMENT}=~"${c.VAR_DEPLOYMENT}"}}', c.TRITON_LABEL_MODEL),
    ]


def dashboard() -> dict[str, Any]:
    by_model = M
    grid = Grid().add(
        Row("vLLM: load"),
        stat("Requests running", [prom(f"sum({c.VLLM_NUM_REQUESTS_RUNNING}{VLLM})")], w=4),
        stat("Requests waiting", [prom(f"sum({c.VLLM_NUM_REQUESTS_WAITING}{VLLM})")], w=4,
             thresholds=((None, "green"), (10, "orange"), (50, "red"))),
        stat("KV-cache usage (max)", [prom(f"max({c.VLLM_KV_CACHE_USAGE}{VLLM})")], unit="percentunit", w=4,
             thresholds=((None, "green"), (0.8, "orange"), (0.95, "red"))),
        stat("Prefix-cache hit rate",
             [prom(f"{sum_rate(c.VLLM_PREFIX_CACHE_HITS, VLLM)} / {sum_rate(c.VLLM_PREFIX_CACHE_QUERIES, VLLM)}")],
             unit="percentunit", w=4),
        stat("Generation tokens/s", [prom(sum_rate(c.VLLM_GENERATION_TOKENS, VLLM))], unit="short", w=4),
        stat("Preemptions/s", [prom(sum_rate(c.VLLM_NUM_PREEMPTIONS, VLLM))], unit="short", w=4, decimals=3,
             thresholds=((None, "green"), (0.1, "orange"))),
        timeseries(
            "Scheduler: requests running and waiting",
            [
                prom(f"sum by ({by_model}) ({c.VLLM_NUM_REQUESTS_RUNNING}{VLLM})", "running {{%s}}" % by_model),
                prom(f"sum by ({by_model}) ({c.VLLM_NUM_REQUESTS_WAITING}{VLLM})", "waiting {{%s}}" % by_model),
            ],
            w=12,
        ),
        timeseries(
            "Prompt and generation tokens/s",
            [
                prom(sum_rate(c.VLLM_PROMPT_TOKENS, VLLM, by_model), "prompt {{%s}}" % by_model),
                prom(sum_rate(c.VLLM_GENERATION_TOKENS, VLLM, by_model), "generation {{%s}}" % by_model),
            ],
            w=12,
        ),
        Row("vLLM: latency"),
        _latency("Time to first token", c.VLLM_TTFT, "vllm:time_to_first_token_seconds, p50/p95/p99 from the buckets."),
        _latency("Inter-token latency", c.VLLM_ITL, "vllm:inter_token_latency_seconds (V1 name of time per output token)."),
        _latency("End-to-end request latency", c.VLLM_E2E, "vllm:e2e_request_latency_seconds."),
        _latency("Queue time", c.VLLM_QUEUE_TIME, "vllm:request_queue_time_seconds: waiting before scheduling."),
        timeseries(
            "Prefill and decode time (mean per request)",
            [prom(mean(c.VLLM_PREFILL_TIME, VLLM), "prefill"), prom(mean(c.VLLM_DECODE_TIME, VLLM), "decode")],
            unit="s", w=8,
        ),
        timeseries(
            "Finished requests by reason",
            [prom(sum_rate(c.VLLM_REQUEST_SUCCESS, VLLM, "finished_reason"), "{{finished_reason}}")],
            unit="reqps", w=8, stack=True,
        ),
        Row("vLLM: caches and preemption"),
        timeseries(
            "KV-cache usage",
            [prom(f"max by ({by_model}, instance) ({c.VLLM_KV_CACHE_USAGE}{VLLM})", "{{%s}} {{instance}}" % by_model)],
            unit="percentunit", w=8, min_value=0, max_value=1,
        ),
        timeseries(
            "Prefix-cache hit rate",
            [prom(f"{sum_rate(c.VLLM_PREFIX_CACHE_HITS, VLLM, by_model)} / {sum_rate(c.VLLM_PREFIX_CACHE_QUERIES, VLLM, by_model)}",
                  "{{%s}}" % by_model)],
            unit="percentunit", w=8, min_value=0, max_value=1,
            description="Share of prompt tokens found in the prefix cache (hits / queries, in tokens).",
        ),
        timeseries(
            "Preemptions/s",
            [prom(sum_rate(c.VLLM_NUM_PREEMPTIONS, VLLM, by_model), "{{%s}}" % by_model)],
            w=8, description="Requests preempted by the scheduler (KV-cache pressure).",
        ),
        Row("Triton"),
        timeseries(
            "Requests: success and failure",
            [
                prom(sum_rate(c.TRITON_SUCCESS, TRITON, c.TRITON_LABEL_MODEL), "success {{model}}"),
                prom(sum_rate(c.TRITON_FAILURE, TRITON, f"{c.TRITON_LABEL_MODEL}, reason"), "failure {{model}} {{reason}}"),
            ],
            unit="reqps", w=8,
        ),
        timeseries(
            "Queue and compute time per request",
            [
                prom(_triton_per_request(c.TRITON_QUEUE_DURATION_US), "queue {{model}}"),
                prom(_triton_per_request(c.TRITON_COMPUTE_INPUT_US), "compute input {{model}}"),
                prom(_triton_per_request(c.TRITON_COMPUTE_INFER_US), "compute infer {{model}}"),
                prom(_triton_per_request(c.TRITON_COMPUTE_OUTPUT_US), "compute output {{model}}"),
            ],
            unit="s", w=8, stack=True,
            description="Cumulative microsecond counters divided by successful requests.",
        ),
        timeseries(
            "Inferences vs executions (batching)",
            [
                prom(sum_rate(c.TRITON_INFERENCE_COUNT, TRITON, c.TRITON_LABEL_MODEL), "inferences {{model}}"),
                prom(sum_rate(c.TRITON_EXEC_COUNT, TRITON, c.TRITON_LABEL_MODEL), "executions {{model}}"),
                prom(f"{sum_rate(c.TRITON_INFERENCE_COUNT, TRITON, c.TRITON_LABEL_MODEL)} / "
                     f"{sum_rate(c.TRITON_EXEC_COUNT, TRITON, c.TRITON_LABEL_MODEL)}", "avg batch size {{model}}"),
            ],
            w=8, description="Average batch size = inference count / execution count.",
        ),
        timeseries(
            "Pending requests (queue size)",
            [prom(f"sum by ({c.TRITON_LABEL_MODEL}) ({c.TRITON_PENDING}{TRITON})", "{{model}}")],
            w=12,
        ),
        timeseries(
            "Request duration per request",
            [prom(_triton_per_request(c.TRITON_REQUEST_DURATION_US), "{{model}}")],
            unit="s", w=12,
        ),
    )
    return common.build(
        c.UID_SERVING,
        description="vLLM V1 engines and Triton models: load, latency percentiles, caches, batching.",
        variables=variables(),
        grid=grid,
        tags=("vllm", "triton"),
    )
