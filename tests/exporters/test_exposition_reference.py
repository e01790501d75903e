"""The parser gives the same samples as prometheus_client's parsers.

On every upstream page in shared/fixtures/exposition and on pages that real prometheus_client
registries render (text format and OpenMetrics), with random names, label names and label
values. The one deliberate difference, names of text-format counters without ``_total``, is
accounted for explicitly by ``compare_with_reference`` and shown by its own test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from infermeter.exporters import exposition_reference
from infermeter.exporters.exposition import parse, parse_series
from infermeter.exporters.exposition_reference import compare_with_reference, reference_samples
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from tests.support import shared_dir



FIXTURES = shared_dir() / "fixtures" / "exposition"
PAGES = sorted([*FIXTURES.glob("*.prom"), *FIXTURES.glob("*_docs_excerpt.txt")]) if FIXTURES.is_dir() else []


def assert_same_as_reference(page: str, openmetrics: bool | None = None) -> None:
    comparison = compare_with_reference(page, openmetrics=openmetrics)
    assert comparison.equal, "\n".join(comparison.mismatches[:5])
    assert len(comparison.ours) == len(comparison.theirs)


# --- upstream pages ------------------------------------------------------------------------------


def test_the_fixture_folder_holds_pages() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} not found (set INFERMETER_SHARED to the shared folder)")
    assert len(PAGES) >= 5


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_fixture_pages_match_prometheus_client(path: Path) -> None:
    page = path.read_text(encoding="utf-8")
    result = parse(page)
    assert result.ok, result.errors
    assert len(result.samples) > 0
    assert_same_as_reference(page)
    assert_same_as_reference(page.replace("\n", "\r\n"))  # CRLF does not change a thing


def test_the_dcgm_capture_shows_the_total_difference() -> None:
    path = FIXTURES / "dcgm_exporter_sample_k8s_rtx4000ada.prom"
    if not path.is_file():
        pytest.skip(f"{path} not found (set INFERMETER_SHARED to the shared folder)")
    comparison = compare_with_reference(path.read_text(encoding="utf-8"))
    assert comparison.equal
    assert ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total") in comparison.renamed


def test_counter_names_stay_as_exposed_unlike_prometheus_client() -> None:
    """Triton's counters lack ``_total``; prometheus_client appends it, this parser does not."""
    page = (
        "# HELP nv_inference_request_success Number of successful inference requests\n"
        "# TYPE nv_inference_request_success counter\n"
        'nv_inference_request_success{model="simple",version="1"} 161\n'
        "# TYPE nv_gpu_utilization gauge\n"
        'nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5\n'
    )
    ours = [s.name for s in parse(page).samples]
    theirs = [s.name for family in text_string_to_metric_families(page) for s in family.samples]
    assert ours == ["nv_inference_request_success", "nv_gpu_utilization"]
    assert theirs == ["nv_inference_request_success_total", "nv_gpu_utilization"]
    comparison = compare_with_reference(page)
    assert comparison.equal
    assert comparison.renamed == [("nv_inference_request_success", "nv_inference_request_success_total")]


def test_a_real_difference_is_not_hidden_by_the_rename_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    page = "# TYPE a gauge\na 1\n# TYPE c counter\nc 2\n# TYPE d gauge\nd 3\n"
    assert compare_with_reference(page).renamed == [("c", "c_total")]
    real = reference_samples

    def altered(text: str, openmetrics: bool) -> list:
        a, c, d = real(text, openmetrics)
        return [a._replace(name="a_total"), c, d._replace(value=4.0)]

    monkeypatch.setattr(exposition_reference, "reference_samples", altered)
    comparison = compare_with_reference(page)
    assert not comparison.equal
    assert [m.split(":")[0] for m in comparison.mismatches] == ["sample 0", "sample 2"]


# --- pages rendered by prometheus_client registries ----------------------------------------------

METRIC_NAME = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True)
LABEL_NAME = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(lambda n: n not in ("le", "quantile"))
LABEL_VALUE = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["", "\\", '"', "\n", "a\\nb", '\\"', "} 1 # {", 'x,y="z"', "\u00e9\u4e2d\U0001f600", " "]),
)
VALUE = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@st.composite
def registries(draw: st.DrawFn, colons: bool) -> CollectorRegistry:
    """A registry with a few metrics of every kind, labelled with awkward label values."""
    registry = CollectorRegistry(auto_describe=True)
    kinds = draw(
        st.lists(st.sampled_from(["counter", "gauge", "histogram", "summary", "info", "enum"]), min_size=1, max_size=6)
    )
    for index, kind in enumerate(kinds):
        stem = draw(METRIC_NAME)
        name = f"m{index}_{stem}" if not colons or index % 2 else f"m{index}:{stem}"
        label_names = draw(st.lists(LABEL_NAME, max_size=3, unique=True))
        children = draw(st.lists(st.tuples(*[LABEL_VALUE] * len(label_names)), min_size=1, max_size=3))
        try:
            _add_metric(draw, registry, kind, name, label_names, children)
        except ValueError:  # a name prometheus_client reserves or refuses
            assume(False)
    return registry


def _add_metric(
    draw: st.DrawFn, registry: CollectorRegistry, kind: str, name: str, label_names: list[str], children: list[tuple]
) -> None:
    """Register one metric of ``kind`` and give each child a value."""
    if kind == "enum":
        states = draw(st.lists(LABEL_VALUE, min_size=1, max_size=3, unique=True))
        label_names = [n for n in label_names if n != name]
        metric = Enum(name, "An enum.", label_names, states=states, registry=registry)
        for values in children:
            (metric.labels(*values[: len(label_names)]) if label_names else metric).state(draw(st.sampled_from(states)))
        return
    if kind == "info":
        keys = draw(st.lists(LABEL_NAME.filter(lambda k: k not in label_names), min_size=1, max_size=3, unique=True))
        metric = Info(name, "Build info.", label_names, registry=registry)
        for values in children:
            target = metric.labels(*values) if label_names else metric
            target.info({k: draw(LABEL_VALUE) for k in keys})
        return
    cls = {"counter": Counter, "gauge": Gauge, "histogram": Histogram, "summary": Summary}[kind]
    metric = cls(name, 'Help with "quotes", \\ backslash and\nnewline.', label_names, registry=registry)
    for values in children:
        target = metric.labels(*values) if label_names else metric
        if kind == "counter":
            target.inc(abs(draw(VALUE)))
        elif kind == "gauge":
            target.set(draw(st.one_of(VALUE, st.sampled_from([math.nan, math.inf, -math.inf]))))
        else:
            # non-negative: prometheus_client's OpenMetrics parser refuses a negative _sum
            for observation in draw(st.lists(VALUE.map(abs), max_size=4)):
                target.observe(observation)


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(registries(colons=True))
def test_text_pages_from_registries_match_prometheus_client(registry: CollectorRegistry) -> None:
    page = generate_latest(registry).decode("utf-8")
    assert_same_as_reference(page, openmetrics=False)
    series = parse_series(page).samples
    assert [(n, dict(k), t) for n, k, _, t in series] == [
        (s.name, s.labels, s.timestamp_ms) for s in parse(page).samples
    ]


@SETTINGS
@given(registries(colons=False))
def test_openmetrics_pages_from_registries_match_prometheus_client(registry: CollectorRegistry) -> None:
    page = generate_openmetrics(registry).decode("utf-8")
    result = parse(page)
    assert result.openmetrics and result.ok, result.errors
    assert_same_as_reference(page)
    for sample in result.samples:  # every OpenMetrics sample belongs to a declared family
        assert result.families[result.family_of(sample.name).family].declared


# --- hand-built pages: timestamps, spacing, exemplars --------------------------------------------

SIMPLE_VALUE = st.sampled_from(["0", "1", "-2.5", "1e3", "1.5E-3", "NaN", "+Inf", "-Inf", "123456789012"])


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@st.composite
def text_pages(draw: st.DrawFn) -> str:
    """Text-format lines with timestamps, spaces after commas and trailing commas."""
    lines = []
    for index in range(draw(st.integers(1, 8))):
        labels = draw(st.lists(st.tuples(LABEL_NAME, LABEL_VALUE), max_size=3, unique_by=lambda p: p[0]))
        parts = [f'{k}="{_escape(v)}"' for k, v in labels]
        separator, trailing = draw(st.sampled_from([",", ", "])), draw(st.sampled_from(["", ","]))
        label_text = "{" + separator.join(parts) + trailing + "}" if parts else draw(st.sampled_from(["", "{}"]))
        line = f"s{index}{label_text} {draw(SIMPLE_VALUE)}"
        if draw(st.booleans()):
            line += f" {draw(st.integers(-(2**40), 2**42))}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(text_pages())
def test_hand_built_text_pages_with_timestamps_match_prometheus_client(page: str) -> None:
    assert_same_as_reference(page, openmetrics=False)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            SIMPLE_VALUE.filter(lambda v: v not in ("NaN", "-2.5", "-Inf")),
            st.integers(0, 2**34),
            st.integers(0, 999_999_999),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_openmetrics_float_second_timestamps_match_prometheus_client(rows: list[tuple[str, int, int]]) -> None:
    body = "".join(f"g{i} {value} {seconds}.{nanos:09d}\n" for i, (value, seconds, nanos) in enumerate(rows))
    assert_same_as_reference(body + "# EOF\n")
