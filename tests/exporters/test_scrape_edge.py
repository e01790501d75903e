"""The edge: series identity, reset-aware deltas, the first-scrape convention, drops, memory bounds."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from infermeter.exporters import conventions as c
from infermeter.exporters.edge import EdgeState
from infermeter.exporters.exposition import LabelCache, parse_series
from infermeter.exporters.scrape import dcgm_valid
from infermeter.exporters.series import added_labels, series_id, stored_labels
from tests.support import shared_dir

PAGE = """\
# TYPE req counter
req_total{model="a"} {a}
req_total{model="b"} {b}
# TYPE lat histogram
lat_bucket{le="0.5"} {h1}
lat_bucket{le="+Inf"} {h2}
lat_count {h2}
lat_sum {hs}
# TYPE running gauge
running {g}
"""


def page(**values: float) -> str:
    text = PAGE
    for key, value in values.items():
        text = text.replace("{" + key + "}", repr(float(value)))
    return text


class Edge:
    """Parse + edge, as the scraper does it, returning {(name, labels): (value, delta)}."""

    def __init__(self, **kw) -> None:
        self.cache = LabelCache()
        self.state = EdgeState("t", "generic", added_labels("t", env={}), **kw)
        self.tick = 0

    def scrape(self, text: str, page: bool = True) -> dict:
        result = parse_series(text, cache=self.cache)
        self.tick += 15_000
        self.batch = self.state.process(result.samples, result.family_of, self.tick, page=page)
        rows = self.batch.samples.to_pydict()
        by_id = {sid: (v, d) for sid, v, d in zip(rows["series_id"], rows["value"], rows["delta"])}
        out = {}
        for name, labels, _, _ in result.samples:
            sid = self.state.series_id_of(name, labels)
            if sid in by_id:
                out[(name, dict(labels).get("model") or dict(labels).get("le") or "")] = by_id[sid]
        return out


def test_first_scrape_has_zero_deltas_then_increases_and_resets():
    edge = Edge()
    first = edge.scrape(page(a=10, b=5, h1=3, h2=4, hs=1.5, g=7))
    assert all(delta == 0 for _, delta in first.values())
    second = edge.scrape(page(a=13, b=5, h1=5, h2=7, hs=2.0, g=3))
    assert second[("req_total", "a")] == (13.0, 3.0)
    assert second[("req_total", "b")] == (5.0, 0.0)
    assert second[("lat_bucket", "0.5")] == (5.0, 2.0)
    assert second[("lat_bucket", "+Inf")] == (7.0, 3.0)
    assert second[("lat_count", "")] == (7.0, 3.0)
    assert second[("lat_sum", "")] == (2.0, 0.5)
    assert second[("running", "")] == (3.0, 0.0)  # gauges never carry a delta
    # The server restarted: every counter is lower; the delta is what it counted since.
    third = edge.scrape(page(a=2, b=1, h1=1, h2=1, hs=0.25, g=1))
    assert third[("req_total", "a")] == (2.0, 2.0)
    assert third[("lat_count", "")] == (1.0, 1.0)
    assert third[("lat_sum", "")] == (0.25, 0.25)
    assert edge.batch.resets == 6


def test_a_series_that_appears_later_counts_from_zero():
    edge = Edge()
    edge.scrape(page(a=10, b=5, h1=3, h2=4, hs=1.5, g=7))
    text = page(a=11, b=5, h1=3, h2=4, hs=1.5, g=7) + 'req_total{model="c"} 4\n'
    out = edge.scrape(text)
    assert out[("req_total", "c")] == (4.0, 4.0)
    assert edge.batch.new_series == 1
    assert edge.batch.series is not None and edge.batch.series.num_rows == 1


def test_a_failed_first_scrape_does_not_spend_the_baseline():
    edge = Edge()
    edge.scrape("", page=False)  # the target was down at start-up
    out = edge.scrape(page(a=10, b=5, h1=3, h2=4, hs=1.5, g=7))
    assert all(delta == 0 for _, delta in out.values())


def test_non_finite_values_never_make_a_delta():
    edge = Edge()
    edge.scrape(page(a=10, b=5, h1=3, h2=4, hs=1.5, g=7))
    out = edge.scrape(page(a=10, b=5, h1=3, h2=4, hs=math.nan, g=math.inf))
    assert out[("lat_sum", "")][1] == 0.0
    assert math.isnan(out[("lat_sum", "")][0])
    out = edge.scrape(page(a=10, b=5, h1=3, h2=4, hs=2.0, g=7))
    assert out[("lat_sum", "")][1] == 0.0


def test_steady_state_reuses_the_layout_and_matches_a_full_relayout():
    edge = Edge()
    edge.scrape(page(a=1, b=1, h1=1, h2=1, hs=1, g=1))
    layout = edge.state._layout_slots
    edge.scrape(page(a=2, b=3, h1=1, h2=2, hs=2, g=1))
    assert edge.state._layout_slots is layout  # no per-series work on an unchanged page
    a = Edge()
    a.scrape(page(a=1, b=1, h1=1, h2=1, hs=1, g=1))
    b = Edge()
    b.scrape(page(a=1, b=1, h1=1, h2=1, hs=1, g=1))
    b.cache.clear()  # new label objects: the per-series path, which must give the same answer
    assert a.scrape(page(a=5, b=2, h1=1, h2=2, hs=2, g=1)) == b.scrape(page(a=5, b=2, h1=1, h2=2, hs=2, g=1))


def test_series_ids_are_stable_and_labels_get_target_and_kubernetes_labels():
    env = {c.POD_NAME_ENV: "vllm-0", c.POD_NAMESPACE_ENV: "llm", c.NODE_NAME_ENV: "node-1"}
    added = added_labels("vllm", {"cluster": "eu-1"}, env)
    assert added == (("cluster", "eu-1"), ("namespace", "llm"), ("node", "node-1"), ("pod", "vllm-0"), ("target", "vllm"))
    # dcgm-exporter's own pod/namespace (the GPU's user) clash with the added ones: exported_*.
    page_labels = (("Hostname", "n1"), ("UUID", "GPU-1"), ("namespace", "team-a"), ("pod", "job-1"))
    labels = stored_labels(page_labels, added, {"Hostname": "hostname"})
    assert dict(labels) == {
        "UUID": "GPU-1",
        "hostname": "n1",
        "exported_namespace": "team-a",
        "exported_pod": "job-1",
        "cluster": "eu-1",
        "namespace": "llm",
        "node": "node-1",
        "pod": "vllm-0",
        "target": "vllm",
    }
    assert list(labels) == sorted(labels)
    # The recipe is documented: BLAKE2b-64 of metric NUL name NUL value ..., little-endian.
    import hashlib

    expected = int.from_bytes(hashlib.blake2b(b"up\x00target\x00vllm", digest_size=8).digest(), "little")
    assert series_id("up", (("target", "vllm"),)) == expected
    assert series_id("up", (("target", "vllm"),)) != series_id("up", (("target", "vllm2"),))


def test_created_samples_and_dropped_names_are_not_stored():
    text = (shared_dir() / "fixtures/exposition/vllm_metrics_sample_v0.33.0_synthetic.prom").read_text()
    result = parse_series(text)
    state = EdgeState("v", "vllm", (), drop=re.compile(r"^python_"))
    batch = state.process(result.samples, result.family_of, 0)
    metrics = set(batch.series.column("metric").to_pylist())
    assert not [m for m in metrics if m.endswith("_created")]
    assert not [m for m in metrics if m.startswith("python_")]
    assert "vllm:prompt_tokens_total" in metrics and "process_start_time_seconds" in metrics
    created = sum(1 for s in result.samples if s[0].endswith("_created"))
    python = sum(1 for s in result.samples if s[0].startswith("python_"))
    assert created > 30 and batch.dropped == created + python
    keep = EdgeState("v", "vllm", (), keep_created=True).process(result.samples, result.family_of, 0)
    assert keep.samples.num_rows == len(result.samples)


def test_dcgm_blank_sentinels_are_dropped_and_do_not_poison_deltas():
    values = np.array([139.0, 9223372036854775794.0, 140737488355328.0, 0.0, 455497156.0])
    assert dcgm_valid(values).tolist() == [True, False, False, True, True]
    text = "# TYPE E counter\nE{gpu=\"0\"} %s\n"
    state = EdgeState("d", "dcgm", (), value_filter=dcgm_valid)
    cache = LabelCache()
    rows = []
    for v in ("100", "9223372036854775794", "150"):
        r = parse_series(text % v, cache=cache)
        rows.append(state.process(r.samples, r.family_of, 0).samples.to_pydict())
    assert rows[1]["value"] == []  # the blank field is not stored
    assert rows[2]["delta"] == [50.0]  # and the next value compares with the last real one


def test_memory_stays_bounded_under_series_churn():
    state = EdgeState("t", "generic", ())
    cache = LabelCache()
    for i in range(60):
        text = "# TYPE r counter\n" + "".join(f'r_total{{id="{i}-{j}"}} {j}\n' for j in range(200))
        r = parse_series(text, cache=cache)
        state.process(r.samples, r.family_of, i * 1000)
    assert state._n <= 2 * 200 + 1024 + 200
    assert len(state._index) == state._n == len(state._meta)


def test_series_rows_are_refreshed_once_per_refresh_interval():
    state = EdgeState("t", "generic", (), refresh_ms=60_000)
    cache = LabelCache()
    text = "# TYPE g gauge\ng 1\ng2 2\n"
    counts = []
    for tick in range(0, 150_000, 15_000):
        r = parse_series(text, cache=cache)
        batch = state.process(r.samples, r.family_of, tick)
        counts.append(0 if batch.series is None else batch.series.num_rows)
    assert counts == [2, 0, 0, 0, 2, 0, 0, 0, 2, 0]


@pytest.mark.parametrize("value", ["1e308", "-1", "0"])
def test_values_round_trip_exactly(value):
    state = EdgeState("t", "generic", ())
    r = parse_series(f"g {value}\n")
    batch = state.process(r.samples, r.family_of, 0)
    assert batch.samples.column("value").to_pylist() == [float(value)]
