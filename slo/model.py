"""The internal SLO model, independent of the spec format it was read from (as in Sloth:
spec -> model -> generator -> output), and the Prometheus rules generated from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class EventsSLI:
    """Error and total event rates; each query holds ``{{.window}}``."""

    error_query: str
    total_query: str


@dataclass(frozen=True)
class RawSLI:
    """A ready error ratio (0..1) query holding ``{{.window}}``."""

    error_ratio_query: str


SLI = EventsSLI | RawSLI


class UsageKind(str, Enum):
    AVAILABILITY = "availability"  # errors: status class in error_classes
    LATENCY = "latency"  # errors: duration_ms above the threshold
    TTFT = "ttft"  # errors: ttft_ms above the threshold; requests without a TTFT do not count


@dataclass(frozen=True)
class UsageSLI:
    """The same SLI computed from the gateway's ``usage`` events (reports): set by the gateway
    templates, whose Prometheus metrics the exporter derives from those very events."""

    kind: UsageKind
    selector: str = ""  # the template's extra label matchers (tenant, model, ...)
    error_classes: tuple[str, ...] = ("5xx",)
    threshold_s: float = 0.0


@dataclass(frozen=True)
class AlertMeta:
    """One of the two alerts (page, ticket) of an SLO."""

    disable: bool = True
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


class PeriodKind(str, Enum):
    ROLLING = "rolling"
    CALENDAR_MONTH = "calendar_month"


@dataclass(frozen=True)
class SLO:
    """One SLO, ready for generation. ``objective`` is a percentage (99.9)."""

    id: str
    name: str
    service: str
    objective: float
    period_ms: int
    sli: SLI | None
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    page_alert: AlertMeta = field(default_factory=AlertMeta)
    ticket_alert: AlertMeta = field(default_factory=AlertMeta)
    # infermeter extensions (all off for Sloth specs)
    period_kind: PeriodKind = PeriodKind.ROLLING
    group_by: tuple[str, ...] = ()
    min_events: int | None = None
    usage_sli: UsageSLI | None = None  # reports: the SLI from usage events (gateway templates)
    # where it came from, for error messages: "spec.slos[1]"
    location: str = ""


class SourceKind(str, Enum):
    SLOTH_V1 = "prometheus/v1"
    K8S_V1 = "sloth.slok.dev/v1"
    OPENSLO_V1ALPHA = "openslo/v1alpha"
    INFERMETER_V1 = "infermeter/v1"


@dataclass(frozen=True)
class K8sMeta:
    name: str
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SLOGroup:
    """The SLOs of one spec document."""

    kind: SourceKind
    slos: tuple[SLO, ...]
    source: str = ""  # "file.yaml" or "file.yaml (document 2)"
    k8s: K8sMeta | None = None


@dataclass(frozen=True)
class Rule:
    """A Prometheus recording rule (``record``) or alerting rule (``alert``)."""

    expr: str
    record: str = ""
    alert: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class SLORules:
    """Everything generated for one SLO, in output order."""

    slo: SLO
    sli: RuleGroup
    meta: RuleGroup
    alerts: RuleGroup
    extra: tuple[RuleGroup, ...] = ()

    def groups(self) -> tuple[RuleGroup, ...]:
        return (self.sli, self.meta, self.alerts, *self.extra)


@dataclass(frozen=True)
class GeneratorInfo:
    """What the ``sloth_slo_info`` rule and the file header say about the generator."""

    version: str
    mode: str
    spec: str
