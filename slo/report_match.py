"""Which stored series each counter term selects, and the term values they add up to.

PromQL label matching over the ``series`` rows (id, metric, labels), the way Prometheus does it:
a missing label reads as ``""``, regexes are anchored at both ends (``=~"5.."`` does not match
``5000``). Regexes run on Python's ``re``; the RE2 syntax Prometheus accepts is a subset of it
for everything label regexes use in practice (classes, alternations, repetitions, groups).

Terms are looked up through an index on one equality matcher (``service="x"``), so matching a
hundred SLOs against tens of thousands of series costs about the number of matches, not their
product. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from infermeter.slo.report_promql import NAME_LABEL, CounterSum, Matcher

SeriesRow = tuple[int, str, Mapping[str, str]]  # series_id, metric, labels
Match = tuple[int, int, tuple[str, ...]]  # series_id, term index, group values


@lru_cache(maxsize=4096)
def _regex(value: str) -> re.Pattern[str]:
    return re.compile(f"(?:{value})")


def matches(m: Matcher, value: str) -> bool:
    if m.op == "=":
        return value == m.value
    if m.op == "!=":
        return value != m.value
    hit = _regex(m.value).fullmatch(value) is not None
    return hit if m.op == "=~" else not hit


class SeriesIndex:
    """The candidate series, indexed by metric name and, lazily, by (metric, label) value."""

    def __init__(self, rows: Iterable[SeriesRow]) -> None:
        self.rows: list[SeriesRow] = list(rows)
        self.by_metric: dict[str, list[int]] = {}
        for pos, (_, metric, _) in enumerate(self.rows):
            self.by_metric.setdefault(metric, []).append(pos)
        self._by_value: dict[tuple[str, str], dict[str, list[int]]] = {}

    def _value_index(self, metric: str, label: str) -> dict[str, list[int]]:
        key = (metric, label)
        index = self._by_value.get(key)
        if index is None:
            index = {}
            for pos in self.by_metric.get(metric, ()):
                index.setdefault(self.rows[pos][2].get(label, ""), []).append(pos)
            self._by_value[key] = index
        return index

    def select(self, term: CounterSum) -> list[int]:
        """Positions of the series ``term`` selects."""
        name_matchers = [m for m in term.matchers if m.name == NAME_LABEL]
        label_matchers = [m for m in term.matchers if m.name != NAME_LABEL]
        metrics = [name for name in self.by_metric if all(matches(m, name) for m in name_matchers)]
        key = next((m for m in label_matchers if m.op == "="), None)
        rest = [m for m in label_matchers if m is not key]
        out: list[int] = []
        for metric in metrics:
            if key is None:
                candidates: Sequence[int] = self.by_metric[metric]
            else:
                candidates = self._value_index(metric, key.name).get(key.value, ())
            for pos in candidates:
                labels = self.rows[pos][2]
                if all(matches(m, labels.get(m.name, "")) for m in rest):
                    out.append(pos)
        return out


def term_values(
    terms: Sequence[CounterSum], series: Iterable[SeriesRow], increases: Mapping[int, float]
) -> dict[tuple[int, tuple[str, ...]], float]:
    """(term index, group values) -> the sum of the increases of the series the term selects,
    grouped by the term's ``by`` labels (a group appears once some series of it exists)."""
    index = SeriesIndex(series)
    values: dict[tuple[int, tuple[str, ...]], float] = {}
    for i, term in enumerate(terms):
        for pos in index.select(term):
            sid, _, labels = index.rows[pos]
            key = (i, tuple(labels.get(label, "") for label in term.by))
            values[key] = values.get(key, 0.0) + increases.get(sid, 0.0)
    return values
