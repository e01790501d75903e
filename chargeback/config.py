"""The ``chargeback`` section of the configuration (``Settings.chargeback``).

This module must not import :mod:`infermeter.config` (which imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IdlePolicy = Literal["proportional", "owner", "separate"]


class Weights(BaseModel):
    """Work of a request = uncached input · ``input`` + cached input · ``cached_input`` + output · ``output``.

    ``cached_input`` defaults to ``input`` (so work = input_tokens·w_in + output_tokens·w_out, as
    in DESIGN.md); a prefix-cache hit costs the GPU less, so a lower value is often fairer.
    """

    model_config = ConfigDict(extra="forbid")

    input: float = Field(default=1.0, ge=0, description="w_in, per uncached input token")
    output: float = Field(default=2.0, ge=0, description="w_out, per output token")
    cached_input: float | None = Field(default=None, ge=0, description="per cached input token; default: input")

    @model_validator(mode="after")
    def _some_work(self) -> "Weights":
        if self.input == 0 and self.output == 0 and not self.cached_input:
            raise ValueError("at least one weight must be > 0")
        return self

    @property
    def cached(self) -> float:
        return self.input if self.cached_input is None else self.cached_input


class ChargebackConfig(BaseModel):
    """Where the price catalog and the tenancy file are, and overrides of the tenancy's policy."""

    model_config = ConfigDict(extra="forbid")

    prices: Path | None = Field(default=None, description="Price catalog YAML (examples/prices.yaml).")
    tenancy: Path | None = Field(default=None, description="Tenants and deployments YAML (examples/tenancy.yaml).")
    weights: Weights | None = Field(default=None, description="Overrides the tenancy file's weights.")
    idle_policy: IdlePolicy | None = Field(default=None, description="Overrides the tenancy file's idle_policy.")
    adjust_months: int = Field(
        default=3, ge=0, le=24, description="How many earlier months a run checks for late events (adjustment lines)."
    )
