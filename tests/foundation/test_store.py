"""The store interface on every backend: parameters, Arrow inserts, deduplication, rollups."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pyarrow as pa
import pytest

from infermeter.errors import QueryError
from infermeter.ingest import schemas

NASTY = ["plain", "it's", 'quote"d', "back\\slash", "new\nline", "tab\there", "ünïcødé ✓", "{x:String}", "'); DROP TABLE usage; --"]


@pytest.mark.parametrize("value", NASTY)
def test_parameters_carry_any_string_unchanged(store, value):
    assert store.query_scalar("SELECT {v:String}", {"v": value}) == value


def test_parameters_of_other_types(store):
    row = store.query_rows(
        "SELECT {i:UInt64} + 1, {f:Float64} * 2, {d:Date}, {t:DateTime64(3, 'UTC')}, {a:Array(String)}, {b:Bool}",
        {"i": 41, "f": 1.25, "d": dt.date(2026, 11, 1), "t": dt.datetime(2026, 11, 1, 12, 30, 5, 250000), "a": ["x", "y'z"], "b": True},
    )[0]
    assert row[0] == 42 and row[1] == 2.5 and row[2] == dt.date(2026, 11, 1)
    assert row[3].replace(tzinfo=None) == dt.datetime(2026, 11, 1, 12, 30, 5, 250000)
    assert row[4] == ["x", "y'z"] and row[5] is True


def test_query_results_as_arrow_rows_and_pandas(store):
    sql = "SELECT number AS n, toString(number) AS s FROM numbers(3)"
    assert store.query_arrow(sql).column_names == ["n", "s"]
    assert store.query_rows(sql) == [(0, "0"), (1, "1"), (2, "2")]
    assert list(store.query_df(sql)["s"]) == ["0", "1", "2"]


def test_bad_sql_is_a_query_error(store):
    with pytest.raises(QueryError, match="UNKNOWN_TABLE|Unknown table"):
        store.query_rows("SELECT * FROM no_such_table")


def _samples(n: int, t0_ms: int, series: int = 10) -> pa.Table:
    sid = np.arange(n, dtype=np.uint64) % series
    ts = t0_ms + (np.arange(n) // series) * 15_000
    return pa.table(
        {
            "series_id": pa.array(sid),
            "ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC")),
            "value": pa.array(np.arange(n, dtype=np.float64)),
            "delta": pa.array(np.ones(n)),
        },
        schema=schemas.SAMPLES,
    )


def test_retried_insert_with_same_token_is_stored_once_including_rollups(store):
    t0 = (int(time.time()) // 3600 * 3600 - 7200) * 1000
    batch = _samples(1200, t0)
    for _ in range(3):
        store.insert_arrow("samples", batch, dedup_token="batch-1")
    assert store.query_scalar("SELECT count() FROM samples") == 1200
    assert store.query_scalar("SELECT sum(count) FROM samples_1m") == 1200
    assert store.query_scalar("SELECT sum(delta) FROM samples_1h") == 1200
    store.insert_arrow("samples", batch, dedup_token="batch-2")  # a new token is new data
    assert store.query_scalar("SELECT count() FROM samples") == 2400


def test_rollups_match_raw_samples(store):
    t0 = (int(time.time()) // 3600 * 3600 - 7200) * 1000
    store.insert_arrow("samples", _samples(4000, t0, series=5), dedup_token="r1")
    raw = store.query_rows(
        "SELECT series_id, toStartOfMinute(ts) AS m, min(value), max(value), sum(delta), argMax(value, ts) "
        "FROM samples GROUP BY series_id, m ORDER BY series_id, m"
    )
    rolled = store.query_rows(
        "SELECT series_id, ts, min(min), max(max), sum(delta), argMaxMerge(last) FROM samples_1m "
        "GROUP BY series_id, ts ORDER BY series_id, ts"
    )
    assert [tuple(r[2:]) for r in raw] == [tuple(r[2:]) for r in rolled]
    hourly = store.query_rows("SELECT sum(delta), sum(count) FROM samples_1h")[0]
    assert hourly == (4000.0, 4000)


def test_usage_duplicate_event_ids_collapse_with_final(store):
    from infermeter.ingest.models import UsageEvent, usage_row

    ev = UsageEvent(event_id="e1", ts="2026-11-01T10:00:00Z", tenant="acme", model="llama", input_tokens=10, output_tokens=5)
    table = pa.Table.from_pylist([usage_row(ev)], schema=schemas.USAGE)
    store.insert_arrow("usage", table, dedup_token="a")
    store.insert_arrow("usage", table, dedup_token="b")  # the same event delivered twice
    assert store.query_scalar("SELECT sum(input_tokens) FROM usage FINAL") == 10
