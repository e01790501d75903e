"""The ``chargeback`` section of the configuration (``Settings.chargeback``).

This module must not import :mod:`infermeter.config` (which imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IdlePolicy = Literal["proportional", "owner", "separate"]


class Weights(BaseModel):
    """How a shared deployment's busy GPU-seconds are split over requests (docs/chargeback.md).

    Work of a request = uncached input · ``input`` + cached input · ``cached_input`` + output ·
    ``output``. ``cached_input`` defaults to ``input`` (so work = input_tokens·w_in +
    output_tokens·w_out, as in DESIGN.md); a prefix-cache hit costs the GPU less, so a lower value
    is often fairer.

    With ``phase_split`` (the default) and vLLM's timing histograms in the store
    (``vllm:request_prefill_time_seconds`` and ``vllm:request_decode_time_seconds``), each minute's
    GPU-seconds are first cut into a prefill and a decode part by the deployment's measured
    prefill/decode time over a window of ``phase_window_minutes``; the prefill part is split by
    input work (input and cached-input tokens with their weights), the decode part by output
    tokens. Where a window has no timing data, the token weights alone decide.
    """

    model_config = ConfigDict(extra="forbid")

    input: float = Field(default=1.0, ge=0, description="w_in, per uncached input token")
    output: float = Field(default=2.0, ge=0, description="w_out, per output token")
    cached_input: float | None = Field(default=None, ge=0, description="per cached input token; default: input")
    phase_split: bool = Field(default=True, description="split by vLLM's prefill/decode time where it was scraped")
    phase_window_minutes: int = Field(
        default=60, ge=1, le=1440, description="window of the prefill/decode time share (divides 1440)"
    )

    @model_validator(mode="after")
    def _some_work(self) -> "Weights":
        if self.input == 0 and self.output == 0 and not self.cached_input:
            raise ValueError("at least one weight must be > 0")
        if 1440 % self.phase_window_minutes:
            raise ValueError(
                f"phase_window_minutes must divide a day (1440 minutes) so that days add up to the month; got {self.phase_window_minutes}"
            )
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
