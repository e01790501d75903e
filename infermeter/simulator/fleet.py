"""The simulated fleet: tenants, deployments, instances and GPUs (pure data, deterministic).

A fleet is a pydantic model so that a user can write their own as YAML; ``default_fleet`` is the
one the demo runs: about 20 tenants, vLLM deployments (shared, dedicated and MIG), a Triton
embedding server and a token-priced third-party model reached through the gateway.
"""

from __future__ import annotations

import hashlib
import uuid
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantSpec(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    rate_rps: float = Field(gt=0, description="Mean requests per second at the daily peak.")
    models: dict[str, float] = Field(description="Model name -> share of this tenant's requests.")
    input_tokens: float = Field(default=600, gt=0, description="Median prompt length.")
    output_tokens: float = Field(default=200, gt=0, description="Median completion length.")
    cached_share: float = Field(default=0.3, ge=0, le=1, description="Share of the prompt served from the prefix cache.")
    budget: float = Field(default=5000, ge=0, description="Monthly budget in the fleet's currency.")


class GpuSpec(_Model):
    model: str = "NVIDIA H100 80GB HBM3"
    count: int = Field(default=1, ge=1)
    mig_profile: str | None = Field(default=None, description="e.g. 3g.40gb: the instance holds a MIG slice.")
    fraction: float = Field(default=1.0, gt=0, le=1, description="Share of each GPU held (MIG or time-slicing).")
    memory_bytes: int = 80 * 1024**3
    power_limit_w: float = 700.0


class DeploymentSpec(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    server: Literal["vllm", "triton", "external"]
    model: str
    instances: int = Field(default=1, ge=0)
    gpu: GpuSpec = GpuSpec()
    tenant: str | None = Field(default=None, description="Dedicated to this tenant; None = shared.")
    owner: str = "platform"
    capacity_rps: float = Field(default=20.0, gt=0, description="Requests/s one instance serves before queueing.")
    ttft_s: float = Field(default=0.12, gt=0, description="Median time to first token, unloaded.")
    itl_s: float = Field(default=0.025, gt=0, description="Median inter-token latency.")


class Incident(_Model):
    """A window where a deployment fails requests or slows down (hours from the start of a day)."""

    deployment: str
    day: int = Field(ge=0, description="Day offset from the simulation epoch (day 0 = 1970-01-01 UTC).")
    start_hour: float = Field(ge=0, lt=24)
    hours: float = Field(gt=0, le=24)
    error_ratio: float = Field(default=0.0, ge=0, le=1)
    latency_factor: float = Field(default=1.0, ge=1)


class FleetSpec(_Model):
    seed: int = 7
    currency: str = "USD"
    tenants: list[TenantSpec]
    deployments: list[DeploymentSpec]
    incidents_per_week: float = Field(default=2.0, ge=0, description="Random incidents on top of `incidents`.")
    incidents: list[Incident] = []
    namespace: str = "inference"
    node_prefix: str = "gpu-node"

    @model_validator(mode="after")
    def _check(self) -> "FleetSpec":
        names = [d.name for d in self.deployments]
        if len(set(names)) != len(names):
            raise ValueError("deployments: duplicate names")
        served = {d.model for d in self.deployments}
        tenants = {t.name for t in self.tenants}
        for t in self.tenants:
            for m in t.models:
                if m not in served:
                    raise ValueError(f"tenants.{t.name}.models: no deployment serves {m!r}")
        for d in self.deployments:
            if d.tenant is not None and d.tenant not in tenants:
                raise ValueError(f"deployments.{d.name}.tenant: unknown tenant {d.tenant!r}")
        for inc in self.incidents:
            if inc.deployment not in names:
                raise ValueError(f"incidents: unknown deployment {inc.deployment!r}")
        return self

    # Identity hash: fleets are used as cache keys by the traffic generator.
    __hash__ = object.__hash__

    @cached_property
    def instances(self) -> list["Instance"]:
        out: list[Instance] = []
        gpu_index: dict[str, int] = {}
        for d in self.deployments:
            for i in range(d.instances):
                node = f"{self.node_prefix}-{len(out) // 2}"
                gpus = []
                for _ in range(d.gpu.count):
                    idx = gpu_index.get(node, 0)
                    gpu_index[node] = idx + 1
                    gpus.append(Gpu(index=idx, uuid=gpu_uuid(self.seed, node, idx), node=node, spec=d.gpu))
                out.append(Instance(deployment=d, ordinal=i, node=node, gpus=tuple(gpus), namespace=self.namespace))
        return out

    def deployment(self, name: str) -> DeploymentSpec:
        return next(d for d in self.deployments if d.name == name)

    def deployments_for(self, model: str) -> list[DeploymentSpec]:
        return [d for d in self.deployments if d.model == model]


class Gpu(_Model):
    index: int
    uuid: str
    node: str
    spec: GpuSpec


class Instance(_Model):
    deployment: DeploymentSpec
    ordinal: int
    node: str
    gpus: tuple[Gpu, ...]
    namespace: str

    @property
    def name(self) -> str:
        """The pod name, as a Deployment's pod would be called."""
        return f"{self.deployment.name}-{self.ordinal}"


def gpu_uuid(seed: int, node: str, index: int) -> str:
    digest = hashlib.sha256(f"{seed}/{node}/{index}".encode()).digest()[:16]
    return "GPU-" + str(uuid.UUID(bytes=digest))


_TENANTS = (
    "search", "support-bot", "ads-ranking", "docs-qa", "devtools", "translation", "legal-review",
    "marketing", "fraud", "hr-assistant", "analytics", "mobile-app", "sales-copilot", "research",
    "moderation", "summarizer", "voice", "billing", "onboarding", "sandbox",
)


def default_fleet(seed: int = 7) -> FleetSpec:
    """The demo fleet: 20 tenants on four vLLM deployments, one Triton server and one API model."""
    import random

    rnd = random.Random(seed)
    llama8, llama70, coder, mistral, embed, api = (
        "meta-llama/Llama-3.1-8B-Instruct",
        "meta-llama/Llama-3.1-70B-Instruct",
        "Qwen/Qwen2.5-Coder-32B-Instruct",
        "mistralai/Mistral-7B-Instruct-v0.3",
        "text-embedding",
        "gpt-4o-mini",
    )
    deployments = [
        DeploymentSpec(name="llama-8b", server="vllm", model=llama8, instances=2, capacity_rps=4.0,
                       gpu=GpuSpec(model="NVIDIA H100 80GB HBM3")),
        DeploymentSpec(name="llama-70b", server="vllm", model=llama70, instances=1, capacity_rps=2.0,
                       ttft_s=0.35, itl_s=0.045, gpu=GpuSpec(model="NVIDIA H100 80GB HBM3", count=4)),
        DeploymentSpec(name="coder-32b", server="vllm", model=coder, instances=1, tenant="devtools",
                       owner="devtools", capacity_rps=2.0, ttft_s=0.25, itl_s=0.035,
                       gpu=GpuSpec(model="NVIDIA A100-SXM4-80GB", count=2, power_limit_w=400)),
        DeploymentSpec(name="mistral-mig", server="vllm", model=mistral, instances=1, capacity_rps=1.5,
                       gpu=GpuSpec(model="NVIDIA A100-SXM4-80GB", mig_profile="3g.40gb", fraction=0.5,
                                   memory_bytes=40 * 1024**3, power_limit_w=400)),
        DeploymentSpec(name="embed-triton", server="triton", model=embed, instances=1, capacity_rps=30.0,
                       ttft_s=0.01, itl_s=0.001, gpu=GpuSpec(model="NVIDIA L4", memory_bytes=24 * 1024**3, power_limit_w=72)),
        DeploymentSpec(name="openai-proxy", server="external", model=api, instances=0, ttft_s=0.4, itl_s=0.02),
    ]
    tenants = []
    for i, name in enumerate(_TENANTS):
        chat = [llama8, llama70, mistral, api]
        picks = rnd.sample(chat, k=1 + i % 3)
        models = {m: round(rnd.uniform(0.2, 1.0), 2) for m in picks}
        if name == "devtools":
            models = {coder: 0.8, llama8: 0.2}
        if name in ("search", "docs-qa", "research"):
            models[embed] = 1.0
        tenants.append(TenantSpec(
            name=name,
            rate_rps=round(0.02 + 0.25 * rnd.random() ** 2, 3) if name != "sandbox" else 0.005,
            models=models,
            input_tokens=rnd.choice([300, 600, 1200, 2500]),
            output_tokens=rnd.choice([80, 200, 400]),
            cached_share=round(rnd.uniform(0.0, 0.6), 2),
            budget=rnd.choice([500, 1500, 4000, 10000]),
        ))
    return FleetSpec(seed=seed, tenants=tenants, deployments=deployments)
