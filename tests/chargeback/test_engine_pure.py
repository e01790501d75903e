"""The pure core of the engine: rounding, unit conversions and attribution from aggregated input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infermeter.chargeback import conventions as c
from infermeter.chargeback.engine import EngineInput, Held, UsageGroup, attribute
from infermeter.chargeback.money import (
    cents_of,
    gpu_cost_cents,
    largest_remainder,
    ms_to_nano_hours,
    round_half_even,
    token_cost_cents,
)
from infermeter.errors import ConfigError
from tests.chargeback.test_engine_data import simple_catalog, tenancy

DAY = dt.date(2026, 11, 3)
HOUR_MS = 3_600_000
NANO_HOUR = 10**9


# ----------------------------------------------------------------------------- money


@given(st.integers(-10**12, 10**12), st.lists(st.integers(0, 10**9), min_size=1, max_size=30))
def test_largest_remainder_sums_exactly_and_stays_within_one_unit(total, weights):
    if sum(weights) == 0:
        if total:
            with pytest.raises(ValueError):
                largest_remainder(total, weights)
        return
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    for part, w in zip(parts, weights):
        exact = Fraction(total * w, sum(weights))
        assert abs(part - exact) < 1
        if w == 0:
            assert part == 0


def test_largest_remainder_ties_go_to_the_earlier_part():
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert largest_remainder(2, [1, 1, 1]) == [1, 1, 0]
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert largest_remainder(-10, [1, 1, 1]) == [-4, -3, -3]
    with pytest.raises(ValueError):
        largest_remainder(5, [1, -1])


def test_units_and_prices_are_exact():
    assert ms_to_nano_hours(HOUR_MS) == NANO_HOUR
    assert ms_to_nano_hours(1) == 278  # 0.2777... rounds up
    assert ms_to_nano_hours(9) == 2500  # exactly 2500
    assert round_half_even(Fraction(5, 2)) == 2 and round_half_even(Fraction(7, 2)) == 4
    assert gpu_cost_cents(HOUR_MS, Decimal("4.10")) == 410
    assert gpu_cost_cents(HOUR_MS // 2, Decimal("0.01")) == 1  # half a cent: away from zero
    assert gpu_cost_cents(3 * HOUR_MS // 2, Decimal("0.01")) == 2
    assert cents_of(Decimal("-0.005")) == -1 and cents_of(Decimal("0.0049")) == 0
    assert token_cost_cents(1_000_000, Decimal("2.50")) == 250
    assert token_cost_cents(1, Decimal("10")) == 0


# ----------------------------------------------------------------------------- attribution


def _group(tenant, model, gpu_ms, dep="shared", requests=1, inp=100, cached=0, out=10, day=DAY):
    return UsageGroup(day, tenant, dep, model, tuple(gpu_ms), requests, inp, cached, out)


TEN = {
    "tenants": {"acme": {}, "globex": {}, "platform": {}},
    "deployments": {
        "shared": {"mode": "shared", "owner": "platform", "model": "llama"},
        "solo": {"mode": "dedicated", "tenant": "acme"},
        "api": {"billing": "tokens"},
    },
}


def _lines(groups, held, policy="proportional", skus=None, prices=None):
    data = EngineInput(
        skus=skus or {"shared": [("H100", "")], "solo": [("A100", "")]},
        held={k: Held(*v) for k, v in held.items()},
        usage=groups,
    )
    prices = prices or simple_catalog(tokens={"gpt": {"input": "2.50", "cached_input": "1.25", "output": "10.00"}})
    return attribute(data, prices, tenancy(TEN, idle_policy=policy))


def _by(lines, resource):
    return {(ln.tenant, ln.model): ln for ln in lines if ln.resource == resource}


def test_shared_split_by_work_with_idle_proportional():
    # 10 GPU-hours held, 2 of them idle; acme did 3x the work of globex.
    held = {("shared", DAY, 0): (10 * HOUR_MS, 10 * HOUR_MS, 2 * HOUR_MS)}
    lines = _lines([_group("acme", "m", [6 * HOUR_MS]), _group("globex", "m", [2 * HOUR_MS])], held)
    busy, idle = _by(lines, c.GPU), _by(lines, c.GPU_IDLE)
    assert busy[("acme", "m")].quantity == 6 * NANO_HOUR and busy[("globex", "m")].quantity == 2 * NANO_HOUR
    assert idle[("acme", "llama")].quantity == int(1.5 * NANO_HOUR) and idle[("globex", "llama")].quantity == NANO_HOUR // 2
    assert {ln.method for ln in idle.values()} == {c.METHOD_IDLE["proportional"]}
    assert sum(ln.cost for ln in lines) == 4000  # 10 h x 4.00
    assert busy[("acme", "m")].cost == 2400 and idle[("acme", "llama")].cost == 600
    assert busy[("acme", "m")].requests == 1 and busy[("acme", "m")].unit_price == Decimal("4.00")


def test_idle_owner_and_separate():
    held = {("shared", DAY, 0): (3 * HOUR_MS, 3 * HOUR_MS, HOUR_MS)}
    groups = [_group("acme", "m", [2 * HOUR_MS])]
    owner = _by(_lines(groups, held, "owner"), c.GPU_IDLE)
    assert list(owner) == [("platform", "llama")] and owner[("platform", "llama")].method == "idle-owner"
    separate = _by(_lines(groups, held, "separate"), c.GPU_IDLE)
    assert list(separate) == [(c.IDLE_TENANT, "llama")] and separate[(c.IDLE_TENANT, "llama")].cost == 400


def test_separate_charges_nothing_to_tenants_without_requests():
    held = {("shared", DAY, 0): (5 * HOUR_MS, 5 * HOUR_MS, 5 * HOUR_MS)}
    lines = _lines([], held, "separate")
    assert {ln.tenant for ln in lines} == {c.IDLE_TENANT}
    assert sum(ln.cost for ln in lines) == 2000


def test_proportional_without_work_that_day_goes_to_the_owner():
    held = {("shared", DAY, 0): (5 * HOUR_MS, 5 * HOUR_MS, 5 * HOUR_MS)}
    lines = _lines([], held, "proportional")
    assert [(ln.tenant, ln.method) for ln in lines] == [("platform", "idle-owner")]


def test_dedicated_takes_everything_and_flags_other_tenants():
    held = {("solo", DAY, 0): (4 * HOUR_MS, 4 * HOUR_MS, HOUR_MS)}
    lines = _lines(
        [_group("acme", "m", [2 * HOUR_MS], dep="solo"), _group("globex", "m", [HOUR_MS], dep="solo", requests=5)],
        held,
        "separate",
    )
    busy, idle = _by(lines, c.GPU), _by(lines, c.GPU_IDLE)
    assert busy[("acme", "m")].quantity == 3 * NANO_HOUR and busy[("acme", "m")].method == "dedicated"
    assert idle[("acme", "")].quantity == NANO_HOUR and idle[("acme", "")].method == "idle-dedicated"
    stranger = busy[("globex", "m")]
    assert (stranger.quantity, stranger.cost, stranger.requests, stranger.issue) == (0, 0, 5, c.ISSUE_NOT_DEDICATED_TENANT)
    assert sum(ln.cost for ln in lines) == 1000  # 4 h x 2.50


def test_unknown_tenant_and_deployment_keep_their_own_lines():
    held = {("shared", DAY, 0): (HOUR_MS, HOUR_MS, 0), ("rogue", DAY, 0): (HOUR_MS, HOUR_MS, 0)}
    skus = {"shared": [("H100", "")], "rogue": [("A100", "")]}
    lines = _lines(
        [_group("mystery", "m", [HOUR_MS]), _group("acme", "m", [HOUR_MS], dep="rogue"), _group("acme", "m", [0.0], dep="ghost")],
        held,
        skus=skus,
    )
    issues = {(ln.tenant, ln.deployment): ln.issue for ln in lines}
    assert issues[("mystery", "shared")] == c.ISSUE_UNKNOWN_TENANT
    assert issues[("acme", "rogue")] == c.ISSUE_UNKNOWN_DEPLOYMENT
    ghost = [ln for ln in lines if ln.deployment == "ghost"]
    assert len(ghost) == 1 and ghost[0].issue == c.ISSUE_UNKNOWN_DEPLOYMENT and ghost[0].requests == 1
    assert sum(ln.cost for ln in lines if ln.deployment == "rogue") == 250


def test_usage_without_allocation_is_flagged_not_dropped():
    lines = _lines([_group("acme", "m", [0.0], inp=500, out=50)], {})
    assert len(lines) == 1
    assert (lines[0].quantity, lines[0].cost, lines[0].input_tokens, lines[0].issue) == (0, 0, 500, c.ISSUE_NO_ALLOCATION)


def test_token_priced_models_at_list_price():
    groups = [
        _group("acme", "gpt", [], dep="api", requests=3, inp=1_500_000, cached=500_000, out=200_000),
        _group("globex", "gpt", [], dep="api", requests=1, inp=1_000_000, cached=0, out=0),
    ]
    lines = _lines(groups, {})
    by = {(ln.tenant, ln.resource): ln for ln in lines}
    assert by[("acme", c.INPUT_TOKENS)].quantity == 1_000_000 * 1000  # 1.0 of 1M tokens, in 1e-9 units
    assert by[("acme", c.INPUT_TOKENS)].cost == 250 and by[("acme", c.CACHED_INPUT_TOKENS)].cost == 63
    assert by[("acme", c.OUTPUT_TOKENS)].cost == 200 and by[("acme", c.INPUT_TOKENS)].requests == 3
    assert by[("acme", c.CACHED_INPUT_TOKENS)].requests == 0  # usage counted once, on the input line
    assert ("globex", c.OUTPUT_TOKENS) not in by and by[("globex", c.INPUT_TOKENS)].cost == 250
    assert {ln.method for ln in lines} == {c.METHOD_LIST_PRICE}


def test_missing_prices_are_errors_naming_the_field():
    held = {("shared", DAY, 0): (HOUR_MS, HOUR_MS, 0)}
    with pytest.raises(ConfigError, match=r"gpu_hour: no price for GPU model 'L4'"):
        _lines([], held, skus={"shared": [("L4", "")]})
    with pytest.raises(ConfigError, match=r"tokens: no token price for model 'claude'"):
        _lines([_group("acme", "claude", [], dep="api")], {})


def test_mig_profile_price_per_instance_hour_or_fraction_of_the_gpu():
    # A 3g.40gb slice (fraction 3/7) held for 7 hours: 3 GPU-hours, 7 instance-hours.
    held = {("shared", DAY, 0): (3 * HOUR_MS, 7 * HOUR_MS, 0)}
    groups = [_group("acme", "m", [3 * HOUR_MS])]
    priced = _lines(groups, held, skus={"shared": [("H100", "3g.40gb")]}, prices=simple_catalog(mig={"H100": {"3g.40gb": "1.00"}}))
    assert sum(ln.cost for ln in priced) == 700 and priced[0].quantity == 3 * NANO_HOUR
    assert priced[0].unit_price == Decimal("2.333333333333")
    fallback = _lines(groups, held, skus={"shared": [("H100", "3g.40gb")]})
    assert sum(ln.cost for ln in fallback) == 1200  # 3 GPU-hours x 4.00


def test_a_price_change_prices_each_day_by_its_period():
    prices = simple_catalog()
    prices.model.periods[0].effective_to = dt.date(2026, 11, 15)
    from infermeter.chargeback.prices import CatalogFile, PriceCatalog

    data = prices.model.model_dump()
    data["periods"].append({"effective_from": "2026-11-15", "gpu_hour": {"H100": "3.00"}})
    cat = PriceCatalog(CatalogFile.model_validate(data), "prices.yaml")
    before, after = dt.date(2026, 11, 14), dt.date(2026, 11, 15)
    held = {("shared", before, 0): (HOUR_MS, HOUR_MS, 0), ("shared", after, 0): (HOUR_MS, HOUR_MS, 0)}
    groups = [_group("acme", "m", [HOUR_MS], day=before), _group("acme", "m", [HOUR_MS], day=after)]
    lines = _lines(groups, held, prices=cat)
    assert {(ln.day, ln.unit_price, ln.cost) for ln in lines} == {(before, Decimal("4.00"), 400), (after, Decimal("3.00"), 300)}
