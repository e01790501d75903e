"""A fleet's Prometheus history as an OpenMetrics file, for ``promtool tsdb create-blocks-from
openmetrics``: every metric the dashboards query, with upstream names, labels and buckets.

Fleet: vLLM deployments ``llama-8b`` (2 instances) and ``qwen-32b`` (1), a Triton deployment
``triton-embed`` (models ``bge-large`` and ``reranker``), six GPUs on two hosts (dcgm-exporter
with Kubernetes pod labels; one GPU idle, without a pod), the sidecars' gateway metrics for
three tenants, and the recording rules of three SLOs (``infermeter slo generate`` names): a
grouped calendar-month SLO per tenant with a firing page alert, a 30d and a 28d one.

Scrape interval 60 s. Values are smooth functions of time plus seeded noise; counters only grow.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from infermeter.slo.templates import VLLM_E2E_BUCKETS, VLLM_ITL_BUCKETS, VLLM_TTFT_BUCKETS

STEP_S = 60
TENANTS = ("acme", "globex", "initech")
VLLM_DEPLOYMENTS = {  # deployment -> (model_name, instances)
    "llama-8b": ("meta-llama/Llama-3.1-8B-Instruct", 2),
    "qwen-32b": ("Qwen/Qwen2.5-32B-Instruct", 1),
}
TRITON_DEPLOYMENT = "triton-embed"
TRITON_MODELS = ("bge-large", "reranker")
GATEWAY_MODELS = {"llama-8b": "llama-3.1-8b", "qwen-32b": "qwen-2.5-32b", "triton-embed": "bge-large"}
# GPU index on host -> pod (None: idle GPU)
GPUS = (
    ("gpu-node-a", 0, "llama-8b-7d9f8b6c5d-x2k4p"),
    ("gpu-node-a", 1, "llama-8b-7d9f8b6c5d-q8m3z"),
    ("gpu-node-a", 2, "qwen-32b-5c6b7d8f9-hh7rt"),
    ("gpu-node-b", 0, "qwen-32b-5c6b7d8f9-hh7rt"),
    ("gpu-node-b", 1, "triton-embed-6f7d8c9b4-ab12c"),
    ("gpu-node-b", 2, None),
)
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                   240.0, 480.0, 960.0, 1920.0, 7680.0)


@dataclass(frozen=True)
class Span:
    """The sample times: ``start`` to ``end`` inclusive, every STEP_S seconds (aligned)."""

    start: dt.datetime
    end: dt.datetime

    @property
    def times(self) -> np.ndarray:
        s, e = int(self.start.timestamp()), int(self.end.timestamp())
        return np.arange(s, e + 1, STEP_S, dtype=np.int64)


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}" if inner else ""


class Writer:
    """Collects series and writes them as OpenMetrics text (no TYPE lines: names stay as exposed)."""

    def __init__(self, times: np.ndarray, seed: int = 7) -> None:
        self.times = times
        self.rng = np.random.default_rng(seed)
        self.series: dict[str, list[tuple[str, np.ndarray]]] = {}

    def add(self, name: str, labels: dict[str, str], values: np.ndarray, times: np.ndarray | None = None) -> None:
        self.series.setdefault(name, []).append((_labels(labels), values if times is None else (times, values)))

    def wave(self, base: float, amp: float, period_h: float = 3.0, phase: float = 0.0, noise: float = 0.05) -> np.ndarray:
        t = (self.times - self.times[0]) / 3600.0
        v = base + amp * np.sin(2 * math.pi * t / period_h + phase)
        return np.maximum(v * (1 + noise * self.rng.standard_normal(len(t))), 0.0)

    def counter(self, rate_per_s: np.ndarray | float, start: float = 1000.0) -> np.ndarray:
        rate = np.broadcast_to(np.asarray(rate_per_s, dtype=float), self.times.shape)
        return start + np.cumsum(rate * STEP_S)

    def histogram(self, name: str, labels: dict[str, str], buckets: tuple[float, ...], rate: np.ndarray,
                  median: float, sigma: float = 0.6) -> None:
        """Cumulative bucket counts of a log-normal latency at ``rate`` observations per second."""
        count = self.counter(rate, start=0.0)
        mu = math.log(median)
        for le in buckets:
            share = 0.5 * (1 + math.erf((math.log(le) - mu) / (sigma * math.sqrt(2))))
            self.add(f"{name}_bucket", {**labels, "le": _le(le)}, count * share)
        self.add(f"{name}_bucket", {**labels, "le": "+Inf"}, count)
        self.add(f"{name}_count", labels, count)
        self.add(f"{name}_sum", labels, count * median * math.exp(sigma * sigma / 2))

    def lines(self) -> Iterator[str]:
        for name in sorted(self.series):
            for labels, values in self.series[name]:
                times, vals = values if isinstance(values, tuple) else (self.times, values)
                for t, v in zip(times.tolist(), vals.tolist()):
                    yield f"{name}{labels} {v:.12g} {t}\n"
        yield "# EOF\n"


def _le(bound: float) -> str:
    return repr(float(bound))  # Python clients write 1.0, 0.25: as vLLM exposes them


def _vllm(w: Writer) -> None:
    for deployment, (model, instances) in VLLM_DEPLOYMENTS.items():
        for i in range(instances):
            target = {"job": "vllm", "instance": f"{deployment}-{i}:8000", "deployment": deployment,
                      "namespace": "inference"}
            labels = {**target, "engine": "0", "model_name": model}
            rps = w.wave(4.0 + i, 2.0, phase=i)
            running = w.wave(20, 8, phase=i)
            w.add("vllm:num_requests_running", labels, np.round(running))
            w.add("vllm:num_requests_waiting", labels, np.round(w.wave(3, 3, phase=i + 1)))
            w.add("vllm:kv_cache_usage_perc", labels, np.minimum(w.wave(0.55, 0.25, phase=i), 1.0))
            queries = w.counter(rps * 900)
            w.add("vllm:prefix_cache_queries_total", labels, queries)
            w.add("vllm:prefix_cache_hits_total", labels, queries * 0.35)
            w.add("vllm:num_preemptions_total", labels, w.counter(w.wave(0.02, 0.02), start=3))
            w.add("vllm:prompt_tokens_total", labels, w.counter(rps * 900))
            w.add("vllm:generation_tokens_total", labels, w.counter(rps * 210))
            for reason, share in (("stop", 0.9), ("length", 0.08), ("abort", 0.015), ("error", 0.005)):
                w.add("vllm:request_success_total", {**labels, "finished_reason": reason}, w.counter(rps * share))
            w.histogram("vllm:time_to_first_token_seconds", labels, VLLM_TTFT_BUCKETS, rps, 0.12)
            w.histogram("vllm:inter_token_latency_seconds", labels, VLLM_ITL_BUCKETS, rps * 200, 0.03)
            w.histogram("vllm:e2e_request_latency_seconds", labels, VLLM_E2E_BUCKETS, rps, 6.0)
            w.histogram("vllm:request_queue_time_seconds", labels, LATENCY_BUCKETS, rps, 0.4, sigma=1.0)
            w.histogram("vllm:request_prefill_time_seconds", labels, LATENCY_BUCKETS, rps, 0.3)
            w.histogram("vllm:request_decode_time_seconds", labels, LATENCY_BUCKETS, rps, 5.5)


def _triton(w: Writer) -> None:
    target = {"job": "triton", "instance": "triton-embed-0:8002", "deployment": TRITON_DEPLOYMENT}
    for j, model in enumerate(TRITON_MODELS):
        labels = {**target, "model": model, "version": "1"}
        rps = w.wave(30 + 10 * j, 10, phase=j)
        success = w.counter(rps)
        w.add("nv_inference_request_success", labels, success)
        for reason, share in (("REJECTED", 0.002), ("BACKEND", 0.001), ("CANCELED", 0.0005), ("OTHER", 0.0)):
            w.add("nv_inference_request_failure", {**labels, "reason": reason}, w.counter(rps * share, start=0))
        w.add("nv_inference_count", labels, success * 1.0)
        w.add("nv_inference_exec_count", labels, success / 6.5)  # dynamic batching: ~6.5 per batch
        w.add("nv_inference_pending_request_count", labels, np.round(w.wave(4, 3, phase=j)))
        for name, us in (("nv_inference_request_duration_us", 9000), ("nv_inference_queue_duration_us", 1200),
                         ("nv_inference_compute_input_duration_us", 300),
                         ("nv_inference_compute_infer_duration_us", 7000),
                         ("nv_inference_compute_output_duration_us", 250)):
            w.add(name, labels, success * us)


def _dcgm(w: Writer) -> None:
    for n, (host, gpu, pod) in enumerate(GPUS):
        uuid = f"GPU-{n:08x}-6a2b-4c1d-9e8f-{n:012x}"
        labels = {"job": "dcgm", "instance": f"{host}:9400", "gpu": str(gpu), "UUID": uuid,
                  "device": f"nvidia{gpu}", "modelName": "NVIDIA H100 80GB HBM3", "Hostname": host}
        if pod:
            labels.update(container="server", namespace="inference", pod=pod)
        busy = 0.0 if pod is None else 1.0
        util = w.wave(70 * busy, 20 * busy, phase=n)
        w.add("DCGM_FI_DEV_GPU_UTIL", labels, np.round(util))
        w.add("DCGM_FI_DEV_MEM_COPY_UTIL", labels, np.round(util * 0.6))
        w.add("DCGM_FI_PROF_GR_ENGINE_ACTIVE", labels, np.minimum(util / 100, 1))
        w.add("DCGM_FI_PROF_SM_ACTIVE", labels, np.minimum(util / 110, 1))
        w.add("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", labels, np.minimum(util / 250, 1))
        w.add("DCGM_FI_PROF_DRAM_ACTIVE", labels, np.minimum(util / 180, 1))
        used = 800 + busy * 70_000 + 0 * util
        w.add("DCGM_FI_DEV_FB_USED", labels, np.full(w.times.shape, used))
        w.add("DCGM_FI_DEV_FB_FREE", labels, np.full(w.times.shape, 81_559 - used))
        power = 70 + util * 5
        w.add("DCGM_FI_DEV_POWER_USAGE", labels, power)
        w.add("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", labels, w.counter(power * 1000, start=4.5e11))
        w.add("DCGM_FI_DEV_GPU_TEMP", labels, np.round(32 + util * 0.4))
        w.add("DCGM_FI_DEV_MEMORY_TEMP", labels, np.round(36 + util * 0.4))
        xid = np.zeros(w.times.shape)
        if n == 1:  # one GPU reported XID 79 (fallen off the bus) an hour before the end
            xid[-60:] = 79
        w.add("DCGM_FI_DEV_XID_ERRORS", {**labels, "err_code": "0", "err_msg": "No Error"}, xid)


def _gateway(w: Writer) -> None:
    target = {"job": "infermeter-sidecar", "instance": "gateway-sidecar:9470"}
    for model in GATEWAY_MODELS.values():
        for k, tenant in enumerate(TENANTS):
            labels = {**target, "tenant": tenant, "model": model}
            rps = w.wave(2.0 + k, 1.0, phase=k)
            for cls, share in (("2xx", 0.97), ("4xx", 0.02), ("5xx", 0.01 + 0.03 * (tenant == "acme"))):
                w.add("infermeter_gateway_requests_total", {**labels, "status_class": cls}, w.counter(rps * share))
            for kind, per_req in (("input", 600), ("cached_input", 200), ("output", 180)):
                w.add("infermeter_gateway_tokens_total", {**labels, "kind": kind}, w.counter(rps * per_req))


def _slo(w: Writer, times: np.ndarray) -> None:
    def add(name: str, labels: dict[str, str], values) -> None:
        w.add(name, labels, (times, np.broadcast_to(np.asarray(values, dtype=float), times.shape).copy()))

    n = len(times)
    slos = (  # service, slo, objective, period days, calendar, tenants (grouped)
        ("llm-gateway", "tenant-availability", 0.995, None, True, TENANTS),
        ("vllm-llama", "ttft", 0.99, 30, False, (None,)),
        ("triton", "availability", 0.999, 28, False, (None,)),
    )
    for service, slo, objective, days, calendar, tenants in slos:
        ident = {"sloth_id": f"{service}-{slo}", "sloth_service": service, "sloth_slo": slo}
        budget = 1 - objective
        add("slo:objective:ratio", ident, objective)
        add("slo:error_budget:ratio", ident, budget)
        add("slo:time_period:days", ident, 31 if calendar else days)
        add("sloth_slo_info", {**ident, "sloth_mode": "cli-gen-prom", "sloth_objective": f"{objective * 100:g}",
                               "sloth_spec": "infermeter/v1", "sloth_version": "0.1.0"}, 1)
        if calendar:
            add("slo:calendar_month_elapsed:ratio", ident, np.linspace(0.44, 0.47, n))
            add("slo:calendar_month_start:timestamp", ident, 1_740_787_200)
        for tenant in tenants:
            key = ident if tenant is None else {**ident, "tenant": tenant}
            burning = tenant == "acme"
            ratio = budget * (8.0 if burning else 0.4) * (1 + 0.1 * np.sin(np.arange(n) / 30))
            windows = (*SLO_WINDOWS, "calendar_month" if calendar else f"{days}d")
            for window in windows:
                add(f"slo:sli_error:ratio_rate{window}", {**key, "sloth_window": window}, ratio)
            add("slo:current_burn_rate:ratio", key, ratio / budget)
            period_burn = (2.5 if burning else 0.4) * np.ones(n)
            add("slo:period_burn_rate:ratio", key, period_burn)
            remaining = 1 - period_burn * (0.46 if calendar else 1.0)
            add("slo:period_error_budget_remaining:ratio", key, remaining)
            if burning:
                alert = {"alertname": "TenantAvailability", "alertstate": "firing", **key, "sloth_severity": "page"}
                add("ALERTS", alert, 1)


def write_openmetrics(path, span: Span, slo_span: Span, seed: int = 7) -> int:
    """Write the fleet's history; returns the number of series."""
    w = Writer(span.times, seed)
    _vllm(w)
    _triton(w)
    _dcgm(w)
    _gateway(w)
    _slo(w, slo_span.times)
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(w.lines())
    return sum(len(v) for v in w.series.values())
