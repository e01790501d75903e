"""Chargeback invariants, as hypothesis property tests over random fleets and traffic, on chdb.

Every example writes its fleet into its own two days of one store (examples never overlap), runs
the engine (SQL on the real store, then the exact Python step) and checks:

- held GPU-hours match an exact per-event reference, and attributed + idle = held, exactly;
- each busy line matches the reference's work-weighted share (to the rounding unit);
- tenant lines sum to the deployment's cost at list price, to the cent; the fleet total is their sum;
- under ``separate``, a tenant with no requests pays nothing and idle sits on the ``(idle)`` line;
- the two days computed one by one give exactly the lines of the two days computed together;
- an event sent twice (the same event_id) counts once;
- with vLLM prefill/decode timing (by ``deployment`` label, by ``pod``, or for no known
  deployment) and ``phase_split``, busy shares follow the reference's phase rule.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infermeter.chargeback import conventions as c
from infermeter.chargeback.money import gpu_cost_cents, ms_to_nano_hours
from infermeter.chargeback.runs import compute_lines
from tests.chargeback.test_engine_data import (
    Beat,
    Event,
    Timing,
    insert_beats,
    insert_timing,
    insert_usage,
    reference,
    simple_catalog,
    tenancy,
)

BASE = dt.date(2031, 1, 1)
_slots = itertools.count()
TENANTS = ["acme", "globex", "initech"]
PRICES = simple_catalog(
    gpu={"H100": "4.10", "A100": "2.35"},
    mig={"H100": {"3g.40gb": "1.95"}},
    tokens={"gpt": {"input": "3.00", "cached_input": "1.50", "output": "12.00"}},
)


@st.composite
def fleets(draw):
    n_deps = draw(st.integers(1, 3))
    deps = {}
    beats = []
    for d in range(n_deps):
        name = f"dep{d}"
        mode = draw(st.sampled_from(["shared", "shared", "dedicated"]))
        deps[name] = {"mode": mode}
        if mode == "dedicated":
            deps[name]["tenant"] = draw(st.sampled_from(TENANTS))
        elif draw(st.booleans()):
            deps[name]["owner"] = draw(st.sampled_from(TENANTS))
        for i in range(draw(st.integers(1, 2))):
            gpu, mig, fraction = draw(st.sampled_from([("H100", "", 1.0), ("A100", "", 1.0), ("A100", "", 0.5), ("H100", "3g.40gb", 3 / 7)]))
            interval = draw(st.sampled_from([15.0, 30.0, 60.0, 90.0]))
            first = draw(st.integers(0, 2 * 1440 * 60 - 1))
            count = draw(st.integers(1, 40))
            for k in range(count):
                end = first + int(interval * k) + 1
                if end < 2 * 86400 + 120:
                    beats.append(((end, interval), name, f"{name}-{i}", gpu, mig, fraction))
    n_events = draw(st.integers(0, 40))
    events = []
    dep_names = list(deps) + ["ghost", "api"]
    for k in range(n_events):
        dep = draw(st.sampled_from(dep_names))
        model = "gpt" if dep == "api" else draw(st.sampled_from(["m1", "m2"]))
        # Events cluster near the beats so that minutes have both work and GPUs.
        if beats and draw(st.booleans()):
            (end, _i), *_ = draw(st.sampled_from(beats))
            t_ms = max(0, end * 1000 - draw(st.integers(1, 60000)))
        else:
            t_ms = draw(st.integers(0, 2 * 86400 * 1000 - 1))
        inp = draw(st.integers(0, 5000))
        events.append(
            (t_ms, draw(st.sampled_from(TENANTS + ["stranger"])), dep, model, inp, draw(st.integers(0, inp)), draw(st.integers(0, 3000)))
        )
    dup = draw(st.lists(st.integers(0, max(0, n_events - 1)), max_size=3)) if n_events else []
    policy = draw(st.sampled_from(["proportional", "owner", "separate"]))
    weights = dict(draw(st.sampled_from([{"input": 1, "output": 2}, {"input": 1, "output": 4, "cached_input": 0.25}, {"input": 0.5, "output": 1}])))
    weights["phase_split"] = draw(st.integers(0, 3)) > 0
    weights["phase_window_minutes"] = window = draw(st.sampled_from([1, 15, 60, 1440]))
    # vLLM prefill/decode time, near the events so that it matters: by label, by pod, or unknown.
    timings = []
    for _ in range(draw(st.integers(0, 8))):
        if events and draw(st.integers(0, 3)):
            anchor = draw(st.sampled_from(events))
            t_ms, dep = anchor[0] + draw(st.integers(-window * 30000, window * 30000)), anchor[2]
        else:
            t_ms, dep = draw(st.integers(0, 2 * 86400 * 1000 - 1)), draw(st.sampled_from(dep_names))
        how = draw(st.sampled_from(["label", "label", "pod", "pod", "none"]))
        timings.append((
            min(max(t_ms, -60000), 2 * 86400 * 1000 + 60000),
            draw(st.sampled_from(["prefill", "decode"])),
            draw(st.sampled_from([0.0, 0.125, 2.5, 40.0, 311.75])),
            dep if how == "label" else "",
            f"{dep}-0" if how == "pod" else "",
        ))
    return deps, beats, events, dup, policy, weights, timings


def _materialise(raw, start: dt.date, slot: int):
    deps, beats, events, dup, policy, weights, timings = raw
    t0 = dt.datetime(start.year, start.month, start.day)
    beat_objs = [
        Beat(t0 + dt.timedelta(seconds=end), interval, dep, inst, gpu, mig, fraction)
        for (end, interval), dep, inst, gpu, mig, fraction in beats
    ]
    ev_objs = [
        Event(f"e{slot}-{k}", t0 + dt.timedelta(milliseconds=t), tenant, dep, model, inp, cached, out)
        for k, (t, tenant, dep, model, inp, cached, out) in enumerate(events)
    ]
    if policy == "owner":
        for cfg in deps.values():
            if cfg["mode"] == "shared":
                cfg.setdefault("owner", "acme")
    ten = tenancy(
        {"idle_policy": policy, "weights": weights, "tenants": {t: {} for t in TENANTS}, "deployments": {**deps, "api": {"billing": "tokens"}}}
    )
    timing_objs = [Timing(t0 + dt.timedelta(milliseconds=t), phase, sec, dep, pod) for t, phase, sec, dep, pod in timings]
    return ev_objs, [ev_objs[i] for i in dup], beat_objs, ten, timing_objs


@pytest.fixture(scope="module")
def inv_store(chdb_path):
    from infermeter.ingest.migrate import RenderOptions, migrate
    from infermeter.ingest.store import open_store_url

    db = "t_invariants"
    st_ = open_store_url(f"chdb://{chdb_path}", db)
    migrate(st_, RenderOptions(database=db))
    try:
        yield st_
    finally:
        st_.command(f"DROP DATABASE IF EXISTS `{db}`")
        st_.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=fleets())
def test_invariants_over_random_fleets(inv_store, raw):
    slot = next(_slots)
    start = BASE + dt.timedelta(days=3 * slot)
    end = start + dt.timedelta(days=2)
    events, dups, beats, ten, timings = _materialise(raw, start, slot)
    insert_beats(inv_store, beats)
    insert_timing(inv_store, timings)
    insert_usage(inv_store, events)
    insert_usage(inv_store, dups)  # a second part: the same event_ids sent again
    if not events and not beats:
        with pytest.raises(Exception, match="nothing to charge"):
            compute_lines(inv_store, start, end, PRICES, ten)
        return
    lines = compute_lines(inv_store, start, end, PRICES, ten).lines
    held, idle, busy, unique = reference(
        events, beats, start, end, ten.weights, PRICES.token_models, ten.token_deployments(), timings
    )

    # 1. attributed + idle = held, per deployment, day and sku, exactly; idle as the reference says.
    gpu = defaultdict(int)
    idle_q = defaultdict(int)
    cost = defaultdict(int)
    for ln in lines:
        if ln.resource in (c.GPU, c.GPU_IDLE):
            k = (ln.deployment, ln.day, ln.gpu_model, ln.mig_profile)
            gpu[k] += ln.quantity
            cost[k] += ln.cost
            if ln.resource == c.GPU_IDLE:
                idle_q[k] += ln.quantity
            assert ln.quantity >= 0 and ln.cost >= 0
    held_keys = {k for k, v in held.items() if v > 0}
    assert {k for k, v in gpu.items() if v > 0} <= held_keys
    for k in held_keys:
        assert gpu[k] == ms_to_nano_hours(held[k]), k
        assert abs(idle_q[k] - ms_to_nano_hours(idle.get(k, 0))) <= 1, k

    # 2. each (tenant, deployment, model) busy share matches the reference (1e-9 GPU-hour units).
    got = defaultdict(int)
    for ln in lines:
        if ln.resource == c.GPU:
            got[(ln.day, ln.tenant, ln.deployment, ln.model, ln.gpu_model, ln.mig_profile)] += ln.quantity
    expected = defaultdict(Fraction)
    for (day, tenant, dep, model, g, m), q in busy.items():
        cfg = ten.deployments.get(dep)
        who = cfg.tenant if cfg is not None and cfg.mode == "dedicated" else tenant
        expected[(day, who, dep, model, g, m)] += q * 10**9 / 3_600_000
    for k in set(got) | set(expected):
        want = expected.get(k, Fraction(0))
        assert abs(got.get(k, 0) - want) <= 2 + want * Fraction(1, 10**9), (k, got.get(k), float(want))

    # 3. cost lines sum to the deployment's cost at list price, to the cent.
    for k in held_keys:
        dep, day, g, m = k
        price = PRICES.gpu_price(day, g, m)
        if price.basis == "gpu":
            assert cost[k] == gpu_cost_cents(held[k], price.price), k

    # 4. separate: idle on the (idle) line, nobody without requests pays.
    if ten.idle_policy == "separate":
        requesters = {e.tenant for e in unique}
        dedicated = {cfg.tenant for cfg in ten.deployments.values() if cfg.mode == "dedicated"}
        for ln in lines:
            if ln.resource == c.GPU_IDLE and ln.method != c.METHOD_IDLE_DEDICATED:
                assert ln.tenant == c.IDLE_TENANT
            if ln.tenant not in requesters | dedicated | {c.IDLE_TENANT}:
                assert ln.cost == 0 and ln.quantity == 0, ln

    # 5. duplicated event ids count once: usage counters equal the unique events'.
    in_period = [e for e in unique if start <= e.ts.date() < end]
    assert sum(ln.requests for ln in lines) == len(in_period)
    assert sum(ln.input_tokens for ln in lines) == sum(e.input_tokens for e in in_period)
    assert sum(ln.output_tokens for ln in lines) == sum(e.output_tokens for e in in_period)

    # 6. the days one by one give the same lines as the two days together.
    by_day = []
    for d in range(2):
        day = start + dt.timedelta(days=d)
        try:
            by_day += compute_lines(inv_store, day, day + dt.timedelta(days=1), PRICES, ten).lines
        except Exception as exc:
            assert "nothing to charge" in str(exc)

    def canon(ls):
        return sorted((ln.key(), ln.quantity, ln.cost, ln.requests, ln.input_tokens, ln.method, ln.issue) for ln in ls)

    assert canon(by_day) == canon(lines)
