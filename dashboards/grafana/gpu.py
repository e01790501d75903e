"""GPUs: dcgm-exporter telemetry per GPU and per deployment (Prometheus)."""

from __future__ import annotations

from typing import Any

from infermeter.dashboards.grafana import common
from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana import variables as v
from infermeter.dashboards.grafana.panels import Grid, Row, prom, stat, timeseries
from infermeter.dashboards.grafana.promql import GPU_LEGEND, dcgm_by_deployment, dcgm_sel

S = dcgm_sel()
GPU_BY = "Hostname, hostname, gpu, UUID"  # both spellings of the host label
DEP = c.LABEL_DEPLOYMENT


def _per_gpu(metric: str, scale: str = "") -> str:
    return f"max by ({GPU_BY}) ({metric}{S}){scale}"


def _per_deployment(agg: str, metric: str, scale: str = "") -> str:
    return f"{agg} by ({DEP}) ({dcgm_by_deployment(metric + S)}){scale}"


def _memory_used_ratio(by: str, wrap=lambda e: e) -> str:
    used = wrap(f"{c.DCGM_FB_USED}{S}")
    free = wrap(f"{c.DCGM_FB_FREE}{S}")
    return f"sum by ({by}) ({used}) / (sum by ({by}) ({used}) + sum by ({by}) ({free}))"


def variables() -> list[v.Variable]:
    return [
        v.prometheus_datasource(),
        v.prom_label_values(
            c.VAR_DEPLOYMENT, "Deployment", f"{c.DCGM_GPU_UTIL}{{{c.DCGM_POD_LABEL}!=\"\"}}", c.DCGM_POD_LABEL,
            regex=f"/^{c.DCGM_POD_DEPLOYMENT_RE}$/",
        ),
        v.prom_label_values(c.VAR_GPU, "GPU (UUID)", f"{c.DCGM_GPU_UTIL}", c.DCGM_UUID_LABEL),
    ]


def dashboard() -> dict[str, Any]:
    energy_range = f"increase({c.DCGM_ENERGY}{S}[$__range])"
    grid = Grid().add(
        Row("Fleet"),
        stat("GPUs", [prom(f"count({c.DCGM_GPU_UTIL}{S})")], w=4, graph=False),
        stat("GPUs busy", [prom(f"count({c.DCGM_GPU_UTIL}{S} > 0) or vector(0)")], w=4,
             description="GPUs with non-zero utilisation at the last scrape."),
        stat("Mean utilisation", [prom(f"avg({c.DCGM_GPU_UTIL}{S})")], unit="percent", w=4,
             thresholds=((None, "red"), (30, "orange"), (60, "green"))),
        stat("Power draw", [prom(f"sum({c.DCGM_POWER}{S})")], unit="watt", w=4),
        stat("Energy in range", [prom(f"sum({energy_range}) / {c.MJ_PER_KWH:g}")], unit="kwatth", w=4,
             decimals=2, graph=False),
        stat("GPUs with XID errors",
             [prom(f"count(max_over_time({c.DCGM_XID}{S}[$__range]) > 0) or vector(0)")], w=4, graph=False,
             thresholds=((None, "green"), (1, "red"))),
        Row("Per deployment"),
        timeseries("Utilisation by deployment",
                   [prom(_per_deployment("avg", c.DCGM_GPU_UTIL), "{{deployment}}")], unit="percent", w=8),
        timeseries("Power by deployment",
                   [prom(_per_deployment("sum", c.DCGM_POWER), "{{deployment}}")], unit="watt", w=8, stack=True),
        timeseries(
            "Energy by deployment (per interval)",
            [prom(f"sum by ({DEP}) ({dcgm_by_deployment(f'increase({c.DCGM_ENERGY}{S}[$__interval])')}) / {c.MJ_PER_KWH:g}",
                  "{{deployment}}")],
            unit="kwatth", w=8, draw="bars", stack=True,
        ),
        timeseries("Framebuffer used by deployment",
                   [prom(_memory_used_ratio(DEP, dcgm_by_deployment), "{{deployment}}")],
                   unit="percentunit", w=8, min_value=0, max_value=1),
        timeseries("Tensor-core activity by deployment",
                   [prom(_per_deployment("avg", c.DCGM_TENSOR_ACTIVE), "{{deployment}}")],
                   unit="percentunit", w=8, min_value=0, max_value=1),
        timeseries("GPUs by deployment",
                   [prom(f"count by ({DEP}) ({dcgm_by_deployment(c.DCGM_GPU_UTIL + S)})", "{{deployment}}")],
                   w=8, stack=True),
        Row("Per GPU"),
        timeseries("GPU utilisation", [prom(_per_gpu(c.DCGM_GPU_UTIL), GPU_LEGEND)], unit="percent", w=12),
        timeseries(
            "SM and tensor activity",
            [
                prom(_per_gpu(c.DCGM_SM_ACTIVE), "SM " + GPU_LEGEND),
                prom(_per_gpu(c.DCGM_GR_ENGINE_ACTIVE), "graphics engine " + GPU_LEGEND),
                prom(_per_gpu(c.DCGM_TENSOR_ACTIVE), "tensor " + GPU_LEGEND),
            ],
            unit="percentunit", w=12, min_value=0, max_value=1,
            description="DCGM_FI_PROF_SM_ACTIVE is not in dcgm-exporter's default counters: enable it in the "
                        "counters CSV; DCGM_FI_PROF_GR_ENGINE_ACTIVE is its default stand-in.",
        ),
        timeseries(
            "Framebuffer memory used",
            [prom(_memory_used_ratio(GPU_BY), GPU_LEGEND)],
            unit="percentunit", w=8, min_value=0, max_value=1,
        ),
        timeseries("Framebuffer used (MiB)", [prom(_per_gpu(c.DCGM_FB_USED), GPU_LEGEND)], unit="mbytes", w=8),
        timeseries("Memory bandwidth (DRAM active)", [prom(_per_gpu(c.DCGM_DRAM_ACTIVE), GPU_LEGEND)],
                   unit="percentunit", w=8, min_value=0, max_value=1),
        timeseries("Power draw", [prom(_per_gpu(c.DCGM_POWER), GPU_LEGEND)], unit="watt", w=8),
        timeseries(
            "Energy (per interval)",
            [prom(f"max by ({GPU_BY}) (increase({c.DCGM_ENERGY}{S}[$__interval])) / {c.MJ_PER_KWH:g}", GPU_LEGEND)],
            unit="kwatth", w=8, draw="bars",
        ),
        timeseries(
            "Temperature",
            [prom(_per_gpu(c.DCGM_GPU_TEMP), "GPU " + GPU_LEGEND), prom(f"{_per_gpu(c.DCGM_MEMORY_TEMP)} < 1000", "memory " + GPU_LEGEND)],
            unit="celsius", w=8,
            description="Blank DCGM fields arrive as sentinels near 2^63: values of 1000 C and more are dropped.",
        ),
        timeseries(
            "XID errors (last XID code)",
            [prom(f"max by ({GPU_BY}) (max_over_time({c.DCGM_XID}{S}[$__interval]))", GPU_LEGEND)],
            w=12, draw="points",
            description="DCGM_FI_DEV_XID_ERRORS holds the last XID seen (0: none). XID 48, 63, 64, 74, 79 and 94/95 "
                        "usually mean a GPU to drain.",
        ),
        timeseries("Memory copy utilisation", [prom(_per_gpu(c.DCGM_MEM_COPY_UTIL), GPU_LEGEND)], unit="percent", w=12),
    )
    return common.build(
        c.UID_GPU,
        description="dcgm-exporter: utilisation, SM/tensor activity, memory, power, energy, temperature, XID errors.",
        variables=variables(),
        grid=grid,
        tags=("gpu", "dcgm"),
    )
