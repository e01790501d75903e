"""The macro expander against the grafana-clickhouse-datasource documentation's examples, and
its results run on chdb."""

from __future__ import annotations

import datetime as dt

import pytest

from infermeter.dashboards.grafana.macros import (
    MacroError, QueryContext, apply_conditional_all, expand_macros, strip_comments,
)

UTC = dt.timezone.utc
# The documentation's examples: from 1415792726.123, to 1447328726.456, interval 20 s.
CTX = QueryContext(
    start=dt.datetime.fromtimestamp(1415792726.123, UTC),
    end=dt.datetime.fromtimestamp(1447328726.456, UTC),
    interval=dt.timedelta(seconds=20),
)


@pytest.mark.parametrize(
    "macro, expected",
    [
        ("$__timeFilter(time)", "time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)"),
        ("$__timeFilter_ms(time)",
         "time >= fromUnixTimestamp64Milli(1415792726123) AND time <= fromUnixTimestamp64Milli(1447328726456)"),
        ("$__dateFilter(date)", "date >= toDate('2014-11-12') AND date <= toDate('2015-11-12')"),
        ("$__dateTimeFilter(date, time)",
         "(date >= toDate('2014-11-12') AND date <= toDate('2015-11-12')) AND "
         "(time >= toDateTime(1415792726) AND time <= toDateTime(1447328726))"),
        ("$__dt(date, time)",
         "(date >= toDate('2014-11-12') AND date <= toDate('2015-11-12')) AND "
         "(time >= toDateTime(1415792726) AND time <= toDateTime(1447328726))"),
        ("$__timeFrom(time)", "time >= toDateTime(1415792726)"),
        ("$__timeTo(time)", "time <= toDateTime(1447328726)"),
        ("$__timeGroup(column, 5m)", "toStartOfInterval(toDateTime(column), INTERVAL 300 second)"),
        ("$__timeGroup(column, '1h')", "toStartOfInterval(toDateTime(column), INTERVAL 3600 second)"),
        ("$__fromTime", "toDateTime(1415792726)"),
        ("$__toTime", "toDateTime(1447328726)"),
        ("$__fromTime_ms", "fromUnixTimestamp64Milli(1415792726123)"),
        ("$__toTime_ms", "fromUnixTimestamp64Milli(1447328726456)"),
        ("$__interval_s", "20"),
        ("$__timeInterval(column)", "toStartOfInterval(toDateTime(column), INTERVAL 20 second)"),
        ("$__timeInterval_ms(column)", "toStartOfInterval(toDateTime64(column, 3), INTERVAL 20000 millisecond)"),
    ],
)
def test_documented_outputs(macro, expected):
    assert expand_macros(macro, CTX) == expected


def test_interval_is_at_least_one_second():
    ctx = QueryContext(CTX.start, CTX.end, dt.timedelta(milliseconds=200))
    assert expand_macros("$__interval_s", ctx) == "1"
    assert expand_macros("$__timeInterval(t)", ctx) == "toStartOfInterval(toDateTime(t), INTERVAL 1 second)"
    assert expand_macros("$__timeInterval_ms(t)", ctx) == "toStartOfInterval(toDateTime64(t, 3), INTERVAL 200 millisecond)"


def test_longest_name_wins_and_arguments_keep_nested_calls():
    sql = "SELECT $__timeInterval_ms(ts) AS t WHERE $__timeFilter(toDateTime(ifNull(a, b)))"
    out = expand_macros(sql, CTX)
    assert "INTERVAL 20000 millisecond" in out
    assert "toDateTime(ifNull(a, b)) >= toDateTime(1415792726) AND toDateTime(ifNull(a, b)) <=" in out


def test_comments_are_blanked_so_hidden_macros_never_run():
    sql = "SELECT 1 -- $__unknownMacro(x)\n/* $__timeFilter(a) */ WHERE $__timeFilter(b)"
    out = expand_macros(sql, CTX)
    assert "unknownMacro" not in out and "(a)" not in out
    assert out.endswith("b >= toDateTime(1415792726) AND b <= toDateTime(1447328726)")
    assert strip_comments("SELECT '--not a comment' -- gone") == "SELECT '--not a comment'        "


def test_unknown_macro_and_bad_arguments_are_errors():
    with pytest.raises(MacroError, match="unknown"):
        expand_macros("SELECT $__columns(a, b, c) FROM t", CTX)
    with pytest.raises(MacroError, match="expects 1 argument"):
        expand_macros("$__timeFilter(a, b)", CTX)
    with pytest.raises(MacroError, match="invalid interval"):
        expand_macros("$__timeGroup(a, fortnight)", CTX)


@pytest.mark.parametrize(
    "value_is_all, expected",
    [(True, "WHERE 1=1 AND x"), (False, "WHERE tenant IN (${tenant:singlequote}) AND x")],
)
def test_conditional_all(value_is_all, expected):
    sql = "WHERE $__conditionalAll(tenant IN (${tenant:singlequote}), $tenant) AND x"
    assert apply_conditional_all(sql, lambda name: value_is_all) == expected


def test_conditional_all_reads_each_variable_and_nested_parentheses():
    sql = ("$__conditionalAll(a IN (${a:singlequote}), ${a}) AND "
           "$__conditionalAll(positionCaseInsensitive(b, '$b') > 0, $b)")
    out = apply_conditional_all(sql, lambda name: name == "b")
    assert out == "a IN (${a:singlequote}) AND 1=1"
    with pytest.raises(MacroError):
        apply_conditional_all("$__conditionalAll(only_one)", lambda name: True)


def test_expanded_filters_run_on_chdb(chdb_path):
    """The expansions are valid ClickHouse and select what they say."""
    from infermeter.ingest.store import open_store_url

    store = open_store_url(f"chdb://{chdb_path}", "t_dash_macros")
    try:
        store.command("CREATE TABLE IF NOT EXISTS m (ts DateTime64(3, 'UTC'), d Date) ENGINE = Memory")
        store.command("INSERT INTO m VALUES ('2015-01-01 00:00:00', '2015-01-01'), ('2016-01-01 00:00:00', '2016-01-01'),"
                      " ('2014-11-12 11:45:26.050', '2014-11-12')")
        sql = expand_macros(
            "SELECT count(), min($__timeInterval(ts)), countIf($__dateFilter(d)), countIf($__timeFilter_ms(ts)) "
            "FROM m WHERE $__timeFilter(ts) AND ts < $__toTime_ms AND ts >= $__fromTime - INTERVAL $__interval_s SECOND",
            CTX,
        )
        assert store.query_rows(sql) == [(2, 1415792720, 2, 1)]  # the seconds filter keeps .050, the ms one not
    finally:
        store.command("DROP DATABASE IF EXISTS t_dash_macros")
        store.close()
