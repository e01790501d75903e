"""The writer: batching, exactly-once through outages and retries, bounded memory and spool."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest

from infermeter.errors import StoreUnavailable
from infermeter.ingest import schemas
from infermeter.ingest.spool import Spool
from infermeter.ingest.store.base import Store
from infermeter.ingest.writer import Writer


class Outage(Store):
    """The real store behind a switch: while ``down``, every call fails as a lost connection would.

    ``ack_lost`` makes an insert reach the store and then fail, as when the connection drops
    before the acknowledgement: the batch is stored but the writer must retry it.
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.database = inner.database
        self.kind = inner.kind
        self.down = False
        self.ack_lost = 0
        self.calls = 0

    def _check(self):
        self.calls += 1
        if self.down:
            raise StoreUnavailable("connection refused (test outage)")

    def command(self, sql, params=None):
        self._check()
        self.inner.command(sql, params)

    def query_arrow(self, sql, params=None):
        self._check()
        return self.inner.query_arrow(sql, params)

    def insert_arrow(self, table, data, *, dedup_token=None):
        self._check()
        n = self.inner.insert_arrow(table, data, dedup_token=dedup_token)
        if self.ack_lost:
            self.ack_lost -= 1
            raise StoreUnavailable("connection reset after send (test)")
        return n

    def close(self):
        pass


T0 = (int(time.time()) // 3600 * 3600 - 3 * 3600) * 1000


def scrape(i: int, n: int = 500) -> pa.Table:
    """One scrape's samples: n series at tick i; series_id and ts identify a row."""
    return pa.table(
        {
            "series_id": pa.array(np.arange(n, dtype=np.uint64)),
            "ts": pa.array(np.full(n, T0 + i * 15_000), type=pa.timestamp("ms", tz="UTC")),
            "value": pa.array(np.full(n, float(i))),
            "delta": pa.array(np.ones(n)),
        },
        schema=schemas.SAMPLES,
    )


def counts(store: Store) -> tuple[int, int]:
    return store.query_rows("SELECT count(), uniqExact(series_id, ts) FROM samples")[0]


@pytest.mark.parametrize("durable", [True, False])
def test_outage_then_back_every_row_once(store, tmp_path, durable):
    flaky = Outage(store)
    w = Writer(flaky, Spool(tmp_path / "spool"), max_batch_rows=1000, background=False, durable=durable, retry_interval_s=0.05)
    for i in range(4):
        w.write("samples", scrape(i))
    assert counts(store) == (2000, 2000)
    flaky.down = True
    for i in range(4, 10):
        w.write("samples", scrape(i))
    assert len(w.spool) >= 3 and w.stats.spool_bytes > 0
    assert counts(store) == (2000, 2000)
    flaky.down = False
    time.sleep(0.06)
    w.tick()
    w.close()
    assert counts(store) == (5000, 5000)
    assert len(w.spool) == 0 and w.stats.spool_bytes == 0
    assert w.stats.batches_retried >= 1
    assert w.stats.rows_written["samples"] == 5000


def test_lost_acknowledgement_is_retried_and_stored_once(store, tmp_path):
    flaky = Outage(store)
    w = Writer(flaky, Spool(tmp_path / "spool"), max_batch_rows=500, background=False, retry_interval_s=0.01)
    flaky.ack_lost = 2
    for i in range(3):
        w.write("samples", scrape(i))
    time.sleep(0.02)
    w.replay()
    w.close()
    assert counts(store) == (1500, 1500)
    assert w.stats.batches_retried >= 1


def test_spool_replays_oldest_first_across_restarts(store, tmp_path):
    flaky = Outage(store)
    flaky.down = True
    w = Writer(flaky, Spool(tmp_path / "spool"), max_batch_rows=500, background=False, retry_interval_s=60)
    for i in range(5):
        w.write("samples", scrape(i))
    w.close()
    assert len(w.spool) == 5
    seqs = [e.seq for e in w.spool.entries()]
    assert seqs == sorted(seqs)
    # A new process (new writer) on the same spool, store back.
    order = []
    real_insert = store.insert_arrow

    def recording(table, data, *, dedup_token=None):
        order.append(data.column("value")[0].as_py())
        return real_insert(table, data, dedup_token=dedup_token)

    store.insert_arrow = recording
    try:
        w2 = Writer(store, Spool(tmp_path / "spool"), background=False)
        assert w2.replay() == 0
        w2.close()
    finally:
        del store.insert_arrow
    assert order == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert counts(store) == (2500, 2500)


def test_memory_and_spool_stay_bounded_under_a_long_outage(store, tmp_path):
    flaky = Outage(store)
    flaky.down = True
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)  # 1 MiB
    w = Writer(flaky, spool, max_batch_rows=1000, max_buffer_rows=2000, background=False, retry_interval_s=60)
    peak_buffer = 0
    for i in range(400):  # ~200k rows, far more than the spool holds
        w.write("samples", scrape(i))
        w.tick()
        peak_buffer = max(peak_buffer, w.stats.buffered_rows)
    assert peak_buffer <= 2000
    assert spool.bytes <= 1 << 20
    assert w.stats.rows_dropped["spool_full"] > 0
    stored_later = spool.bytes
    flaky.down = False
    w.replay()
    w.close()
    n, distinct = counts(store)
    assert n == distinct  # nothing twice
    assert n + w.stats.rows_dropped["spool_full"] == 400 * 500  # every row stored or counted as dropped
    assert stored_later > 0


def test_age_based_flush_in_background(store, tmp_path):
    w = Writer(store, Spool(tmp_path / "spool"), max_batch_rows=10**6, max_batch_age_s=0.2)
    w.write("samples", scrape(0, n=10))
    deadline = time.monotonic() + 5
    while counts(store)[0] < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    w.close()
    assert counts(store) == (10, 10)


def test_rejected_batch_is_kept_not_retried_forever(store, tmp_path):
    w = Writer(store, Spool(tmp_path / "spool"), background=False)
    w.write("samples", pa.table({"series_id": pa.array([1], pa.uint64()), "no_such_column": [1.0]}))
    w.close()
    assert w.stats.rows_dropped["rejected"] == 1
    assert list((tmp_path / "spool").glob("*.rejected"))
