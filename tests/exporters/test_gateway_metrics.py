"""Re-exposed per-tenant metrics: names the SLO templates use, histogram buckets, and the
cardinality cap (top tenants keep their label, the rest are `other`, counters never go back)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from infermeter.exporters.exposition import parse
from infermeter.exporters.gateway.metrics import TenantMetrics, TopTenants
from infermeter.ingest.models import UsageEvent
from infermeter.slo import conventions as sc

REQ = sc.GATEWAY_REQUESTS_TOTAL


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


_n = [0]


def ev(tenant: str, model: str = "m", status: int = 200, duration_ms: float = 100.0, ttft_ms: float | None = None,
       inp: int = 10, cached: int = 0, out: int = 5) -> UsageEvent:
    _n[0] += 1
    return UsageEvent(event_id=f"e{_n[0]}", ts=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc), tenant=tenant,
                      model=model, status_code=status, duration_ms=duration_ms, ttft_ms=ttft_ms,
                      input_tokens=inp, cached_input_tokens=cached, output_tokens=out)


def requests_by_tenant(registry) -> dict[str, float]:
    out: Counter = Counter()
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            if s.name == REQ:
                out[s.labels["tenant"]] += s.value
    return dict(out)


def series_values(registry) -> dict[tuple, float]:
    """Every sample of the gateway families, as parsed back from the exposition page."""
    page = generate_latest(registry).decode()
    return {(name, tuple(sorted(labels.items()))): value
            for name, labels, value, _ in parse(page).samples if name.startswith("infermeter_gateway_")}


def test_names_labels_and_histograms():
    registry = CollectorRegistry()
    m = TenantMetrics(registry, cap=10)
    m.observe_many([
        ev("acme", status=200, duration_ms=5000.0, ttft_ms=1000.0, inp=100, cached=40, out=7),
        ev("acme", status=503, duration_ms=5000.1),
        ev("acme", status=404, duration_ms=50.0, ttft_ms=20.0),
    ])
    get = registry.get_sample_value
    labels = {"tenant": "acme", "model": "m"}
    assert get(REQ, {**labels, "status_class": "2xx"}) == 1
    assert get(REQ, {**labels, "status_class": "5xx"}) == 1
    assert get(REQ, {**labels, "status_class": "4xx"}) == 1
    dur = sc.GATEWAY_REQUEST_DURATION_SECONDS
    assert get(dur + "_bucket", {**labels, "le": "5.0"}) == 2  # le is inclusive: 5.0 s is within 5.0
    assert get(dur + "_bucket", {**labels, "le": "10.0"}) == 3
    assert get(dur + "_bucket", {**labels, "le": "+Inf"}) == 3
    assert get(dur + "_count", labels) == 3
    assert abs(get(dur + "_sum", labels) - 10.0501) < 1e-9
    ttft = sc.GATEWAY_TTFT_SECONDS
    assert get(ttft + "_bucket", {**labels, "le": "1.0"}) == 2
    assert get(ttft + "_bucket", {**labels, "le": "0.025"}) == 1
    assert get(ttft + "_count", labels) == 2  # only requests that report a TTFT
    tokens = sc.GATEWAY_TOKENS_TOTAL
    assert get(tokens, {**labels, "kind": "input"}) == 120
    assert get(tokens, {**labels, "kind": "cached_input"}) == 40
    assert get(tokens, {**labels, "kind": "output"}) == 17
    # The page is valid for prometheus_client's parser and ours, with the same samples.
    page = generate_latest(registry).decode()
    theirs = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(page) for s in f.samples}
    assert series_values(registry).items() <= theirs.items()


def test_cap_first_come_then_other():
    registry = CollectorRegistry()
    m = TenantMetrics(registry, cap=2, clock=Clock())
    m.observe_many([ev("a"), ev("b"), ev("c"), ev("d"), ev("a")])
    assert requests_by_tenant(registry) == {"a": 2, "b": 1, "other": 2}
    assert registry.get_sample_value("infermeter_gateway_tenant_labels") == 2


def test_heavy_tenant_enters_at_rebalance_and_counters_never_go_back():
    clock = Clock()
    registry = CollectorRegistry()
    m = TenantMetrics(registry, cap=2, clock=clock, rebalance_interval_s=60, hysteresis=2.0, half_life_s=3600)
    m.observe_many([ev("a"), ev("a"), ev("b"), ev("b"), ev("b")] + [ev("c") for _ in range(5)])
    assert requests_by_tenant(registry) == {"a": 2, "b": 3, "other": 5}
    clock.now += 30  # not due yet: no change
    m.observe(ev("c"))
    assert requests_by_tenant(registry) == {"a": 2, "b": 3, "other": 6}
    clock.now += 31  # due (the scrape runs it): c (6) > 2 x a (2), so c takes a's label; a's series leaves
    assert requests_by_tenant(registry) == {"b": 3, "other": 6}  # c has no series until its next request
    m.observe_many([ev("c"), ev("a")])
    assert requests_by_tenant(registry) == {"b": 3, "c": 1, "other": 7}  # a's next request counts in other
    assert m.labelled_tenants() == {"b", "c"}
    # a comes back strong: it wins b's label, and its series resumes from 2, not from 0.
    m.observe_many([ev("a") for _ in range(20)])
    clock.now += 61
    m.observe(ev("a"))
    by_tenant = requests_by_tenant(registry)
    assert by_tenant["a"] == 3 and by_tenant["other"] == 27 and "b" not in by_tenant
    assert registry.get_sample_value("infermeter_gateway_tenant_label_swaps_total") == 2


def test_a_tenant_named_other_is_counted_in_other():
    registry = CollectorRegistry()
    m = TenantMetrics(registry, cap=5)
    m.observe_many([ev("other"), ev("x")])
    assert requests_by_tenant(registry) == {"other": 1, "x": 1}
    assert m.labelled_tenants() == {"x"}


def test_model_cap_is_first_come():
    registry = CollectorRegistry()
    m = TenantMetrics(registry, cap=5, model_cap=2)
    m.observe_many([ev("t", model="m1"), ev("t", model="m2"), ev("t", model="typo"), ev("t", model="m1")])
    get = registry.get_sample_value
    assert get(REQ, {"tenant": "t", "model": "m1", "status_class": "2xx"}) == 2
    assert get(REQ, {"tenant": "t", "model": "other", "status_class": "2xx"}) == 1


def test_ranking_decays_with_half_life():
    clock = Clock()
    top = TopTenants(1, half_life_s=100, rebalance_interval_s=10, hysteresis=2.0, clock=clock)
    for _ in range(8):
        top.record("old")  # holds the one label
    clock.now += 300  # three half-lives: old's 8 requests weigh 1 now
    for _ in range(3):
        top.record("new")
    assert top.rebalance() == [("new", "old")]


def test_tracked_tenants_are_bounded():
    top = TopTenants(2, max_tracked=50, clock=Clock())
    for n in range(1000):
        top.record(f"t{n}")
    assert len(top.scores) <= 50
    assert top.labelled == {"t0", "t1"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "f", "other"]), st.integers(1, 200)),
                min_size=1, max_size=120))
def test_property_every_series_is_monotonic_and_bounded(steps):
    """Whatever the traffic and time: exposed series never decrease, at most cap tenants + other
    are exposed, and every request is counted once (in its exposed or kept series)."""
    clock = Clock()
    registry = CollectorRegistry()
    m = TenantMetrics(registry, cap=2, clock=clock, rebalance_interval_s=30, half_life_s=60, hysteresis=1.5)
    before: dict = {}
    total = 0
    for step in steps:
        if isinstance(step, int):
            clock.now += step
        else:
            m.observe(ev(step, status=200 + 100 * (total % 4), duration_ms=total * 37.0 % 9000,
                         ttft_ms=None if total % 3 else 120.0))
            total += 1
        now = series_values(registry)
        for key, value in now.items():
            assert value >= before.get(key, 0.0), key
        before.update(now)
        tenants = {dict(labels)["tenant"] for (name, labels) in now if "tenant" in dict(labels)}
        assert len(tenants - {"other"}) <= 2
        exposed = sum(v for (name, _), v in now.items() if name == REQ)
        kept = sum(sum(s.requests.values()) for by_model in m._kept.values() for s in by_model.values())
        assert exposed + kept == total
