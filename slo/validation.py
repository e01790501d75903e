"""Rules an SLO must follow before rules are generated from it (Sloth's, plus infermeter's)."""

from __future__ import annotations

import re

from infermeter.slo.conventions import NAME_RE
from infermeter.slo.model import SLO, AlertMeta, EventsSLI, RawSLI, SLOGroup, SourceKind
from infermeter.slo.promql import aggregates_by, check_query

_PROM_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
NAME_HINT = "must start and end with an alphanumeric and can only contain alphanumeric, '.', '_', and '-'"

# Field spellings that differ from prometheus/v1's in the other formats.
_K8S_NAMES = {
    "error_query": "errorQuery",
    "total_query": "totalQuery",
    "error_ratio_query": "errorRatioQuery",
    "page_alert": "pageAlert",
    "ticket_alert": "ticketAlert",
}


_OPENSLO_NAMES = {"objective": "target", "sli.raw.error_ratio_query": "ratioMetrics"}


def _field(kind: SourceKind, dotted: str) -> str:
    if kind is SourceKind.OPENSLO_V1ALPHA:
        return _OPENSLO_NAMES.get(dotted, dotted)
    if kind is SourceKind.K8S_V1:
        return ".".join(_K8S_NAMES.get(part, part) for part in dotted.split("."))
    return dotted


def _name_error(value: str) -> str | None:
    if not value:
        return "is required"
    if not NAME_RE.match(value):
        return f"{value!r} {NAME_HINT}"
    return None


def _label_errors(labels: dict[str, str], what: str) -> list[tuple[str, str]]:
    errors = []
    for key, value in labels.items():
        if not key or key == "__name__":
            errors.append((what, f"the label key {key!r} is not allowed"))
        elif not value:
            errors.append((f"{what}.{key}", "the label value is required"))
    return errors


def _alert_errors(alert: AlertMeta, which: str) -> list[tuple[str, str]]:
    if alert.disable:
        return []
    errors: list[tuple[str, str]] = []
    if not alert.name:
        errors.append(("alerting.name", "alert name is required when the page or ticket alert is enabled"))
    errors.extend(_label_errors(alert.labels, f"alerting.{which}.labels"))
    for key, value in alert.annotations.items():
        if not key:
            errors.append((f"alerting.{which}.annotations", "empty annotation key"))
        elif not value:
            errors.append((f"alerting.{which}.annotations.{key}", "the annotation value is required"))
    return errors


def _sli_errors(slo: SLO) -> list[tuple[str, str]]:
    sli = slo.sli
    if sli is None:
        return []  # reported while mapping (none or several SLI kinds)
    errors: list[tuple[str, str]] = []
    if isinstance(sli, EventsSLI):
        if sli.error_query == sli.total_query:
            errors.append(("sli.events", "both error and total queries can't be the same"))
        for name, query in (("error_query", sli.error_query), ("total_query", sli.total_query)):
            reason = check_query(query)
            if reason:
                errors.append((f"sli.events.{name}", reason))
        if slo.group_by:
            for name, query in (("error_query", sli.error_query), ("total_query", sli.total_query)):
                if not aggregates_by(query, slo.group_by):
                    errors.append(
                        (f"sli.events.{name}", f"a grouped SLO's queries must aggregate by ({', '.join(slo.group_by)})")
                    )
    elif isinstance(sli, RawSLI):
        reason = check_query(sli.error_ratio_query)
        if reason:
            errors.append(("sli.raw.error_ratio_query", reason))
        if slo.min_events is not None:
            errors.append(("min_events", "needs an events, latency or template SLI (a raw ratio has no event count)"))
    return errors


def validate_slo(slo: SLO, kind: SourceKind) -> list[tuple[str, str]]:
    """(field, message) for every rule ``slo`` breaks; fields are relative to the SLO."""
    errors: list[tuple[str, str]] = []
    for field, value in (("name", slo.name), ("service", slo.service)):
        reason = _name_error(value)
        if reason:
            errors.append((field, reason))
    if not errors:
        reason = _name_error(slo.id)
        if reason:
            errors.append(("name", f"SLO ID {reason}"))
    if slo.period_ms <= 0:
        errors.append(("period", "time window is required"))
    if not 0 < slo.objective < 100:
        errors.append(("objective", f"objective must be >0 and <100, got {slo.objective:g}"))
    errors.extend(_label_errors(slo.labels, "labels"))
    errors.extend(_sli_errors(slo))
    errors.extend(_alert_errors(slo.page_alert, "page_alert"))
    errors.extend(_alert_errors(slo.ticket_alert, "ticket_alert"))
    for label in slo.group_by:
        if not _PROM_LABEL_RE.match(label):
            errors.append(("group_by", f"{label!r} is not a valid label name"))
    if slo.min_events is not None and slo.min_events <= 0:
        errors.append(("min_events", "must be a positive number of events"))
    return [(_field(kind, f), m) for f, m in errors]


def duplicate_ids(group: SLOGroup) -> list[tuple[str, str]]:
    """(SLO name, message) for each SLO whose ID repeats an earlier one in the same document."""
    seen: set[str] = set()
    out = []
    for slo in group.slos:
        if slo.id in seen:
            out.append((slo.name, f"SLO ID {slo.id!r} is repeated"))
        seen.add(slo.id)
    return out
