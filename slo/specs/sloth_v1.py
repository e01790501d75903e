"""Sloth's ``prometheus/v1`` spec (``version: prometheus/v1``), field for field.

The Kubernetes resource (:mod:`.k8s_v1`) has the same SLO models with camelCase keys: it
subclasses these, so both formats share one definition of every field."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from infermeter.slo.specs.base import SpecModel

VERSION = "prometheus/v1"


class SLIRaw(SpecModel):
    error_ratio_query: str = ""


class SLIEvents(SpecModel):
    error_query: str = ""
    total_query: str = ""


class SLIPlugin(SpecModel):
    id: str = ""
    options: dict[str, str] = Field(default_factory=dict)


class SLI(SpecModel):
    raw: SLIRaw | None = None
    events: SLIEvents | None = None
    plugin: SLIPlugin | None = None


class Alert(SpecModel):
    disable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Alerting(SpecModel):
    name: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: Alert = Field(default_factory=Alert)
    ticket_alert: Alert = Field(default_factory=Alert)


class SLO(SpecModel):
    name: str = ""
    description: str = ""
    objective: float = 0
    plugins: Any = None
    labels: dict[str, str] = Field(default_factory=dict)
    sli: SLI = Field(default_factory=SLI)
    alerting: Alerting = Field(default_factory=Alerting)


class ServiceLevel(SpecModel):
    """A service and its SLOs: the body of a spec (also of the Kubernetes resource's ``spec``)."""

    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    slo_plugins: Any = None
    slos: list[SLO] = Field(default_factory=list)


class Spec(ServiceLevel):
    version: str
