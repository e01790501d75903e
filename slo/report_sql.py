"""A :class:`ReportPlan` as SQL, three queries whose text does not grow with the data:

* :func:`series_query`: the ``series`` rows (id, metric, labels) the terms can select, by metric
  name; :mod:`~infermeter.slo.report_match` matches their labels to the terms in Python (the
  series table is the small side; one ``if(condition)`` per term in SQL made ClickHouse spend
  seconds analysing the query at a hundred SLOs);
* :func:`sums_query`: per series, the sum of the reset-aware ``delta`` over the window, read from
  ``samples_1h`` for whole hours, ``samples_1m`` for whole minutes and ``samples`` for the rest;
* :func:`usage_query`: per group (the union of the usage SLOs' ``group_by`` columns), the events
  and error events of every usage-based SLI, from ``usage FINAL`` (a duplicate event counts once).

Every value (metric names, regexes, label values, times, thresholds) is a server-side
parameter; only table and column names and parameter names are SQL text. Pure functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from infermeter.ingest import conventions as tables
from infermeter.slo.model import UsageKind
from infermeter.slo.report_plan import ReportPlan, Span, UsageTerm
from infermeter.slo.report_promql import NAME_LABEL

_TIME = "DateTime64(3, 'UTC')"


@dataclass
class Query:
    sql: str
    params: dict[str, Any] = field(default_factory=dict)


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any, type_: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return "{" + name + ":" + type_ + "}"


def promql_regex(value: str) -> str:
    """A PromQL regex matcher as RE2 for ``match()``: Prometheus anchors it at both ends."""
    return f"^(?:{value})$"


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def metric_condition(plan: ReportPlan, p: _Params) -> str:
    """Which ``series`` rows some term may select, by metric name alone (``1`` if a term does
    not pin its metric name with ``__name__=`` or ``=~``)."""
    names: set[str] = set()
    regexes: list[str] = []
    for term in plan.terms:
        pinned = [m for m in term.matchers if m.name == NAME_LABEL and m.op in ("=", "=~")]
        if not pinned:
            return "1"
        m = pinned[0]
        if m.op == "=":
            names.add(m.value)
        elif m.value not in regexes:
            regexes.append(m.value)
    parts = [f"metric IN {p(sorted(names), 'Array(String)')}"] if names else []
    parts += [f"match(metric, {p(promql_regex(r), 'String')})" for r in regexes]
    return " OR ".join(parts) or "0"


def series_query(plan: ReportPlan) -> Query | None:
    """Candidate series for the plan's terms: ``series_id``, ``metric``, ``labels``."""
    if not plan.terms:
        return None
    p = _Params()
    cond = metric_condition(plan, p)
    sql = (f"SELECT series_id, any(metric) AS series_metric, any(labels) AS series_labels "
           f"FROM {tables.SERIES} WHERE {cond} GROUP BY series_id")
    return Query(sql, p.values)


def _spans_sql(spans: tuple[Span, ...], p: _Params) -> str:
    return " OR ".join(f"(ts >= {p(_naive(a), _TIME)} AND ts < {p(_naive(b), _TIME)})" for a, b in spans)


def sums_query(plan: ReportPlan) -> Query | None:
    """Per candidate series: ``inc``, the sum of its deltas over the window."""
    if not plan.terms:
        return None
    p = _Params()
    ids = f"series_id IN (SELECT series_id FROM {tables.SERIES} WHERE {metric_condition(plan, p)})"
    parts = []
    for table, spans in (
        (tables.SAMPLES_1H, plan.split.hour),
        (tables.SAMPLES_1M, plan.split.minute),
        (tables.SAMPLES, plan.split.raw),
    ):
        if spans:
            parts.append(f"SELECT series_id, delta FROM {table} WHERE {ids} AND ({_spans_sql(spans, p)})")
    if not parts:
        return None
    union = "\n    UNION ALL\n    ".join(parts)
    sql = f"SELECT series_id, sum(delta) AS inc\nFROM\n(\n    {union}\n)\nGROUP BY series_id"
    return Query(sql, p.values)


_CLASS = "concat(toString(intDiv(status_code, 100)), 'xx')"


def _usage_filter_sql(column: str, op: str, value: str, p: _Params) -> str:
    target = f"toString({column})"
    if op == "=":
        return f"{target} = {p(value, 'String')}"
    if op == "!=":
        return f"{target} != {p(value, 'String')}"
    regex = p(promql_regex(value), "String")
    return f"match({target}, {regex})" if op == "=~" else f"NOT match({target}, {regex})"


def usage_condition(term: UsageTerm, p: _Params) -> tuple[str, str]:
    """(which events count, which of them are errors) for one usage-based SLI."""
    counted = [_usage_filter_sql(f.column, f.op, f.value, p) for f in term.filters]
    sli = term.sli
    if sli.kind is UsageKind.AVAILABILITY:
        error = f"{_CLASS} IN {p(list(sli.error_classes), 'Array(String)')}"
    elif sli.kind is UsageKind.LATENCY:
        error = f"duration_ms > {p(sli.threshold_s * 1000.0, 'Float64')}"
    else:
        counted.append("ttft_ms IS NOT NULL")
        error = f"ifNull(ttft_ms > {p(sli.threshold_s * 1000.0, 'Float64')}, 0)"
    return (" AND ".join(counted) or "1"), error


def usage_group_columns(plan: ReportPlan) -> tuple[str, ...]:
    """The columns the usage query groups by: every column some usage SLO groups by."""
    return tuple(sorted({c for term in plan.usage_terms for c in term.by}))


def usage_query(plan: ReportPlan) -> Query | None:
    """Per group (columns ``group_<column>``): ``total_<i>`` and ``errors_<i>`` of usage term ``i``."""
    if not plan.usage_terms:
        return None
    p = _Params()
    columns = []
    for i, term in enumerate(plan.usage_terms):
        counted, error = usage_condition(term, p)
        columns.append(f"countIf({counted}) AS total_{i}")
        columns.append(f"countIf(({counted}) AND ({error})) AS errors_{i}")
    group = usage_group_columns(plan)
    keys = ", ".join(f"toString({c}) AS group_{c}" for c in group)
    start, end = p(_naive(plan.window.start), _TIME), p(_naive(plan.window.end), _TIME)
    sql = (
        f"SELECT {keys + ', ' if keys else ''}{', '.join(columns)}\n"
        f"FROM {tables.USAGE} FINAL\n"
        f"WHERE ts >= {start} AND ts < {end}"
        + (f"\nGROUP BY {', '.join('group_' + c for c in group)}" if group else "")
    )
    return Query(sql, p.values)
