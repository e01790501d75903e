"""infermeter's spec, ``version: infermeter/v1``: Sloth's ``prometheus/v1`` plus optional fields.

A ``prometheus/v1`` spec with its version changed is a valid ``infermeter/v1`` spec and generates
the same rules. The additions:

- ``period`` (spec or SLO): a duration (``30d``) or ``calendar-month``;
- ``sli.latency``: a latency SLI from histogram buckets (``metric``, ``threshold`` seconds, ``selector``);
- ``group_by``: one SLI series per value of these labels (per tenant, per model), NaN-free;
- ``min_events``: alerts need at least this many events in the alert's long window;
- ``template`` + ``params``: a built-in inference SLI (``infermeter slo templates``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from infermeter.slo.specs import sloth_v1
from infermeter.slo.specs.base import SpecModel

VERSION = "infermeter/v1"
CALENDAR_MONTH = "calendar-month"


class LatencySLI(SpecModel):
    metric: str = ""  # histogram base name, without _bucket/_count
    threshold: float = 0  # seconds; must be one of the histogram's bucket bounds
    selector: str = ""  # extra label matchers: 'model_name="llama", engine="0"'


class SLI(sloth_v1.SLI):
    latency: LatencySLI | None = None


class SLO(sloth_v1.SLO):
    sli: SLI = Field(default_factory=SLI)  # type: ignore[assignment]
    period: str | None = None
    group_by: list[str] = Field(default_factory=list)
    min_events: int | None = None
    template: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Spec(sloth_v1.Spec):
    period: str | None = None
    slos: list[SLO] = Field(default_factory=list)  # type: ignore[assignment]
