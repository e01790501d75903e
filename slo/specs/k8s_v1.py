"""Sloth's Kubernetes custom resource: ``sloth.slok.dev/v1`` ``PrometheusServiceLevel``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from infermeter.slo.specs.base import SpecModel

API_VERSION = "sloth.slok.dev/v1"
KIND = "PrometheusServiceLevel"


class SLIRaw(SpecModel):
    error_ratio_query: str = Field("", alias="errorRatioQuery")


class SLIEvents(SpecModel):
    error_query: str = Field("", alias="errorQuery")
    total_query: str = Field("", alias="totalQuery")


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
    page_alert: Alert = Field(default_factory=Alert, alias="pageAlert")
    ticket_alert: Alert = Field(default_factory=Alert, alias="ticketAlert")


class SLO(SpecModel):
    name: str = ""
    description: str = ""
    objective: float = 0
    plugins: Any = None
    labels: dict[str, str] = Field(default_factory=dict)
    sli: SLI = Field(default_factory=SLI)
    alerting: Alerting = Field(default_factory=Alerting)


class ServiceLevelSpec(SpecModel):
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    slo_plugins: Any = Field(None, alias="sloPlugins")
    slos: list[SLO] = Field(default_factory=list)


class ObjectMeta(SpecModel):
    # Kubernetes object metadata has many more fields; none matter here, none deserve a warning.
    quiet_extras: ClassVar[frozenset[str]] = frozenset(
        {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences",
         "finalizers", "generateName", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}
    )
    name: str = ""
    namespace: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class PrometheusServiceLevel(SpecModel):
    quiet_extras: ClassVar[frozenset[str]] = frozenset({"status"})
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ServiceLevelSpec = Field(default_factory=ServiceLevelSpec)
