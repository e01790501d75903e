"""SLO reports: the supported query shapes, windows and rollup splits, budget arithmetic, the SQL
on a real store (matchers, usage events read with FINAL), and the CLI's output and exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import textwrap

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infermeter.errors import ConfigError, StoreUnavailable
from infermeter.ingest import schemas
from infermeter.slo.model import SLO, EventsSLI, RawSLI, UsageKind, UsageSLI
from infermeter.slo.report import MET, MISSED, NO_DATA, ReportRow, build_report, load_slos
from infermeter.slo.report_plan import (
    HOUR,
    MINUTE,
    ReportWindow,
    Source,
    month_window,
    parse_time,
    plan_report,
    rolling_window,
    split_window,
)
from infermeter.slo.report_promql import Matcher, UnsupportedQuery, counter_ratio, parse_linear
from infermeter.slo.report_sql import series_query, sums_query
from infermeter.slo.service import Settings
from infermeter.slo.templates import TEMPLATES, render_template
from tests.slo.report_traffic import series_key
from tests.support import run_cli

UTC = dt.timezone.utc
W = "{{.window}}"


# --- query shapes ---------------------------------------------------------------------------------
def test_supported_shapes():
    lin = parse_linear(f'sum by (tenant) (rate(http_total{{code=~"5..", job!="x"}}[{W}])) + sum(increase(a[{W}])) by (tenant)')
    assert [(s, t.func, t.by) for s, t in lin] == [(1, "rate", ("tenant",)), (1, "increase", ("tenant",))]
    assert lin[0][1].matchers == (Matcher("__name__", "=", "http_total"), Matcher("code", "=~", "5.."),
                                  Matcher("job", "!=", "x"))
    # parentheses, 'or vector(0)', {{ .window }} with spaces, __name__ regexes, escapes
    lin = parse_linear('((sum(rate({__name__=~"a|b", le="1\\\\.0"}[{{ .window }}])) or vector(0)))')
    assert lin[0][1].matchers == (Matcher("__name__", "=~", "a|b"), Matcher("le", "=", "1\\.0"))
    # OpenSLO's mapping as Sloth writes it: 1 - (good / total) -> errors = total - good
    ratio = counter_ratio(RawSLI(f"\n  1 - (\n    (\n      sum(rate(good[{W}]))\n    )\n    /\n    (\n"
                                 f"      sum(rate(total[{W}]))\n    )\n  )\n"))
    assert [(s, t.matchers[0].value) for s, t in ratio.errors] == [(1, "total"), (-1, "good")]
    assert [(s, t.matchers[0].value) for s, t in ratio.total] == [(1, "total")]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_is_reportable(name):
    sli, _ = render_template(name, {}, ())
    assert counter_ratio(sli).total
    grouped, _ = render_template(name, {}, ("tenant",))
    assert counter_ratio(grouped).by == ("tenant",)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (f"rate(a[{W}])", "must be inside sum"),
        ("sum(rate(a[5m]))", "range [5m] is fixed"),
        (f"avg(rate(a[{W}]))", "aggregation 'avg' is not supported"),
        (f"histogram_quantile(0.99, sum by (le) (rate(a_bucket[{W}])))", "histogram_quantile(...) is not supported"),
        (f"sum(rate(a[{W}])) > 0", "comparison '>'"),
        (f"sum(rate(a[{W}] offset 1h))", "'offset' modifiers"),
        (f"sum(rate(a[{W}:1m]))", "subqueries"),
        (f"sum without (pod) (rate(a[{W}]))", "'without (...)' is not supported"),
        (f"sum(sum(rate(a[{W}])))", "nested sum"),
        (f"sum(rate(a[{W}])) or on() vector(1)", "vector matching"),
        (f"sum(rate(a[{W}])) * 2", "operator '*'"),
        ("a", "bare selector"),
    ],
)
def test_unsupported_shapes_say_why(query, reason):
    with pytest.raises(UnsupportedQuery, match=reason.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_linear(query)


def test_terms_must_agree():
    with pytest.raises(UnsupportedQuery, match="same labels"):
        counter_ratio(EventsSLI(f"sum by (tenant) (rate(e[{W}]))", f"sum(rate(t[{W}]))"))
    with pytest.raises(UnsupportedQuery, match="mix rate"):
        counter_ratio(EventsSLI(f"sum(increase(e[{W}]))", f"sum(rate(t[{W}]))"))
    with pytest.raises(UnsupportedQuery, match=r"error_ratio_query: a raw SLI must be"):
        counter_ratio(RawSLI(f"sum(rate(e[{W}]))"))


def _slo(name: str, sli, **kw) -> SLO:
    return SLO(id=f"svc-{name}", name=name, service="svc", objective=99.0, period_ms=30 * 86400_000, sli=sli, **kw)


def test_plan_names_file_and_slo_or_skips():
    good = _slo("good", EventsSLI(f"sum(rate(e[{W}]))", f"sum(rate(t[{W}]))"))
    bad = _slo("quantile", RawSLI(f"histogram_quantile(0.9, sum(rate(a[{W}])))"))
    window = rolling_window("1h", dt.datetime(2025, 3, 1, tzinfo=UTC))
    with pytest.raises(ConfigError, match=r"^slos.yaml: SLO 'quantile': cannot report: error_ratio_query: "
                                          r"histogram_quantile\(\.\.\.\) is not supported"):
        plan_report([(good, "slos.yaml"), (bad, "slos.yaml")], window)
    plan, skipped = plan_report([(good, "slos.yaml"), (bad, "slos.yaml")], window, skip_unsupported=True)
    assert [p.slo.name for p in plan.slos] == ["good"] and [s.slo.name for s in skipped] == ["quantile"]
    # terms shared between SLOs are computed once
    twin = _slo("twin", EventsSLI(f"sum(rate(e[{W}]))", f"sum(rate(t[{W}]))"))
    plan, _ = plan_report([(good, "a"), (twin, "a")], window)
    assert len(plan.terms) == 2
    # --source usage needs a usage SLI; a selector naming a label usage events lack is an error
    with pytest.raises(ConfigError, match="only the gateway templates"):
        plan_report([(good, "a")], window, Source.USAGE)
    odd = _slo("odd", None, usage_sli=UsageSLI(UsageKind.AVAILABILITY, selector='pod="x"'))
    with pytest.raises(ConfigError, match="usage events have no label 'pod'"):
        plan_report([(odd, "a")], window)


# --- windows --------------------------------------------------------------------------------------
def test_month_and_rolling_windows():
    now = dt.datetime(2025, 3, 17, 12, 30, tzinfo=UTC)
    feb = month_window("2025-02", now)
    assert (feb.start, feb.end, feb.label) == (dt.datetime(2025, 2, 1, tzinfo=UTC), dt.datetime(2025, 3, 1, tzinfo=UTC), "2025-02")
    dec = month_window("2024-12", now)
    assert dec.end == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert month_window("2025-03", now).end == now  # the month so far
    for bad in ("2025-13", "March", "2025-3"):
        with pytest.raises(ConfigError, match="--month: expected YYYY-MM"):
            month_window(bad, now)
    with pytest.raises(ConfigError, match="has not started"):
        month_window("2025-04", now)
    w = rolling_window("30d", now)
    assert w.start == now - dt.timedelta(days=30) and w.seconds == 30 * 86400
    with pytest.raises(ConfigError, match="--window"):
        rolling_window("thirty", now)
    assert parse_time("2025-03-01T10:00:00") == dt.datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert parse_time("1740823200") == dt.datetime(2025, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--end"):
        parse_time("yesterday")


_times = st.integers(min_value=0, max_value=10 * 86400 * 1000).map(
    lambda ms: dt.datetime(2025, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=ms)
)


@settings(max_examples=300, deadline=None)
@given(_times, _times)
def test_split_window_partitions_the_window(a, b):
    start, end = min(a, b), max(a, b)
    split = split_window(start, end)
    spans = sorted((*split.raw, *split.minute, *split.hour))
    covered = start
    for s, e in spans:  # contiguous, disjoint, covering [start, end)
        assert s == covered and s < e
        covered = e
    assert covered == end or (not spans and start == end)
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    for s, e in split.minute:
        assert (s - epoch) % MINUTE == dt.timedelta(0) and (e - epoch) % MINUTE == dt.timedelta(0)
    for s, e in split.hour:
        assert (s - epoch) % HOUR == dt.timedelta(0) and (e - epoch) % HOUR == dt.timedelta(0)
    assert split_window(start, end, rollups=False).raw == (((start, end),) if start < end else ())


# --- budget arithmetic ----------------------------------------------------------------------------
def test_budget_arithmetic():
    row = ReportRow("s-x", "s", "x", {}, "samples", 99.9, 10_000, 5, MET)
    assert row.budget == 0.001 and row.sli == pytest.approx(0.9995)
    assert row.budget_consumed == pytest.approx(0.5) and row.budget_remaining == pytest.approx(0.5)
    over = ReportRow("s-x", "s", "x", {}, "samples", 99.0, 1000, 30, MISSED)
    assert over.budget_consumed == pytest.approx(3.0) and over.budget_remaining == pytest.approx(-2.0)
    empty = ReportRow("s-x", "s", "x", {}, "samples", 99.0, 0, 0, NO_DATA)
    assert empty.sli is None and empty.budget_consumed is None


# --- on a real store ------------------------------------------------------------------------------
NOW = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _counter(store, metric: str, labels: dict[str, str], increments: list[float], start: dt.datetime) -> None:
    sid = series_key(metric, labels)
    store.insert_arrow("series", pa.Table.from_pylist(
        [{"series_id": sid, "metric": metric, "labels": list(labels.items()), "source": "generic", "target": "t",
          "first_seen": start, "last_seen": start}], schema=schemas.SERIES))
    rows, value = [], 0.0
    for k, inc in enumerate(increments):
        value += inc
        rows.append({"series_id": sid, "ts": start + dt.timedelta(minutes=k), "value": value, "delta": inc})
    store.insert_arrow("samples", pa.Table.from_pylist(rows, schema=schemas.SAMPLES))


def test_matchers_follow_promql_semantics(store):
    start = NOW - dt.timedelta(hours=2)
    for labels, inc in (({"code": "500"}, 1.0), ({"code": "503"}, 2.0), ({"code": "5000"}, 4.0),
                        ({"code": "200"}, 8.0), ({"code": "200", "job": "x"}, 16.0)):
        _counter(store, "http_total", labels, [0.0] + [inc] * 9, start)
    _counter(store, "other_total", {"code": "500"}, [0.0] + [32.0] * 9, start)
    window = ReportWindow(start, start + dt.timedelta(hours=1), "1h")

    def errors(error_query: str, total_query: str = f"sum(rate(http_total[{W}]))", total: int = 31) -> float:
        slo = _slo("m", EventsSLI(error_query, total_query))
        plan, _ = plan_report([(slo, "a")], window)
        [row] = build_report(store, plan).rows
        assert row.total == 9 * total
        return row.errors / 9

    assert errors(f'sum(rate(http_total{{code=~"5.."}}[{W}]))') == 3  # anchored: not 5000
    assert errors(f'sum(rate(http_total{{code!~"5.."}}[{W}]))') == 28
    assert errors(f'sum(rate(http_total{{job=""}}[{W}]))') == 15  # a missing label is ""
    assert errors(f'sum(rate(http_total{{job!="", code="200"}}[{W}]))') == 16
    both = f'sum(rate({{__name__=~"http_total|other_total"}}[{W}]))'
    assert errors(f'sum(rate({{__name__=~"http_total|other_total", code="500"}}[{W}]))', both, 63) == 33
    assert errors(f'sum(rate(http_total{{code="500"}}[{W}])) + sum(rate(http_total{{code="503"}}[{W}]))') == 3
    # values are parameters, never SQL text
    evil = "x'); DROP TABLE samples; --"
    slo = _slo("evil", EventsSLI(f'sum(rate({{__name__="{evil}", code="{evil}"}}[{W}]))', f"sum(rate(http_total[{W}]))"))
    plan, _ = plan_report([(slo, "a")], window)
    for query in (series_query(plan), sums_query(plan)):
        assert query is not None and "DROP" not in query.sql
        assert sorted([evil, "http_total"]) in query.params.values()
    [row] = build_report(store, plan).rows
    assert row.errors == 0 and store.query_scalar("SELECT count() FROM samples") > 0


def _usage(event_id: str, ts: dt.datetime, tenant: str, code: int = 200, duration_ms: float = 100.0,
           ttft_ms: float | None = 50.0, model: str = "m") -> dict:
    return {"event_id": event_id, "ts": ts.replace(tzinfo=None), "tenant": tenant, "api_key_id": "", "model": model,
            "deployment": "d", "instance": "i", "input_tokens": 1, "cached_input_tokens": 0, "output_tokens": 1,
            "ttft_ms": ttft_ms, "duration_ms": duration_ms, "status_code": code, "error_type": "", "attributes": [],
            "source": "test"}


def test_usage_slis_count_each_event_once(store, spec_file):
    t = NOW - dt.timedelta(hours=1)
    events = [
        _usage("a1", t, "acme"), _usage("a2", t, "acme", code=503), _usage("a3", t, "acme", code=429),
        _usage("a4", t, "acme", duration_ms=2500.0, ttft_ms=None), _usage("a5", t, "acme", ttft_ms=900.0),
        _usage("b1", t, "beta", model="other", code=500), _usage("b2", t, "beta"),
        _usage("late", NOW + dt.timedelta(hours=2), "acme", code=500),  # outside the window
    ]
    store.insert_arrow("usage", pa.Table.from_pylist(events, schema=schemas.USAGE), dedup_token="u1")
    store.insert_arrow("usage", pa.Table.from_pylist(events[:3], schema=schemas.USAGE), dedup_token="u2")  # a retry
    path = spec_file("""\
        version: infermeter/v1
        service: gw
        slos:
          - {name: avail, objective: 99, template: gateway-availability, group_by: [tenant], alerting: {name: A}}
          - name: avail-4xx
            objective: 99
            template: gateway-availability
            params: {error_classes: [4xx, 5xx], selector: 'model="m"'}
            alerting: {name: B}
          - {name: latency, objective: 85, template: gateway-latency, params: {threshold: 1}, alerting: {name: C}}
          - {name: ttft, objective: 80, template: gateway-ttft, params: {threshold: 0.5}, alerting: {name: D}}
    """)
    slos, _ = load_slos(path, Settings())
    plan, _ = plan_report(slos, rolling_window("1d", NOW), Source.AUTO)
    rows = {(r.slo, r.group_text): (r.total, r.errors, r.status) for r in build_report(store, plan).rows}
    assert rows == {
        ("avail", "tenant=acme"): (5, 1, MISSED),
        ("avail", "tenant=beta"): (2, 1, MISSED),
        ("avail-4xx", ""): (6, 2, MISSED),  # model m: acme's five and b2
        ("latency", ""): (7, 1, MET),  # 1/7 = 14.3% slow against 15%
        ("ttft", ""): (6, 1, MET),  # a4 has no TTFT: it does not count; 1/6 against 20%
    }


# --- the CLI --------------------------------------------------------------------------------------
CLI_SPEC = """\
version: infermeter/v1
service: gw
slos:
  - {name: availability, objective: 99, template: gateway-availability, group_by: [tenant], alerting: {name: A}}
"""


@pytest.fixture
def cli_store(tmp_path):
    """A migrated chdb store of its own (the CLI runs in a subprocess) holding a few requests."""
    url = f"chdb://{tmp_path / 'store'}"
    assert run_cli("db", "migrate", "--store", url).returncode == 0
    t = (NOW - dt.timedelta(hours=1)).isoformat()
    lines = [{"event_id": f"e{i}", "ts": t, "tenant": "acme" if i < 100 else "beta", "model": "m",
              "status_code": 500 if i in (0, 100, 101) else 200, "duration_ms": 10} for i in range(200)]
    (tmp_path / "usage.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert run_cli("ingest", str(tmp_path / "usage.jsonl"), "--kind", "usage", "--store", url).returncode == 0
    (tmp_path / "slos.yaml").write_text(CLI_SPEC, encoding="utf-8")
    return url, tmp_path / "slos.yaml"


def test_cli_report_formats_and_exit_codes(cli_store, tmp_path):
    url, spec = cli_store
    month = NOW.strftime("%Y-%m") if (NOW - dt.timedelta(hours=1)).month == NOW.month else None
    args = ("slo", "report", "-i", str(spec), "--store", url, "--window", "1d", "--end", NOW.isoformat())
    out = run_cli(*args, "--format", "json")
    assert out.returncode == 1, out.stderr  # beta: 2 errors in 100 against a 1% budget
    doc = json.loads(out.stdout)
    assert doc["summary"] == {"met": 1, "missed": 1, "no_data": 0, "skipped": 0}
    acme, beta = doc["slos"]
    assert (acme["group"], acme["total_events"], acme["error_events"], acme["status"]) == ("tenant=acme", 100, 1, "met")
    assert acme["budget_consumed_percent"] == pytest.approx(100.0) and acme["budget_remaining_percent"] == pytest.approx(0)
    assert (beta["status"], beta["budget_consumed_percent"]) == ("missed", pytest.approx(200.0))
    out = run_cli(*args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["status"] for r in rows] == ["met", "missed"] and rows[0]["window"] == "1d"
    out = run_cli(*args)
    assert out.returncode == 1 and "tenant=beta" in out.stdout and "missed" in out.stdout
    if month:
        assert run_cli("slo", "report", "-i", str(spec), "--store", url, "--month", month).returncode == 1
    (tmp_path / "met.yaml").write_text(CLI_SPEC.replace("objective: 99", "objective: 95"), encoding="utf-8")
    ok = run_cli("slo", "report", "-i", str(tmp_path / "met.yaml"), "--store", url, "--window", "1d", "--end",
                 NOW.isoformat())
    assert ok.returncode == 0, ok.stderr


def test_cli_bad_input_and_unreachable_store(tmp_path):
    spec = tmp_path / "slos.yaml"
    spec.write_text(CLI_SPEC, encoding="utf-8")
    store = f"chdb://{tmp_path / 'none'}"
    for extra, message in (
        (("--month", "2025-13"), "--month: expected YYYY-MM"),
        (("--window", "1d", "--month", "2025-01"), "exclusive"),
        (("--format", "xml"), "--format"),
        (("--source", "prometheus"), "--source"),
    ):
        out = run_cli("slo", "report", "-i", str(spec), "--store", store, *extra)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)
    raw = tmp_path / "raw.yaml"
    raw.write_text(textwrap.dedent("""\
        version: prometheus/v1
        service: svc
        slos:
          - name: p99
            objective: 99
            sli: {raw: {error_ratio_query: 'histogram_quantile(0.99, sum by (le) (rate(x_bucket[{{.window}}]))) > bool 1'}}
            alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
    """), encoding="utf-8")
    out = run_cli("slo", "report", "-i", str(raw), "--store", store)
    assert out.returncode == 2 and "SLO 'p99': cannot report" in out.stderr and "histogram_quantile" in out.stderr
    out = run_cli("slo", "report", "-i", str(spec), "--store", "clickhouse://u:p@127.0.0.1:1/")
    assert out.returncode == 3 and "Traceback" not in out.stderr
    out = run_cli("slo", "report", "-i", str(spec), "--store", store)  # an empty, unmigrated store
    assert out.returncode == 3 and "infermeter db migrate" in out.stderr


def test_check_schema_names_missing_tables(store):
    store.command("DROP TABLE usage")
    with pytest.raises(StoreUnavailable, match="no table usage"):
        build_report(store, plan_report([], rolling_window("1h", NOW))[0])
