"""Check :mod:`infermeter.exporters.exposition` against prometheus_client's parsers.

prometheus_client is the reference: its text-format parser
(``prometheus_client.parser.text_string_to_metric_families``) and its OpenMetrics parser
(``prometheus_client.openmetrics.parser.text_string_to_metric_families``). The tests and
``bench/bench_parser.py`` use :func:`compare_with_reference` to show that both give the same
samples, with one deliberate, explicit difference: prometheus_client renames the samples of a
text-format counter that lacks ``_total`` (``nv_inference_request_success`` becomes
``nv_inference_request_success_total``); this parser keeps the name as exposed. Those renames are
expected and listed in :attr:`Comparison.renamed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from infermeter.exporters.exposition import ParseResult, Sample, parse

__all__ = ["Comparison", "compare_with_reference", "reference_name", "reference_samples"]


def reference_samples(text: str, openmetrics: bool) -> list[Sample]:
    """prometheus_client's samples for a page, in this parser's conventions (float values,
    integer-millisecond timestamps). Raises whatever prometheus_client raises."""
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    out: list[Sample] = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.append(Sample(s.name, dict(s.labels), float(s.value), _reference_ms(s.timestamp, openmetrics)))
    return out


def _reference_ms(ts: Any, openmetrics: bool) -> int | None:
    if ts is None:
        return None
    if hasattr(ts, "nsec"):  # prometheus_client.samples.Timestamp: exact seconds + nanoseconds
        return round(Fraction(ts.sec * 10**9 + ts.nsec, 10**6))
    if openmetrics:  # float seconds
        return round(Decimal(repr(float(ts))) * 1000)
    return round(ts * 1000)  # the text parser divides the page's milliseconds by 1000


def reference_name(result: ParseResult[Sample], sample: Sample) -> str:
    """The name prometheus_client gives ``sample``: ``_total`` appended to the samples of a
    text-format counter family whose name lacks it; the page's name otherwise."""
    if result.openmetrics or sample.name.endswith("_total"):
        return sample.name
    ref = result.family_of(sample.name)
    if ref.type == "counter" and ref.suffix == "":
        return sample.name + "_total"
    return sample.name


@dataclass
class Comparison:
    """Our samples next to prometheus_client's for one page."""

    ours: list[Sample]
    theirs: list[Sample]
    renamed: list[tuple[str, str]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """Same samples, in the same order, up to the expected ``_total`` renames."""
        return not self.mismatches


def compare_with_reference(text: str, openmetrics: bool | None = None) -> Comparison:
    """Parse ``text`` with both parsers and list every difference but the expected renames."""
    result = parse(text, openmetrics=openmetrics)
    theirs = reference_samples(text, result.openmetrics)
    comparison = Comparison(result.samples, theirs)
    if result.errors:
        comparison.mismatches += [f"our parser reported {e}" for e in result.errors]
    if len(result.samples) != len(theirs):
        comparison.mismatches.append(f"{len(result.samples)} samples here, {len(theirs)} in prometheus_client")
    for index, (mine, other) in enumerate(zip(result.samples, theirs)):
        expected_name = reference_name(result, mine)
        if expected_name != mine.name and other.name == expected_name:
            comparison.renamed.append((mine.name, other.name))
        mine = mine._replace(name=expected_name)
        if not _same_sample(mine, other):
            comparison.mismatches.append(f"sample {index}: {mine!r} != {other!r}")
    return comparison


def _same_sample(a: Sample, b: Sample) -> bool:
    same_value = a.value == b.value or (math.isnan(a.value) and math.isnan(b.value))
    return a.name == b.name and a.labels == b.labels and same_value and a.timestamp_ms == b.timestamp_ms
