"""OpenSLO ``openslo/v1alpha`` ``SLO`` documents, the subset Sloth reads (ratio metrics)."""

from __future__ import annotations

from pydantic import Field

from infermeter.slo.specs.base import SpecModel

API_VERSION = "openslo/v1alpha"
KIND = "SLO"


class MetricSource(SpecModel):
    source: str = ""
    query_type: str = Field("", alias="queryType")
    query: str = ""
    metadata: dict[str, object] = Field(default_factory=dict)


class RatioMetrics(SpecModel):
    good: MetricSource = Field(default_factory=MetricSource)
    total: MetricSource = Field(default_factory=MetricSource)
    incremental: bool = False


class Objective(SpecModel):
    display_name: str = Field("", alias="displayName")
    value: float = 0
    target: float | None = None
    time_slice_target: float | None = Field(None, alias="timeSliceTarget")
    op: str = ""
    ratio_metrics: RatioMetrics | None = Field(None, alias="ratioMetrics")


class TimeWindow(SpecModel):
    count: int = 0
    unit: str = ""
    is_rolling: bool = Field(False, alias="isRolling")
    calendar: dict[str, object] = Field(default_factory=dict)


class Metadata(SpecModel):
    name: str = ""
    display_name: str = Field("", alias="displayName")


class SLOSpec(SpecModel):
    description: str = ""
    service: str = ""
    budgeting_method: str = Field("", alias="budgetingMethod")
    indicator: dict[str, object] | None = None
    objectives: list[Objective] = Field(default_factory=list)
    time_windows: list[TimeWindow] = Field(default_factory=list, alias="timeWindows")


class SLO(SpecModel):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: Metadata = Field(default_factory=Metadata)
    spec: SLOSpec = Field(default_factory=SLOSpec)
