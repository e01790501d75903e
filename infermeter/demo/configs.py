"""The demo's input files, derived from the simulated fleet (pure: fleet in, YAML-ready dicts out).

Everything a platform team writes by hand for infermeter (SLO specs, alert routing, price catalog,
tenancy, the sidecar's configuration, a Prometheus configuration) is generated here from the
fleet so that names, GPU models and tenants agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from infermeter.simulator.fleet import FleetSpec

# GPU-hour list prices by the GPU model names the fleet's telemetry reports (NVML / DCGM modelName).
GPU_HOUR = {
    "NVIDIA H100 80GB HBM3": "3.90",
    "NVIDIA A100-SXM4-80GB": "2.10",
    "NVIDIA L4": "0.80",
}
MIG_HOUR = {"NVIDIA A100-SXM4-80GB": {"3g.40gb": "1.05"}}
TOKEN_PRICES = {"gpt-4o-mini": {"input": "0.15", "cached_input": "0.075", "output": "0.60"}}


def slo_spec(fleet: FleetSpec) -> dict[str, Any]:
    """Inference SLOs on the simulator's metrics: vLLM per model, Triton, gateway per tenant."""
    return {
        "version": "infermeter/v1",
        "service": "inference",
        "labels": {"team": "ml-platform"},
        "slos": [
            {"name": "vllm-availability", "objective": 99.5, "template": "vllm-availability",
             "group_by": ["model_name"], "alerting": {"name": "VllmErrors"}},
            {"name": "vllm-ttft", "objective": 95.0, "template": "vllm-ttft", "params": {"threshold": 1.0},
             "group_by": ["model_name"], "alerting": {"name": "VllmSlowFirstToken"}},
            {"name": "triton-availability", "objective": 99.9, "template": "triton-availability",
             "alerting": {"name": "TritonErrors"}},
            {"name": "tenant-availability", "objective": 99.5, "template": "gateway-availability",
             "group_by": ["tenant"], "min_events": 100, "period": "calendar-month",
             "alerting": {"name": "TenantAvailability"}},
            {"name": "tenant-latency", "objective": 95.0, "template": "gateway-latency", "params": {"threshold": 20.0},
             "group_by": ["tenant"], "min_events": 100, "alerting": {"name": "TenantLatency"}},
        ],
    }


def routing(fleet: FleetSpec, webhook_url: str) -> dict[str, Any]:
    """Alert routing: the platform team owns every SLO; finops gets the tenant budget alerts."""
    return {
        "version": "infermeter/v1",
        "kind": "Routing",
        "default_receiver": "platform-catchall",
        "group_by": ["alertname", "sloth_id", "tenant"],
        "receivers": [{"name": "platform-catchall", "webhook": {"url": webhook_url}}],
        "teams": [
            {"name": "ml-platform", "services": ["inference"],
             "receivers": [{"name": "ml-platform-pager", "webhook": {"url": webhook_url}},
                           {"name": "ml-platform-tickets", "webhook": {"url": webhook_url}}],
             "page": "ml-platform-pager", "ticket": "ml-platform-tickets"},
            {"name": "finops", "tenants": [t.name for t in fleet.tenants],
             "receivers": [{"name": "finops-webhook", "webhook": {"url": webhook_url}}]},
        ],
        "tenant_budgets": {"thresholds": [{"share": 0.8, "severity": "ticket"}, {"share": 1.0, "severity": "page"}]},
    }


def tenancy(fleet: FleetSpec) -> dict[str, Any]:
    deployments: dict[str, Any] = {}
    for d in fleet.deployments:
        if d.server == "external":
            deployments[d.name] = {"billing": "tokens"}
        elif d.tenant:
            deployments[d.name] = {"mode": "dedicated", "tenant": d.tenant}
        else:
            deployments[d.name] = {"mode": "shared", "owner": d.owner}
    tenants: dict[str, Any] = {t.name: {"monthly_budget": f"{t.budget:.2f}"} for t in fleet.tenants}
    tenants.setdefault("platform", {})
    return {"idle_policy": "proportional", "weights": {"input": 1, "output": 2, "cached_input": 0.25},
            "tenants": tenants, "deployments": deployments}


def prices(fleet: FleetSpec, since: dt.date) -> dict[str, Any]:
    """One price period from ``since`` covering every GPU model and token-priced model of the fleet."""
    gpus = {d.gpu.model for d in fleet.deployments if d.server != "external"}
    return {
        "version": f"demo-{since:%Y-%m}",
        "currency": fleet.currency,
        "periods": [{
            "effective_from": since.isoformat(),
            "gpu_hour": {m: GPU_HOUR[m] for m in sorted(gpus)},
            "mig_hour": {m: p for m, p in MIG_HOUR.items() if m in gpus},
            "tokens": {d.model: TOKEN_PRICES[d.model] for d in fleet.deployments if d.server == "external"},
        }],
    }


def exporter(targets: list[dict[str, str]], sim_url: str, fleet: FleetSpec, listen: str, interval_s: float) -> dict[str, Any]:
    """The sidecar: scrape every simulated page, receive the gateway's spans."""
    deployment_of = {inst.name: inst.deployment.name for inst in fleet.instances}
    return {
        "listen": listen,
        "scrape": {"interval_s": interval_s, "timeout_s": min(interval_s, 5.0), "jitter_s": 0},
        "targets": [
            {"name": t["name"], "kind": t["kind"], "url": sim_url + t["path"],
             "labels": {"deployment": deployment_of[t["name"]]} if t["name"] in deployment_of else {}}
            for t in targets
        ],
        "nvml": {"enabled": False},
        "gateway": {"otlp": {"enabled": True}},
    }


def prometheus(sidecar: str, simulator: str, targets: list[dict[str, str]], fleet: FleetSpec,
               rule_files: list[str], alertmanager: str | None) -> dict[str, Any]:
    deployment_of = {inst.name: inst.deployment.name for inst in fleet.instances}
    config: dict[str, Any] = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": rule_files,
        "scrape_configs": [
            {"job_name": "infermeter-sidecar", "static_configs": [{"targets": [sidecar]}]},
            *[
                {"job_name": t["name"], "metrics_path": t["path"],
                 "static_configs": [{"targets": [simulator],
                                     "labels": {"deployment": deployment_of.get(t["name"], ""), "kind": t["kind"]}}]}
                for t in targets
            ],
        ],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config
