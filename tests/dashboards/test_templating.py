"""Grafana-side interpolation used to run dashboard queries without Grafana."""

from __future__ import annotations

import datetime as dt

import pytest

from infermeter.dashboards.grafana.templating import (
    PanelContext, Selection, clickhouse_default, panel_interval, prometheus_default, replace, resolve_time,
)

UTC = dt.timezone.utc
MULTI = {"name": "m", "multi": True, "includeAll": True, "allValue": ".*"}
CH_VAR = {"name": "t", "multi": True, "includeAll": True, "allValue": None}


def test_prometheus_multi_values_are_regex_escaped_and_joined():
    sel = Selection.of(MULTI, values=["meta-llama/Llama-3.1-8B", "qwen"])
    assert replace('x{m=~"$m"}', {"m": sel}, prometheus_default) == 'x{m=~"(meta-llama/Llama-3\\\\.1-8B|qwen)"}'
    one = Selection.of(MULTI, values=["a.b"])
    assert replace('x{m=~"${m}"}', {"m": one}, prometheus_default) == 'x{m=~"a\\\\.b"}'


def test_custom_all_value_is_inserted_unformatted():
    sel = Selection.of(MULTI, options=["a", "b"], all_=True)
    assert replace('$m ${m:singlequote} ${m:text}', {"m": sel}, prometheus_default) == ".* .* All"


def test_clickhouse_formats_and_all_without_custom_value():
    sel = Selection.of(CH_VAR, values=["o'brien", "x"])
    assert replace("IN (${t:singlequote})", {"t": sel}, clickhouse_default) == "IN ('o\\'brien','x')"
    assert replace("IN ($t)", {"t": sel}, clickhouse_default) == "IN ('o'brien','x')"  # the plugin's own format
    all_ = Selection.of(CH_VAR, options=["a", "b"], all_=True)
    assert replace("IN (${t:singlequote}) [[t]]", {"t": all_}, clickhouse_default) == "IN ('a','b') 'a','b'"
    assert all_.is_all_or_empty() and not sel.is_all_or_empty()


def test_builtins_and_unknown_variables():
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    ctx = PanelContext(start, start + dt.timedelta(hours=6), dt.timedelta(seconds=20), dt.timedelta(seconds=15))
    text = "rate(x[$__rate_interval]) [$__interval] $__range $__range_s $nope $__unknown"
    assert replace(text, {}, prometheus_default, ctx) == "rate(x[1m]) [20s] 21600s 21600 $nope $__unknown"


@pytest.mark.parametrize(
    "hours, min_interval, expected_s",
    [(6, None, 20), (6, "60s", 60), (24, "15s", 60), (24 * 30, None, 1800), (1, "1m", 60)],
)
def test_panel_interval_rounds_like_grafana(hours, min_interval, expected_s):
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    got = panel_interval(start, start + dt.timedelta(hours=hours), max_data_points=1000, min_interval=min_interval)
    assert got == dt.timedelta(seconds=expected_s)


def test_relative_times():
    now = dt.datetime(2025, 3, 14, 12, 34, 56, tzinfo=UTC)
    assert resolve_time("now", now) == now
    assert resolve_time("now-6h", now) == dt.datetime(2025, 3, 14, 6, 34, 56, tzinfo=UTC)
    assert resolve_time("now/M", now) == dt.datetime(2025, 3, 1, tzinfo=UTC)
    assert resolve_time("now-1M/M", now) == dt.datetime(2025, 2, 1, tzinfo=UTC)
    assert resolve_time("now/d", now) == dt.datetime(2025, 3, 14, tzinfo=UTC)
    with pytest.raises(ValueError):
        resolve_time("yesterday", now)
