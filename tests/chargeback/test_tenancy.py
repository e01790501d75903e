"""Tenancy configuration: tenants, budgets, deployments, weights and idle policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from infermeter.chargeback.config import Weights
from infermeter.chargeback.tenancy import load_tenancy
from infermeter.errors import ConfigError
from tests.support import REPO


def test_example_tenancy_loads():
    ten = load_tenancy(REPO / "examples" / "tenancy.yaml")
    assert ten.idle_policy == "proportional"
    assert (ten.weights.input, ten.weights.output, ten.weights.cached) == (1, 2, 0.25)
    assert ten.budgets()["search"] == Decimal("20000.00")
    assert ten.deployments["embed-search"].tenant == "search"
    assert ten.token_deployments() == {"openai"}


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("tenants: {a: {}}\ndeployments: {d: {owner: a}}\n")
    ten = load_tenancy(path)
    assert ten.idle_policy == "proportional" and ten.deployments["d"].mode == "shared"
    assert (ten.weights.input, ten.weights.output, ten.weights.cached) == (1, 2, 1)  # DESIGN.md's defaults
    over = load_tenancy(path, weights=Weights(input=1, output=3, cached_input=0.1), idle_policy="owner")
    assert over.idle_policy == "owner" and over.weights.output == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deployments: {d: {mode: dedicated}}\n", r"t.yaml:1: deployments\.d: a dedicated deployment needs `tenant`"),
        ("tenants: {a: {}}\ndeployments: {d: {tenant: a}}\n", r"deployments\.d: `tenant` is for dedicated deployments"),
        ("tenants: {a: {}}\ndeployments: {d: {owner: b}}\n", r"deployments\.d\.owner: unknown tenant 'b'"),
        ("tenants: {'(idle)': {}}\n", r"tenant name '\(idle\)' is reserved"),
        ("idle_policy: lazy\n", r"t.yaml:1: idle_policy: Input should be 'proportional', 'owner' or 'separate'"),
        ("weights: {input: 0, output: 0, cached_input: 0}\n", r"weights: at least one weight must be > 0"),
        ("weights: {input: -1}\n", r"weights\.input: Input should be greater than or equal to 0"),
        ("tenants: {a: {monthly_budget: 1.001}}\n", r"tenants\.a\.monthly_budget: Decimal input should have no more than 2 decimal places"),
        ("tenant: {}\n", r"t.yaml:1: tenant: unknown key"),
        (
            "idle_policy: owner\ntenants: {a: {}}\ndeployments: {d: {}, e: {owner: a}}\n",
            r"deployments\.d\.owner: idle_policy `owner` needs an owner for every shared deployment \(missing: d\)",
        ),
    ],
)
def test_bad_tenancy(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_tenancy(path)
