"""Tenancy configuration (YAML): tenants and budgets, deployments, work weights, idle policy.

A deployment is ``dedicated`` to one tenant (all its GPU-hours, busy or idle, go to that tenant)
or ``shared`` (split per minute by weighted token work; idle by the idle policy). ``billing:
tokens`` marks a third-party API whose models are billed per token at list price. A deployment's
GPU model and MIG profile come from the allocation heartbeats, not from here. Deployments and
tenants that appear in the data but not here still get their own ledger lines, flagged.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from infermeter.chargeback.config import IdlePolicy, Weights
from infermeter.chargeback.conventions import IDLE_TENANT
from infermeter.chargeback.yamlfile import digest, read_yaml, validate

Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tenant(_Model):
    monthly_budget: Annotated[Decimal, Field(ge=0, decimal_places=2)] | None = None
    contact: str = ""


class Deployment(_Model):
    mode: Literal["shared", "dedicated"] = "shared"
    tenant: Name | None = Field(default=None, description="The tenant of a dedicated deployment.")
    owner: Name | None = Field(default=None, description="The tenant that takes idle GPU-hours under policy `owner`.")
    model: str = Field(default="", description="Model label for idle lines (usage lines carry their own).")
    billing: Literal["gpu", "tokens"] = "gpu"

    @model_validator(mode="after")
    def _shape(self) -> "Deployment":
        if self.mode == "dedicated" and not self.tenant:
            raise ValueError("a dedicated deployment needs `tenant`")
        if self.mode == "shared" and self.tenant:
            raise ValueError("`tenant` is for dedicated deployments; a shared one may have an `owner`")
        return self


class TenancyFile(_Model):
    idle_policy: IdlePolicy = "proportional"
    weights: Weights = Weights()
    tenants: dict[Name, Tenant] = Field(default_factory=dict)
    deployments: dict[Name, Deployment] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> "TenancyFile":
        if IDLE_TENANT in self.tenants:
            raise ValueError(f"tenant name {IDLE_TENANT!r} is reserved for idle lines")
        for name, dep in self.deployments.items():
            for field in ("tenant", "owner"):
                ref = getattr(dep, field)
                if ref is not None and ref not in self.tenants:
                    raise ValueError(f"deployments.{name}.{field}: unknown tenant {ref!r}")
        return self


class Tenancy:
    """The loaded tenancy file with the effective policy (settings may override weights and policy)."""

    def __init__(
        self,
        model: TenancyFile,
        source: Path | str = "tenancy",
        text: str = "",
        *,
        weights: Weights | None = None,
        idle_policy: IdlePolicy | None = None,
    ) -> None:
        self.model = model
        self.source = Path(source)
        self.digest = digest(text) if text else ""
        self.weights = weights or model.weights
        self.idle_policy: IdlePolicy = idle_policy or model.idle_policy
        if self.idle_policy == "owner":
            missing = [n for n, d in model.deployments.items() if d.mode == "shared" and d.billing == "gpu" and not d.owner]
            if missing:
                from infermeter.errors import ConfigError

                raise ConfigError(
                    f"{self.source}: deployments.{missing[0]}.owner: idle_policy `owner` needs an owner for every "
                    f"shared deployment (missing: {', '.join(missing)})"
                )

    @property
    def tenants(self) -> dict[str, Tenant]:
        return self.model.tenants

    @property
    def deployments(self) -> dict[str, Deployment]:
        return self.model.deployments

    def token_deployments(self) -> frozenset[str]:
        return frozenset(n for n, d in self.deployments.items() if d.billing == "tokens")

    def budgets(self) -> dict[str, Decimal]:
        return {n: t.monthly_budget for n, t in self.tenants.items() if t.monthly_budget is not None}


def load_tenancy(
    path: str | Path, *, weights: Weights | None = None, idle_policy: IdlePolicy | None = None
) -> Tenancy:
    """Read and validate a tenancy YAML file; ``weights``/``idle_policy`` override the file's."""
    path = Path(path)
    data, text = read_yaml(path, "tenancy")
    model = validate(TenancyFile, data, path, text)
    return Tenancy(model, path, text, weights=weights, idle_policy=idle_policy)
