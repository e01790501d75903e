"""Sloth's Kubernetes custom resource: ``sloth.slok.dev/v1`` ``PrometheusServiceLevel``.

Its ``spec`` is Sloth's ``prometheus/v1`` spec with camelCase keys (``errorQuery``,
``pageAlert``, ``sloPlugins``): each model subclasses its :mod:`.sloth_v1` twin with a camelCase
alias generator, and re-declares only the fields whose type is another model of this module.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from infermeter.slo.specs import sloth_v1
from infermeter.slo.specs.base import SpecModel

API_VERSION = "sloth.slok.dev/v1"
KIND = "PrometheusServiceLevel"

_CAMEL = ConfigDict(alias_generator=to_camel)


class SLIRaw(sloth_v1.SLIRaw):
    model_config = _CAMEL


class SLIEvents(sloth_v1.SLIEvents):
    model_config = _CAMEL


class SLIPlugin(sloth_v1.SLIPlugin):
    model_config = _CAMEL


class SLI(sloth_v1.SLI):
    model_config = _CAMEL
    raw: SLIRaw | None = None
    events: SLIEvents | None = None
    plugin: SLIPlugin | None = None


class Alert(sloth_v1.Alert):
    model_config = _CAMEL


class Alerting(sloth_v1.Alerting):
    model_config = _CAMEL
    page_alert: Alert = Field(default_factory=Alert)
    ticket_alert: Alert = Field(default_factory=Alert)


class SLO(sloth_v1.SLO):
    model_config = _CAMEL
    sli: SLI = Field(default_factory=SLI)
    alerting: Alerting = Field(default_factory=Alerting)


class ServiceLevelSpec(sloth_v1.ServiceLevel):
    model_config = _CAMEL
    slos: list[SLO] = Field(default_factory=list)  # type: ignore[assignment]


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
