"""The portal's queries (the ``portal queries`` section of chargeback/queries.py) on every backend."""

from __future__ import annotations

from decimal import Decimal

import pytest

from infermeter.chargeback import queries as q
from infermeter.errors import ConfigError
from tests.portal import seed


@pytest.fixture
def seeded(store):
    seed.seed(store)
    return store


def test_scope_totals_filters_tenants_in_the_store(seeded):
    (acme,) = q.scope_totals(seeded, seed.MONTH, ["acme"])
    assert acme.cost == seed.month_total("acme") == Decimal("11.00") * seed.DAYS
    assert acme.tenants == 1
    assert acme.tokens.input == 1000 * seed.DAYS and acme.tokens.output == 500 * seed.DAYS
    assert acme.gpu_hours == Decimal("2.75") * seed.DAYS and acme.idle_gpu_hours == Decimal("0.25") * seed.DAYS
    (both,) = q.scope_totals(seeded, seed.MONTH, ["acme", "beta"])
    assert both.cost == seed.month_total("acme") + seed.month_total("beta")
    (everyone,) = q.scope_totals(seeded, seed.MONTH, None)
    assert everyone.cost == sum(seed.month_total(t) for t in seed.TENANTS) and everyone.tenants == 3
    (nobody,) = q.scope_totals(seeded, seed.MONTH, [])
    assert nobody.cost == 0 and nobody.tenants == 0


def test_scope_totals_grouped_most_expensive_first(seeded):
    rows = q.scope_totals(seeded, seed.MONTH, None, ("tenant",))
    assert [r.key["tenant"] for r in rows] == ["globex", "beta", "acme"]
    by = q.scope_totals(seeded, seed.MONTH, ["beta"], ("deployment", "resource"))
    keys = {(r.key["deployment"], r.key["resource"]): r.cost for r in by}
    assert keys == {
        ("llama-shared", "gpu"): 20 * seed.DAYS,
        ("llama-shared", "gpu_idle"): 2 * seed.DAYS,
        ("gateway-ext", "input_tokens"): 3 * seed.DAYS,
    }


def test_scope_totals_refuses_unknown_dimensions(seeded):
    with pytest.raises(ConfigError, match="unknown breakdown"):
        q.scope_totals(seeded, seed.MONTH, None, ("tenant; DROP TABLE ledger",))


def test_scope_daily(seeded):
    days = q.scope_daily(seeded, seed.MONTH, ["acme"])
    assert len(days) == seed.DAYS and days[0].day == seed.FIRST_DAY
    assert all(d.cost == Decimal("11.00") and d.tenant == "" for d in days)
    split = q.scope_daily(seeded, seed.MONTH, ["acme", "globex"], by_tenant=True)
    assert {d.tenant for d in split} == {"acme", "globex"} and len(split) == 2 * seed.DAYS
    assert sum(d.cost for d in split if d.tenant == "globex") == seed.month_total("globex")


def test_only_complete_runs_count(seeded):
    assert q.months(seeded) == [seed.MONTH, seed.PREVIOUS]  # this month's run failed
    (feb,) = q.scope_totals(seeded, seed.PREVIOUS, None)
    assert feb.tenants == 1
