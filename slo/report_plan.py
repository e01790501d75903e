"""What an SLO report computes, before any SQL: the window, how it splits over the rollups, and
for each SLO where its events come from (counter increases in ``samples``, or ``usage`` events).

Pure functions, no I/O. :mod:`infermeter.slo.report_sql` turns a :class:`ReportPlan` into SQL,
:mod:`infermeter.slo.report` runs it and computes attainment and budgets.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum

from infermeter.errors import ConfigError
from infermeter.slo.durations import DurationError, parse_duration
from infermeter.slo.model import SLO, UsageSLI
from infermeter.slo.report_promql import (
    SUPPORTED_SHAPES,
    CounterRatio,
    CounterSum,
    UnsupportedQuery,
    counter_ratio,
    parse_matchers,
)

UTC = dt.timezone.utc
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)

# Usage columns a gateway template's selector and group_by may name (the exporter's labels).
USAGE_LABEL_COLUMNS = {"tenant": "tenant", "model": "model", "deployment": "deployment", "instance": "instance"}


class Source(str, Enum):
    AUTO = "auto"  # usage events for the gateway templates, samples for the rest
    SAMPLES = "samples"
    USAGE = "usage"


# --- the window -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportWindow:
    """``[start, end)`` in UTC; ``label`` names it in the output (``2025-03`` or ``30d``)."""

    start: dt.datetime
    end: dt.datetime
    label: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def month_window(month: str, now: dt.datetime) -> ReportWindow:
    """Calendar month ``YYYY-MM`` (UTC); a month in progress ends now."""
    m = _MONTH_RE.match(month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"--month: expected YYYY-MM, got {month!r}")
    year, mon = int(m.group(1)), int(m.group(2))
    start = dt.datetime(year, mon, 1, tzinfo=UTC)
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    now = _utc(now)
    if start >= now:
        raise ConfigError(f"--month: {month} has not started yet")
    return ReportWindow(start, min(end, now), f"{year:04d}-{mon:02d}")


def rolling_window(window: str, end: dt.datetime) -> ReportWindow:
    """The ``window`` (a Prometheus duration such as ``30d``) ending at ``end``."""
    try:
        ms = parse_duration(window.strip())
    except DurationError as exc:
        raise ConfigError(f"--window: {exc}") from None
    if ms <= 0:
        raise ConfigError(f"--window: must be longer than 0, got {window!r}")
    end = _utc(end)
    return ReportWindow(end - dt.timedelta(milliseconds=ms), end, window.strip())


def parse_time(text: str) -> dt.datetime:
    """``--end``: ISO 8601 (naive means UTC) or epoch seconds."""
    value = text.strip()
    try:
        return dt.datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        pass
    try:
        return _utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise ConfigError(f"--end: expected ISO 8601 time or epoch seconds, got {text!r}") from None


# --- the rollup split -----------------------------------------------------------------------------
Span = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class TimeSplit:
    """``[start, end)`` cut into what each table answers: whole hours from ``samples_1h``, whole
    minutes from ``samples_1m``, the rest from raw ``samples``. A rollup row at ``t`` sums the
    deltas of the samples in ``[t, t + its width)``, so the three parts add up to exactly what
    the raw samples of the window give."""

    raw: tuple[Span, ...]
    minute: tuple[Span, ...] = ()
    hour: tuple[Span, ...] = ()


def _floor(t: dt.datetime, step: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // step) * step


def _ceil(t: dt.datetime, step: dt.timedelta) -> dt.datetime:
    f = _floor(t, step)
    return f if f == t else f + step


def _spans(*pairs: Span) -> tuple[Span, ...]:
    return tuple(p for p in pairs if p[0] < p[1])


def split_window(start: dt.datetime, end: dt.datetime, rollups: bool = True) -> TimeSplit:
    if not rollups:
        return TimeSplit(_spans((start, end)))
    m0, m1 = _ceil(start, MINUTE), _floor(end, MINUTE)
    if m0 >= m1:
        return TimeSplit(_spans((start, end)))
    h0, h1 = _ceil(m0, HOUR), _floor(m1, HOUR)
    if h0 >= h1:
        return TimeSplit(_spans((start, m0), (m1, end)), _spans((m0, m1)))
    return TimeSplit(_spans((start, m0), (m1, end)), _spans((m0, h0), (h1, m1)), _spans((h0, h1)))


# --- per-SLO plans --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplesSLI:
    """Errors and totals as signed sums of terms (indices into :attr:`ReportPlan.terms`)."""

    errors: tuple[tuple[int, int], ...]  # (sign, term index)
    total: tuple[tuple[int, int], ...]
    by: tuple[str, ...]


@dataclass(frozen=True)
class UsageFilter:
    column: str
    op: str  # =, !=, =~, !~
    value: str


@dataclass(frozen=True)
class UsageTerm:
    """One usage-based SLI: which events count, which are errors, how they group."""

    sli: UsageSLI
    filters: tuple[UsageFilter, ...]
    by: tuple[str, ...]  # usage columns


@dataclass(frozen=True)
class SLOPlan:
    slo: SLO
    source: str  # "samples" | "usage"
    by: tuple[str, ...]  # the labels (samples) or usage columns the SLO is reported per
    samples: SamplesSLI | None = None
    usage: int | None = None  # index into ReportPlan.usage_terms


@dataclass(frozen=True)
class ReportPlan:
    window: ReportWindow
    split: TimeSplit
    slos: tuple[SLOPlan, ...]
    terms: tuple[CounterSum, ...]  # distinct counter sums over all SLOs
    usage_terms: tuple[UsageTerm, ...]


@dataclass(frozen=True)
class Skipped:
    slo: SLO
    source: str  # the spec file
    reason: str


class PlanError(ValueError):
    """An SLO whose SLI a report cannot compute (the message names the query shape)."""


def usage_term(slo: SLO) -> UsageTerm:
    """The usage-event form of a gateway-template SLO."""
    assert slo.usage_sli is not None
    try:
        matchers = parse_matchers(slo.usage_sli.selector)
    except UnsupportedQuery as exc:
        raise PlanError(f"params.selector: {exc}") from None
    filters = []
    for m in matchers:
        column = USAGE_LABEL_COLUMNS.get(m.name)
        if column is None:
            known = ", ".join(USAGE_LABEL_COLUMNS)
            raise PlanError(f"params.selector: usage events have no label {m.name!r} (they have {known})")
        filters.append(UsageFilter(column, m.op, m.value))
    by = []
    for label in slo.group_by:
        column = USAGE_LABEL_COLUMNS.get(label)
        if column is None:
            raise PlanError(f"group_by: usage events cannot group by {label!r} (only {', '.join(USAGE_LABEL_COLUMNS)})")
        by.append(column)
    return UsageTerm(slo.usage_sli, tuple(filters), tuple(by))


def _uses_usage(slo: SLO, source: Source) -> bool:
    if source is Source.SAMPLES:
        return False
    if source is Source.USAGE:
        if slo.usage_sli is None:
            raise PlanError("--source usage: only the gateway templates have an SLI from usage events")
        return True
    return slo.usage_sli is not None


class _Terms:
    def __init__(self) -> None:
        self.index: dict[CounterSum, int] = {}

    def add(self, linear) -> tuple[tuple[int, int], ...]:
        out = []
        for sign, term in linear:
            out.append((sign, self.index.setdefault(term, len(self.index))))
        return tuple(out)


def plan_report(
    slos: list[tuple[SLO, str]], window: ReportWindow, source: Source = Source.AUTO, rollups: bool = True,
    skip_unsupported: bool = False,
) -> tuple[ReportPlan, list[Skipped]]:
    """The plan for ``slos`` (each with the spec file it came from). An SLO the report cannot
    compute raises :class:`ConfigError` naming the file, the SLO and the reason, or is returned
    in the skipped list with ``skip_unsupported``."""
    terms = _Terms()
    usage_terms: list[UsageTerm] = []
    plans: list[SLOPlan] = []
    skipped: list[Skipped] = []
    for slo, origin in slos:
        try:
            if _uses_usage(slo, source):
                term = usage_term(slo)
                usage_terms.append(term)
                plans.append(SLOPlan(slo, Source.USAGE.value, term.by, usage=len(usage_terms) - 1))
                continue
            if slo.sli is None:
                raise PlanError("the SLO has no SLI")
            try:
                ratio: CounterRatio = counter_ratio(slo.sli)
            except UnsupportedQuery as exc:
                raise PlanError(f"{exc} (supported: {SUPPORTED_SHAPES})") from None
            sli = SamplesSLI(terms.add(ratio.errors), terms.add(ratio.total), ratio.by)
            plans.append(SLOPlan(slo, Source.SAMPLES.value, ratio.by, samples=sli))
        except PlanError as exc:
            if not skip_unsupported:
                raise ConfigError(f"{origin}: SLO {slo.name!r}: cannot report: {exc}") from None
            skipped.append(Skipped(slo, origin, str(exc)))
    plan = ReportPlan(
        window, split_window(window.start, window.end, rollups), tuple(plans), tuple(terms.index), tuple(usage_terms)
    )
    return plan, skipped


