"""Typed events that enter the store: gateway usage and GPU allocation heartbeats."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NonNegInt = Annotated[int, Field(ge=0, le=2**63 - 1)]
Name = Annotated[str, Field(min_length=1, max_length=256)]


def parse_ts(value: Any) -> dt.datetime:
    """ISO 8601 text, or epoch seconds / milliseconds; naive times are UTC."""
    if isinstance(value, bool):
        raise ValueError("a timestamp, not a boolean")
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        parsed = dt.datetime.fromisoformat(text)
        return parsed.astimezone(dt.timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    raise ValueError(f"cannot read a timestamp from {type(value).__name__}")


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("ts", mode="before", check_fields=False)
    @classmethod
    def _ts(cls, value: Any) -> dt.datetime:
        return parse_ts(value)


class UsageEvent(_Event):
    """One gateway request (DESIGN.md, ``usage``). Never carries an API key, only its id."""

    event_id: Name
    ts: dt.datetime
    tenant: Name
    model: Name
    api_key_id: str = ""
    deployment: str = ""
    instance: str = ""
    input_tokens: NonNegInt = 0
    cached_input_tokens: NonNegInt = 0
    output_tokens: NonNegInt = 0
    ttft_ms: Annotated[float, Field(ge=0)] | None = None
    duration_ms: Annotated[float, Field(ge=0)] = 0.0
    status_code: Annotated[int, Field(ge=100, le=599)] = 200
    error_type: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)
    source: str = "file"

    @model_validator(mode="after")
    def _cached_within_input(self) -> "UsageEvent":
        if self.cached_input_tokens > self.input_tokens:
            raise ValueError(
                f"cached_input_tokens ({self.cached_input_tokens}) exceeds input_tokens ({self.input_tokens})"
            )
        return self


class AllocationHeartbeat(_Event):
    """A sidecar's statement that an instance held a GPU (or a share of one) for ``interval_s``."""

    ts: dt.datetime
    interval_s: Annotated[float, Field(gt=0, le=86400)]
    deployment: Name
    instance: Name
    gpu_uuid: Name
    gpu_model: Name
    mig_profile: str = ""
    fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    source: str = "file"


def usage_row(event: UsageEvent) -> dict[str, Any]:
    row = event.model_dump()
    row["ts"] = event.ts.replace(tzinfo=None)
    row["attributes"] = list(event.attributes.items())
    return row


def allocation_row(hb: AllocationHeartbeat) -> dict[str, Any]:
    row = hb.model_dump()
    row["ts"] = hb.ts.replace(tzinfo=None)
    return row
