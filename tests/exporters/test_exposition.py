"""Unit tests of infermeter.exporters.exposition: formats, metadata, families, errors, caching."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from infermeter.exporters.exposition import (
    FamilyRef,
    LabelCache,
    ParseError,
    Sample,
    is_openmetrics,
    parse,
    parse_series,
)
from tests.support import shared_dir

TRITON_PAGE = """\
# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="simple",version="1"} 161
nv_inference_request_success{model="other",version="2"} 7
# HELP nv_inference_queue_summary_us Summary of inference queuing duration in microseconds
# TYPE nv_inference_queue_summary_us summary
nv_inference_queue_summary_us_count{model="simple",version="1"} 161
nv_inference_queue_summary_us_sum{model="simple",version="1"} 11110
nv_inference_queue_summary_us{model="simple",version="1",quantile="0.5"} 55
"""

OPENMETRICS_PAGE = """\
# HELP requests Requests served.
# TYPE requests counter
# UNIT requests requests
requests_total{path="/a"} 10 1520879607.789 # {trace_id="KOO5S4vxi0o"} 1 1520879607.7
requests_created{path="/a"} 1520430000.123
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_bucket{le="0.1"} 2 # {trace_id="a"} 0.05
latency_seconds_bucket{le="+Inf"} 3
latency_seconds_count 3
latency_seconds_sum 0.4
latency_seconds_created 1520430000
# TYPE queue gaugehistogram
queue_bucket{le="1"} 4
queue_bucket{le="+Inf"} 5
queue_gcount 5
queue_gsum 3.5
# TYPE build info
build_info{version="1.2",commit="abc"} 1
# TYPE feature stateset
feature{feature="a"} 1
feature{feature="b"} 0
# TYPE mystery unknown
mystery 3
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.9"} 0.2
rpc_seconds_count 10
rpc_seconds_sum 1.5
rpc_seconds_created 1520430000
# EOF
"""



@pytest.fixture
def shared_fixture() -> Callable[[str], str]:
    """Read a page from shared/fixtures/exposition, skipping the test where it is absent."""
    folder = shared_dir() / "fixtures" / "exposition"

    def read(name: str) -> str:
        path = folder / name
        if not path.is_file():
            pytest.skip(f"exposition fixture {path} not found (set INFERMETER_SHARED to the shared folder)")
        return path.read_text(encoding="utf-8")

    return read


def names(result) -> list[str]:
    return [s.name for s in result.samples]


# --- sample lines -----------------------------------------------------------------------------


def test_plain_samples_keep_document_order_and_types() -> None:
    result = parse('b 1\na{x="1"} 2\nc 3\n')
    assert result.samples == [
        Sample("b", {}, 1.0, None),
        Sample("a", {"x": "1"}, 2.0, None),
        Sample("c", {}, 3.0, None),
    ]
    assert result.ok and not result.openmetrics
    assert all(type(s.value) is float for s in result.samples)


def test_escaped_label_values_are_unescaped() -> None:
    page = 'm{a="back\\\\slash",b="quo\\"te",c="new\\nline",d="keep\\tthis",e="{x} 1 # y"} 1\n'
    (sample,) = parse(page).samples
    assert sample.labels == {"a": "back\\slash", "b": 'quo"te', "c": "new\nline", "d": "keep\\tthis", "e": "{x} 1 # y"}


def test_special_values() -> None:
    result = parse("a NaN\nb +Inf\nc -Inf\nd 1.5e+09\ne -0.25\nf 9223372036854775794\n")
    a, b, c, d, e, f = (s.value for s in result.samples)
    assert math.isnan(a) and b == math.inf and c == -math.inf
    assert (d, e, f) == (1.5e9, -0.25, 9.223372036854775794e18)


def test_text_format_timestamps_are_integer_milliseconds() -> None:
    result = parse('a 1 1700000000123\nb{x="y"} 2 -5\n')
    assert [s.timestamp_ms for s in result.samples] == [1700000000123, -5]
    assert all(type(s.timestamp_ms) is int for s in result.samples)


def test_openmetrics_timestamps_are_converted_exactly_to_milliseconds() -> None:
    page = "a 1 1520879607.789\nb 2 1520879607\nc 3 1.5e3\nd 4 1520879607.7895\n# EOF\n"
    result = parse(page)
    assert [s.timestamp_ms for s in result.samples] == [1520879607789, 1520879607000, 1500000, 1520879607790]
    assert all(type(s.timestamp_ms) is int for s in result.samples)


def test_spacing_variants_prometheus_accepts() -> None:
    page = 'a{x="1", y="2"} 1\nb{x = "1",} 2\n  c 3  \nd\t4\ne{} 5\nf{x="1"}  6  7\n'
    result = parse(page)
    assert result.ok, result.errors
    assert [(s.name, s.labels, s.value, s.timestamp_ms) for s in result.samples] == [
        ("a", {"x": "1", "y": "2"}, 1.0, None),
        ("b", {"x": "1"}, 2.0, None),
        ("c", {}, 3.0, None),
        ("d", {}, 4.0, None),
        ("e", {}, 5.0, None),
        ("f", {"x": "1"}, 6.0, 7),
    ]


def test_crlf_line_endings() -> None:
    result = parse('# TYPE a counter\r\na_total{x="1"} 1\r\na_total{x="2"} 2 17\r\n')
    assert result.ok
    assert [(s.labels, s.value, s.timestamp_ms) for s in result.samples] == [
        ({"x": "1"}, 1.0, None),
        ({"x": "2"}, 2.0, 17),
    ]


def test_utf8_metric_names_in_braces() -> None:
    result = parse('{"my.metric", "label.x"="1"} 2\n{__name__="legacy", a="b"} 3\n')
    assert result.ok, result.errors
    assert result.samples == [Sample("my.metric", {"label.x": "1"}, 2.0, None), Sample("legacy", {"a": "b"}, 3.0, None)]


def test_each_sample_gets_its_own_labels_dict() -> None:
    first, second = parse('a{x="1"} 1\na{x="1"} 2\n').samples
    first.labels["x"] = "changed"
    assert second.labels == {"x": "1"}


# --- metadata and families ---------------------------------------------------------------------


def test_help_type_unit_and_help_escapes() -> None:
    result = parse("# HELP a Line one\\nline two \\\\ end\n# TYPE a gauge\n# UNIT a bytes\na 1\n")
    family = result.families["a"]
    assert (family.type, family.help, family.unit, family.declared) == (
        "gauge",
        "Line one\nline two \\ end",
        "bytes",
        True,
    )


def test_openmetrics_families_types_and_suffixes() -> None:
    result = parse(OPENMETRICS_PAGE)
    assert result.ok, result.errors
    assert result.openmetrics
    assert result.types == {
        "requests": "counter",
        "latency_seconds": "histogram",
        "queue": "gaugehistogram",
        "build": "info",
        "feature": "stateset",
        "mystery": "unknown",
        "rpc_seconds": "summary",
    }
    assert result.families["requests"].unit == "requests"
    refs = {s.name: result.family_of(s.name) for s in result.samples}
    assert refs["requests_total"] == FamilyRef("requests", "counter", "_total")
    assert refs["requests_created"] == FamilyRef("requests", "counter", "_created")
    assert refs["latency_seconds_bucket"] == FamilyRef("latency_seconds", "histogram", "_bucket")
    assert refs["latency_seconds_created"] == FamilyRef("latency_seconds", "histogram", "_created")
    assert refs["queue_gcount"] == FamilyRef("queue", "gaugehistogram", "_gcount")
    assert refs["build_info"] == FamilyRef("build", "info", "_info")
    assert refs["feature"] == FamilyRef("feature", "stateset", "")
    assert refs["rpc_seconds"] == FamilyRef("rpc_seconds", "summary", "")
    assert refs["rpc_seconds_created"] == FamilyRef("rpc_seconds", "summary", "_created")


def test_cumulative_marks_what_gets_reset_aware_deltas() -> None:
    result = parse(OPENMETRICS_PAGE)
    cumulative = {s.name for s in result.samples if result.family_of(s.name).cumulative}
    assert cumulative == {
        "requests_total",
        "latency_seconds_bucket",
        "latency_seconds_count",
        "latency_seconds_sum",
        "rpc_seconds_count",
        "rpc_seconds_sum",
    }


def test_exemplars_are_returned_separately() -> None:
    result = parse(OPENMETRICS_PAGE)
    first, second = result.exemplars
    assert result.samples[first.sample_index].name == "requests_total"
    assert (first.labels, first.value, first.timestamp_ms) == ({"trace_id": "KOO5S4vxi0o"}, 1.0, 1520879607700)
    assert result.samples[first.sample_index].timestamp_ms == 1520879607789
    assert result.samples[second.sample_index].labels == {"le": "0.1"}
    assert (second.value, second.timestamp_ms) == (0.05, None)


def test_text_format_counter_without_total_keeps_its_name() -> None:
    result = parse(TRITON_PAGE)
    assert names(result)[:2] == ["nv_inference_request_success"] * 2
    assert result.family_of("nv_inference_request_success") == FamilyRef("nv_inference_request_success", "counter", "")
    assert result.family_of("nv_inference_request_success").cumulative
    assert result.family_of("nv_inference_queue_summary_us_count") == FamilyRef(
        "nv_inference_queue_summary_us", "summary", "_count"
    )


def test_families_are_found_by_name_when_headers_are_grouped() -> None:
    page = '# TYPE a gauge\n# TYPE b counter\n# TYPE h histogram\na 1\nb 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 2\n'
    result = parse(page)
    assert [result.family_of(s.name) for s in result.samples] == [
        FamilyRef("a", "gauge", ""),
        FamilyRef("b", "counter", ""),
        FamilyRef("h", "histogram", "_bucket"),
        FamilyRef("h", "histogram", "_count"),
        FamilyRef("h", "histogram", "_sum"),
    ]


def test_prometheus_client_text_created_series_are_their_own_gauges() -> None:
    page = "# TYPE c_total counter\nc_total 1\n# TYPE c_created gauge\nc_created 1.7e9\n"
    result = parse(page)
    assert result.family_of("c_total") == FamilyRef("c_total", "counter", "")
    assert result.family_of("c_created") == FamilyRef("c_created", "gauge", "")
    assert [result.family_of(n).cumulative for n in names(result)] == [True, False]


def test_undeclared_samples_are_implied_families() -> None:
    text = parse("# TYPE a counter\na_bucket 1\nb 2\n")
    assert text.types == {"a": "counter", "a_bucket": "untyped", "b": "untyped"}
    assert not text.families["b"].declared
    om = parse("b 2\n# EOF\n")
    assert om.types == {"b": "unknown"}


def test_openmetrics_sample_names_with_escaped_colons_find_their_family() -> None:
    page = "# TYPE vllm:requests counter\nvllm_requests_total 3\n# EOF\n"
    assert parse(page).family_of("vllm_requests_total") == FamilyRef("vllm:requests", "counter", "_total")


# --- errors --------------------------------------------------------------------------------------


def test_garbage_lines_in_a_real_page_are_reported_and_the_rest_is_kept(shared_fixture) -> None:
    clean = shared_fixture("vllm_metrics_sample_v0.33.0_synthetic.prom")
    lines = clean.splitlines()
    garbage = {
        10: "this is not a metric",
        50: 'vllm:broken{model_name="unterminated} 1',
        100: 'vllm:no_value{a="b"}',
        150: 'vllm:bad_value{a="b"} twelve',
        200: 'vllm:dup{a="1",a="2"} 1',
        250: "# TYPE vllm:x sometype",
    }
    for index in sorted(garbage):  # ascending: each lands at its index in the final page
        lines.insert(index, garbage[index])
    result = parse("\n".join(lines) + "\n")
    assert result.samples == parse(clean).samples
    assert [e.line_no for e in result.errors] == [i + 1 for i in sorted(garbage)]
    messages = [e.message for e in result.errors]
    assert messages[0] == "invalid value 'is'"
    assert "unterminated" in messages[1]
    assert "missing value" in messages[2]
    assert messages[3] == "invalid value 'twelve'"
    assert "duplicate label name" in messages[4]
    assert "unknown metric type" in messages[5]
    assert str(result.errors[0]) == f"line 11: {messages[0]}"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("a 1_000", "invalid value '1_000'"),
        ("a{b=c} 1", "not quoted"),
        ('a{b="c" d="e"} 1', "missing ','"),
        ('a{1b="c"} 1', "invalid label name"),
        ("a 1 2 3", "unexpected text after the timestamp"),
        ("a 1 NaN", "invalid timestamp"),
        ("a-b 1", "invalid character '-'"),
        ('a 1 # {x="y"} 1', "exemplars are OpenMetrics only"),
        ("# TYPE a", "missing type"),
        ("# HELP", "malformed # HELP line"),
        ('a{__name__="b"} 1', "metric name given both"),
    ],
)
def test_malformed_lines_have_reasons(line: str, reason: str) -> None:
    result = parse(f"ok 1\n{line}\nok 2\n")
    assert [s.value for s in result.samples] == [1.0, 2.0]
    assert len(result.errors) == 1 and result.errors[0].line_no == 2
    assert reason in result.errors[0].message


def test_second_conflicting_type_is_reported_and_the_first_kept() -> None:
    result = parse("# TYPE a counter\n# TYPE a gauge\na 1\n")
    assert result.types == {"a": "counter"}
    assert result.errors == [ParseError(2, "second TYPE for a: gauge, keeping counter")]


def test_openmetrics_eof_rules() -> None:
    after = parse("a 1\n# EOF\nb 2\n", openmetrics=True)
    assert names(after) == ["a"]
    assert after.errors == [ParseError(3, "content after # EOF")]
    missing = parse("a 1\n", openmetrics=True)
    assert names(missing) == ["a"] and "missing # EOF" in missing.errors[0].message
    assert parse("a 1\n# EOF\n\n").ok


def test_format_detection() -> None:
    assert is_openmetrics("a 1\n# EOF\n")
    assert is_openmetrics("a 1\n# EOF")
    assert not is_openmetrics("a 1\n")
    assert not is_openmetrics("# EOF is mentioned\na 1\n")
    # A text page forced to be read as text keeps '# EOF' as a comment and millisecond stamps.
    forced = parse("a 1 1000\n# EOF\n", openmetrics=False)
    assert forced.ok and forced.samples[0].timestamp_ms == 1000


def test_comments_and_blank_lines_are_ignored() -> None:
    result = parse("# just a comment\n\n   \n#\n  # HELP a indented help\na 1\n")
    assert result.ok and names(result) == ["a"]
    assert result.families["a"].help == "indented help"


# --- the scraper's path --------------------------------------------------------------------------


def test_parse_series_gives_sorted_hashable_label_keys() -> None:
    result = parse_series('a{z="1",b="2"} 1\na{b="2",z="1"} 2 5\n')
    (n1, k1, v1, t1), (n2, k2, _, t2) = result.samples
    assert k1 == k2 == (("b", "2"), ("z", "1"))
    assert {(n1, k1): v1}[(n2, k2)] == 1.0
    assert (t1, t2) == (None, 5)


def test_parse_series_matches_parse(shared_fixture) -> None:
    page = shared_fixture("vllm_metrics_sample_v0.33.0_synthetic.prom")
    expected = [(s.name, tuple(sorted(s.labels.items())), s.value, s.timestamp_ms) for s in parse(page).samples]
    assert parse_series(page).samples == expected


def test_a_warm_cache_gives_the_same_results_on_the_next_scrape(shared_fixture) -> None:
    first_page = shared_fixture("vllm_metrics_sample_v0.33.0_synthetic.prom")
    second_page = first_page.replace("} 0.0\n", "} 1.0\n").replace(" 23.0\n", " 24.0 1700000000000\n")
    cache = LabelCache()
    for page in (first_page, second_page, second_page):
        fresh, warm = parse_series(page), parse_series(page, cache=cache)
        assert warm.samples == fresh.samples and warm.types == fresh.types and warm.errors == fresh.errors
        assert parse(page, cache=cache).samples == parse(page).samples
    assert len(cache) > 0


def test_a_cached_series_with_a_bad_value_is_still_an_error() -> None:
    cache = LabelCache()
    parse('a{x="1"} 1\n', cache=cache)
    result = parse('a{x="1"} 1_0\na{x="1"} oops\na{x="1"} 2\n', cache=cache)
    assert [e.line_no for e in result.errors] == [1, 2]
    assert [s.value for s in result.samples] == [2.0]


def test_cache_is_bounded() -> None:
    cache = LabelCache(max_entries=50)
    for scrape in range(5):
        page = "".join(f'm{{i="{scrape}-{i}"}} {i}\n' for i in range(40))
        assert len(parse_series(page, cache=cache).samples) == 40
        assert len(cache.head_keys) <= 50 and len(cache.label_keys) <= 50
