"""Simulated ``/metrics`` pages: vLLM instances, Triton servers and one DCGM exporter per node.

Each target keeps cumulative state and is advanced with :meth:`observe` by the requests that
finished in a window. vLLM uses prometheus_client, as vLLM itself does; Triton (prometheus-cpp)
and dcgm-exporter (Go) write counters without ``_total``, so their pages are rendered here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from infermeter.simulator import catalog as C
from infermeter.simulator.fleet import FleetSpec, Gpu, Instance
from infermeter.simulator.traffic import Requests, requests_between

_LOOKBACK_S = 600.0  # longer than any simulated request


def _bucket_counts(bounds: tuple[float, ...], values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-bucket (non-cumulative) counts, the last one for +Inf; ``le`` means value <= bound."""
    idx = np.searchsorted(np.asarray(bounds), values, side="left")
    return np.bincount(idx, weights=weights, minlength=len(bounds) + 1)


def utilisation(instance: Instance, req: Requests, window_s: float) -> float:
    """Share of the window the instance's GPUs were busy, from the work it served."""
    if window_s <= 0:
        return 0.0
    busy = float(req.duration_s.sum()) / (window_s * max(instance.deployment.capacity_rps, 1e-9) * 1.5)
    return min(0.99, busy)


class VllmTarget:
    kind = "vllm"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.name = instance.name
        self.registry = CollectorRegistry()
        labels = {"model_name": instance.deployment.model, "engine": "0"}
        self._labels = labels
        r = self.registry
        self.gauges = {n: Gauge(n, h, list(C.VLLM_LABELS), registry=r).labels(**labels) for n, h in C.VLLM_GAUGES.items()}
        self.counters = {n: Counter(n, h, list(C.VLLM_LABELS), registry=r).labels(**labels) for n, h in C.VLLM_COUNTERS.items()}
        success = Counter("vllm:request_success", "Count of successfully processed requests.",
                          ["model_name", "engine", "finished_reason"], registry=r)
        self.success = {reason: success.labels(finished_reason=reason, **labels) for reason in C.VLLM_FINISHED_REASONS}
        self.histograms = {
            n: Histogram(n, h, list(C.VLLM_LABELS), buckets=b, registry=r).labels(**labels)
            for n, (h, b) in C.VLLM_HISTOGRAMS.items()
        }
        self.utilisation = 0.0

    def _observe_many(self, name: str, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        hist = self.histograms[name]
        counts = _bucket_counts(C.VLLM_HISTOGRAMS[name][1], values, weights)
        # prometheus_client keeps non-cumulative bucket counters; add to them in bulk.
        for i, c in enumerate(counts):
            if c:
                hist._buckets[i].inc(float(c))
        hist._sum.inc(float((values * (weights if weights is not None else 1.0)).sum()))

    def observe(self, req: Requests, window_s: float, inflight: Requests | None = None, now: float = 0.0) -> None:
        ok = req.status == 200
        failed = req.status >= 500
        self.counters["vllm:prompt_tokens"].inc(float(req.input_tokens.sum()))
        self.counters["vllm:prompt_tokens_cached"].inc(float(req.cached_tokens.sum()))
        self.counters["vllm:prefix_cache_queries"].inc(float(req.input_tokens.sum()))
        self.counters["vllm:prefix_cache_hits"].inc(float(req.cached_tokens.sum()))
        self.counters["vllm:generation_tokens"].inc(float(req.output_tokens.sum()))
        long = ok & (req.output_tokens >= 1000)
        self.success["stop"].inc(float((ok & ~long).sum()))
        self.success["length"].inc(float(long.sum()))
        self.success["error"].inc(float(failed.sum()))
        done = ok | failed
        if done.any():
            r = req.take(np.nonzero(done)[0])
            decode = np.maximum(r.duration_s - r.ttft_s, 0.0)
            tokens = np.maximum(r.output_tokens - 1, 0)
            tpot = np.where(tokens > 0, decode / np.maximum(tokens, 1), 0.0)
            self._observe_many("vllm:time_to_first_token_seconds", r.ttft_s)
            self._observe_many("vllm:e2e_request_latency_seconds", r.duration_s)
            self._observe_many("vllm:request_queue_time_seconds", r.queue_s)
            self._observe_many("vllm:request_inference_time_seconds", r.duration_s - r.queue_s)
            self._observe_many("vllm:request_prefill_time_seconds", r.ttft_s - r.queue_s)
            self._observe_many("vllm:request_decode_time_seconds", decode)
            self._observe_many("vllm:request_prompt_tokens", r.input_tokens.astype(float))
            self._observe_many("vllm:request_generation_tokens", r.output_tokens.astype(float))
            has = tokens > 0
            self._observe_many("vllm:request_time_per_output_token_seconds", tpot[has])
            self._observe_many("vllm:inter_token_latency_seconds", tpot[has], tokens[has].astype(float))
        if inflight is not None:
            waiting = inflight.ts + inflight.queue_s > now
            self.gauges["vllm:num_requests_running"].set(float((~waiting).sum()))
            self.gauges["vllm:num_requests_waiting"].set(float(waiting.sum()))
            tokens = float((inflight.input_tokens + inflight.output_tokens).sum())
            # KV capacity of the demo engines: 27,858 blocks of 16 tokens (vLLM cache_config_info).
            self.gauges["vllm:kv_cache_usage_perc"].set(round(min(0.98, tokens / (27_858 * 16)), 4))
        self.utilisation = utilisation(self.instance, req, window_s)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _fmt(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() or abs(value) >= 1e15 else str(int(value))


def _line(name: str, labels: dict[str, str], value: float) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{body}}} {_fmt(value)}"


@dataclass
class _GpuState:
    gpu: Gpu
    instance: Instance
    utilisation: float = 0.0
    energy_mj: float = 0.0


class TritonTarget:
    kind = "triton"

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.name = instance.name
        self.labels = {"model": instance.deployment.model, "version": "1"}
        self.counters = {n: 0.0 for n in C.TRITON_COUNTERS}
        self.failures = {r: 0.0 for r in C.TRITON_FAILURE_REASONS}
        self.gpus = [_GpuState(g, instance) for g in instance.gpus]

    def observe(self, req: Requests, window_s: float, inflight: Requests | None = None, now: float = 0.0) -> None:
        ok = req.status == 200
        items = np.maximum(1, req.input_tokens // 256)
        c = self.counters
        c["nv_inference_request_success"] += float(ok.sum())
        c["nv_inference_count"] += float(items[ok].sum())
        c["nv_inference_exec_count"] += float(np.ceil(items[ok].sum() / 4.0))
        dur_us = req.duration_s * 1e6
        queue_us = req.queue_s * 1e6
        c["nv_inference_request_duration_us"] += float(dur_us.sum())
        c["nv_inference_queue_duration_us"] += float(queue_us.sum())
        compute = np.maximum(dur_us - queue_us, 0.0)
        c["nv_inference_compute_input_duration_us"] += float((compute * 0.1).sum())
        c["nv_inference_compute_infer_duration_us"] += float((compute * 0.8).sum())
        c["nv_inference_compute_output_duration_us"] += float((compute * 0.1).sum())
        self.failures["BACKEND"] += float((req.status >= 500).sum())
        self.failures["REJECTED"] += float((req.status == 429).sum())
        u = utilisation(self.instance, req, window_s)
        for g in self.gpus:
            g.utilisation = u
            g.energy_mj += _power(g.gpu, u) * window_s * 1000

    def render(self) -> bytes:
        out = []
        for name, help_ in C.TRITON_COUNTERS.items():
            out += [f"# HELP {name} {help_}", f"# TYPE {name} counter", _line(name, self.labels, self.counters[name])]
            if name == "nv_inference_request_success":
                out += [f"# HELP {C.TRITON_FAILURE} Number of failed inference requests, all batch sizes",
                        f"# TYPE {C.TRITON_FAILURE} counter"]
                out += [_line(C.TRITON_FAILURE, {**self.labels, "reason": r}, v) for r, v in self.failures.items()]
        values = {
            "nv_gpu_utilization": lambda g: round(g.utilisation, 4),
            "nv_gpu_memory_total_bytes": lambda g: g.gpu.spec.memory_bytes,
            "nv_gpu_memory_used_bytes": lambda g: int(g.gpu.spec.memory_bytes * 0.85),
            "nv_gpu_power_usage": lambda g: round(_power(g.gpu, g.utilisation), 3),
            "nv_gpu_power_limit": lambda g: g.gpu.spec.power_limit_w,
        }
        for name, help_ in C.TRITON_GPU_GAUGES.items():
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
            out += [_line(name, {"gpu_uuid": g.gpu.uuid}, values[name](g)) for g in self.gpus]
        out += [f"# HELP {C.TRITON_ENERGY} GPU energy consumption in joules since the Triton Server started",
                f"# TYPE {C.TRITON_ENERGY} counter"]
        out += [_line(C.TRITON_ENERGY, {"gpu_uuid": g.gpu.uuid}, round(g.energy_mj / 1000, 3)) for g in self.gpus]
        return ("\n".join(out) + "\n").encode()


def _power(gpu: Gpu, u: float) -> float:
    idle = gpu.spec.power_limit_w * 0.1
    return idle + u * (gpu.spec.power_limit_w * 0.85 - idle)


@dataclass
class DcgmTarget:
    """One dcgm-exporter per node, reporting every GPU with the pod that holds it."""

    node: str
    gpus: list[_GpuState] = field(default_factory=list)
    kind: str = "dcgm"

    @property
    def name(self) -> str:
        return f"dcgm-{self.node}"

    def update(self, gpu_uuid: str, u: float, window_s: float) -> None:
        for g in self.gpus:
            if g.gpu.uuid == gpu_uuid:
                g.utilisation = u
                g.energy_mj += _power(g.gpu, u) * window_s * 1000

    def _labels(self, g: _GpuState) -> dict[str, str]:
        labels = {
            "gpu": str(g.gpu.index), "UUID": g.gpu.uuid, "pci_bus_id": f"00000000:{g.gpu.index + 1:02X}:00.0",
            "device": f"nvidia{g.gpu.index}", "modelName": g.gpu.spec.model, "Hostname": self.node,
            "DCGM_FI_DRIVER_VERSION": C.DCGM_DRIVER,
        }
        if g.gpu.spec.mig_profile:
            labels |= {"GPU_I_PROFILE": g.gpu.spec.mig_profile, "GPU_I_ID": "1"}
        return labels | {"container": g.instance.deployment.server, "namespace": g.instance.namespace,
                         "pod": g.instance.name, "pod_uid": ""}

    def render(self) -> bytes:
        def value(name: str, g: _GpuState) -> float:
            u, spec = g.utilisation, g.gpu.spec
            mem_mib = spec.memory_bytes // (1024 * 1024)
            used = int(mem_mib * (0.9 if g.instance.deployment.server == "vllm" else 0.4))
            return {
                "DCGM_FI_DEV_SM_CLOCK": 1980 if u > 0.01 else 345,
                "DCGM_FI_DEV_MEM_CLOCK": 2619,
                "DCGM_FI_DEV_MEMORY_TEMP": round(35 + 30 * u),
                "DCGM_FI_DEV_GPU_TEMP": round(32 + 40 * u),
                "DCGM_FI_DEV_POWER_USAGE": round(_power(g.gpu, u), 3),
                "DCGM_FI_DEV_GPU_UTIL": round(100 * u),
                "DCGM_FI_DEV_MEM_COPY_UTIL": round(60 * u),
                "DCGM_FI_DEV_FB_FREE": mem_mib - used,
                "DCGM_FI_DEV_FB_USED": used,
                "DCGM_FI_PROF_GR_ENGINE_ACTIVE": round(u, 6),
                "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": round(u * 0.55, 6),
                "DCGM_FI_PROF_DRAM_ACTIVE": round(u * 0.7, 6),
            }[name]

        out = []
        for name, help_ in C.DCGM_GAUGES.items():
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
            out += [_line(name, self._labels(g), value(name, g)) for g in self.gpus]
        out += [f"# HELP {C.DCGM_ENERGY} Total energy consumption since boot (in mJ).", f"# TYPE {C.DCGM_ENERGY} counter"]
        out += [_line(C.DCGM_ENERGY, self._labels(g), int(g.energy_mj)) for g in self.gpus]
        out += [f"# HELP {C.DCGM_XID} Value of the last XID error encountered.", f"# TYPE {C.DCGM_XID} gauge"]
        out += [_line(C.DCGM_XID, {**self._labels(g), "err_code": "0", "err_msg": "No Error"}, 0) for g in self.gpus]
        return ("\n".join(out) + "\n").encode()


@dataclass
class FleetTargets:
    """Every simulated page of a fleet, advanced together."""

    fleet: FleetSpec
    servers: list[VllmTarget | TritonTarget]
    dcgm: list[DcgmTarget]
    started: float = field(default_factory=time.time)

    @classmethod
    def build(cls, fleet: FleetSpec) -> "FleetTargets":
        servers: list[VllmTarget | TritonTarget] = []
        nodes: dict[str, DcgmTarget] = {}
        for inst in fleet.instances:
            servers.append(VllmTarget(inst) if inst.deployment.server == "vllm" else TritonTarget(inst))
            for g in inst.gpus:
                nodes.setdefault(g.node, DcgmTarget(g.node)).gpus.append(_GpuState(g, inst))
        return cls(fleet, servers, list(nodes.values()))

    def observe(self, req: Requests, window_s: float, now: float | None = None) -> None:
        """Advance every page by the requests that started in a window ending at ``now``
        (instance index = position); gauges count the requests still in flight at ``now``."""
        active = None
        if now is not None:
            recent = requests_between(self.fleet, now - _LOOKBACK_S, now)
            active = recent.take(np.nonzero(recent.ts + recent.duration_s > now)[0])
        for i, target in enumerate(self.servers):
            mine = req.take(np.nonzero(req.instance == i)[0])
            inflight = active.take(np.nonzero(active.instance == i)[0]) if active is not None else None
            target.observe(mine, window_s, inflight, now or 0.0)
            u = target.utilisation if isinstance(target, VllmTarget) else target.gpus[0].utilisation if target.gpus else 0.0
            for g in target.instance.gpus:
                for d in self.dcgm:
                    if d.node == g.node:
                        d.update(g.uuid, u, window_s)

    def all(self) -> list[VllmTarget | TritonTarget | DcgmTarget]:
        return [*self.servers, *self.dcgm]
