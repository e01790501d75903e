"""Spec models -> the internal model. One function per input format; each returns the SLO group
and the problems found on the way, as (SLO index or None, field, message, is_error)."""

from __future__ import annotations

from dataclasses import dataclass, field

from infermeter.slo.durations import DAY_MS, DurationError, parse_duration
from infermeter.slo.model import (
    SLI,
    SLO,
    AlertMeta,
    EventsSLI,
    K8sMeta,
    PeriodKind,
    RawSLI,
    SLOGroup,
    SourceKind,
)
from infermeter.slo.sli_builders import latency_sli
from infermeter.slo.specs import infermeter_v1, k8s_v1, openslo_v1alpha, sloth_v1
from infermeter.slo.templates import TemplateError, render_template, usage_sli

# Calendar months are alerted on with the 30-day window table.
CALENDAR_ALERT_PERIOD_MS = 30 * DAY_MS


@dataclass
class MapProblem:
    slo: str | None
    field: str
    message: str
    error: bool = True


@dataclass
class MapResult:
    group: SLOGroup
    problems: list[MapProblem] = field(default_factory=list)


def _merge(*maps: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in maps:
        out.update(m)
    return out


def _alert(
    alerting: sloth_v1.Alerting | k8s_v1.Alerting, which: sloth_v1.Alert | k8s_v1.Alert
) -> AlertMeta:
    if which.disable:
        return AlertMeta(disable=True)
    return AlertMeta(
        disable=False,
        name=alerting.name,
        labels=_merge(alerting.labels, which.labels),
        annotations=_merge(alerting.annotations, which.annotations),
    )


def _sloth_sli(
    sli: sloth_v1.SLI | k8s_v1.SLI, loc: str, name: str, problems: list[MapProblem]
) -> tuple[SLI | None, list[str]]:
    """The SLI and the kinds present; problems for none, several or a plugin."""
    kinds = [k for k in ("raw", "events", "plugin") if getattr(sli, k) is not None]
    if isinstance(sli, infermeter_v1.SLI) and sli.latency is not None:
        kinds.append("latency")
    if sli.plugin is not None:
        problems.append(MapProblem(name, f"{loc}.sli.plugin", "SLI plugins are not supported; use a raw or events SLI"))
    if sli.raw is not None:
        return RawSLI(sli.raw.error_ratio_query), kinds
    if sli.events is not None:
        return EventsSLI(sli.events.error_query, sli.events.total_query), kinds
    return None, kinds


def _check_kinds(kinds: list[str], loc: str, name: str, problems: list[MapProblem]) -> None:
    if not kinds:
        problems.append(MapProblem(name, f"{loc}.sli", "at least one SLI type is required"))
    elif len(kinds) > 1:
        problems.append(MapProblem(name, f"{loc}.sli", f"only one SLI type is allowed, found {' and '.join(kinds)}"))


def _period(text: str | None, default_ms: int, where: str, name: str | None, problems: list[MapProblem]) -> tuple[int, PeriodKind]:
    if text is None:
        return default_ms, PeriodKind.ROLLING
    if text == infermeter_v1.CALENDAR_MONTH:
        return CALENDAR_ALERT_PERIOD_MS, PeriodKind.CALENDAR_MONTH
    try:
        return parse_duration(text), PeriodKind.ROLLING
    except DurationError as exc:
        problems.append(MapProblem(name, where, f"{exc} (or '{infermeter_v1.CALENDAR_MONTH}')"))
        return 0, PeriodKind.ROLLING


def map_sloth(spec: sloth_v1.Spec, default_period_ms: int, source: str) -> MapResult:
    """``prometheus/v1`` (and ``infermeter/v1``, a superset) to the model."""
    problems: list[MapProblem] = []
    extended = isinstance(spec, infermeter_v1.Spec)
    kind = SourceKind.INFERMETER_V1 if extended else SourceKind.SLOTH_V1
    if not spec.slos:
        problems.append(MapProblem(None, "slos", "at least one SLO is required"))
    spec_period = spec.period if isinstance(spec, infermeter_v1.Spec) else None
    slos = []
    for i, s in enumerate(spec.slos):
        loc = f"slos[{i}]"
        sli, kinds = _sloth_sli(s.sli, loc, s.name, problems)
        period_ms, period_kind = default_period_ms, PeriodKind.ROLLING
        group_by: tuple[str, ...] = ()
        min_events = None
        usage = None
        if isinstance(s, infermeter_v1.SLO):
            group_by = tuple(s.group_by)
            min_events = s.min_events
            where = f"{loc}.period" if s.period is not None else "period"
            period_ms, period_kind = _period(s.period or spec_period, default_period_ms, where, s.name, problems)
            if s.sli.latency is not None:
                lat = s.sli.latency
                if not lat.metric or lat.threshold <= 0:
                    problems.append(MapProblem(s.name, f"{loc}.sli.latency", "metric and a threshold > 0 are required"))
                sli = latency_sli(lat.metric, lat.threshold, lat.selector, group_by)
            if s.template is not None:
                kinds.append("template")
                try:
                    sli, warnings = render_template(s.template, s.params, group_by)
                    usage = usage_sli(s.template, s.params)
                except TemplateError as exc:
                    problems.append(MapProblem(s.name, f"{loc}.{exc.field}", str(exc)))
                    sli, warnings = None, []
                for warning in warnings:
                    problems.append(MapProblem(s.name, f"{loc}.params.threshold", warning, error=False))
        _check_kinds(kinds, loc, s.name, problems)
        slos.append(
            _sloth_slo(
                spec, s, loc, sli, kinds, period_ms,
                period_kind=period_kind, group_by=group_by, min_events=min_events, usage_sli=usage,
            )
        )
    return MapResult(SLOGroup(kind, tuple(slos), source), problems)


def _sloth_slo(spec, s, loc: str, sli, kinds: list[str], period_ms: int, **extensions) -> SLO:
    """The model SLO of a Sloth-shaped SLO (prometheus/v1, infermeter/v1 or the Kubernetes spec)."""
    return SLO(
        id=f"{spec.service}-{s.name}",
        name=s.name,
        service=spec.service,
        description=s.description,
        objective=s.objective,
        period_ms=period_ms,
        sli=sli if len(kinds) == 1 else None,
        labels=_merge(spec.labels, s.labels),
        page_alert=_alert(s.alerting, s.alerting.page_alert),
        ticket_alert=_alert(s.alerting, s.alerting.ticket_alert),
        location=loc,
        **extensions,
    )


def map_k8s(obj: k8s_v1.PrometheusServiceLevel, default_period_ms: int, source: str) -> MapResult:
    """``sloth.slok.dev/v1`` ``PrometheusServiceLevel`` to the model (output: a PrometheusRule)."""
    problems: list[MapProblem] = []
    spec = obj.spec
    if not spec.slos:
        problems.append(MapProblem(None, "spec.slos", "at least one SLO is required"))
    slos = []
    for i, s in enumerate(spec.slos):
        loc = f"spec.slos[{i}]"
        sli, kinds = _sloth_sli(s.sli, loc, s.name, problems)
        _check_kinds(kinds, loc, s.name, problems)
        slos.append(_sloth_slo(spec, s, loc, sli, kinds, default_period_ms))
    meta = K8sMeta(obj.metadata.name, obj.metadata.namespace, dict(obj.metadata.labels), dict(obj.metadata.annotations))
    if not meta.name:
        problems.append(MapProblem(None, "metadata.name", "is required"))
    return MapResult(SLOGroup(SourceKind.K8S_V1, tuple(slos), source, meta), problems)


# Sloth's mapping of an OpenSLO ratio to an error ratio (indentation is part of the output).
_OPENSLO_RATIO = "\n  1 - (\n    (\n      {good}\n    )\n    /\n    (\n      {total}\n    )\n  )\n"


def map_openslo(obj: openslo_v1alpha.SLO, default_period_ms: int, source: str) -> MapResult:
    """OpenSLO ``v1alpha`` ``SLO``: one SLO per objective, named ``<name>-<index>``."""
    problems: list[MapProblem] = []
    spec = obj.spec
    if not spec.objectives:
        problems.append(MapProblem(None, "spec.objectives", "at least one SLO is required"))
    period_ms = default_period_ms
    if len(spec.time_windows) > 1:
        problems.append(MapProblem(None, "spec.timeWindows", "only 1 time window is supported"))
    elif spec.time_windows:
        tw = spec.time_windows[0]
        if tw.unit.lower() != "day":
            problems.append(MapProblem(None, "spec.timeWindows[0].unit", "only days based time windows are supported"))
        else:
            period_ms = tw.count * DAY_MS
    slos = []
    for i, objective in enumerate(spec.objectives):
        loc = f"spec.objectives[{i}]"
        name = f"{obj.metadata.name}-{i}"
        sli: SLI | None = None
        ratio = objective.ratio_metrics
        if ratio is None:
            problems.append(MapProblem(name, f"{loc}.ratioMetrics", "missing ratioMetrics"))
        else:
            ok = True
            for part, src in (("good", ratio.good), ("total", ratio.total)):
                if src.source not in ("prometheus", "sloth"):
                    problems.append(MapProblem(name, f"{loc}.ratioMetrics.{part}.source", "must be prometheus or sloth"))
                    ok = False
                if src.query_type != "promql":
                    problems.append(
                        MapProblem(name, f"{loc}.ratioMetrics.{part}.queryType", f"unsupported query type {src.query_type!r}")
                    )
                    ok = False
            if ok:
                sli = RawSLI(_OPENSLO_RATIO.format(good=ratio.good.query, total=ratio.total.query))
        if objective.target is None:
            problems.append(MapProblem(name, f"{loc}.target", "is required"))
        slos.append(
            SLO(
                id=f"{spec.service}-{name}",
                name=name,
                service=spec.service,
                description=spec.description,
                objective=(objective.target or 0) * 100,
                period_ms=period_ms,
                sli=sli,
                location=loc,
            )
        )
    return MapResult(SLOGroup(SourceKind.OPENSLO_V1ALPHA, tuple(slos), source), problems)

