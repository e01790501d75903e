"""The price catalog: validation with messages naming file, line and field; lookups; period splits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from infermeter.chargeback.prices import load_prices
from infermeter.errors import ConfigError
from tests.support import REPO

GOOD = """\
version: v7
currency: EUR
periods:
  - effective_from: 2026-10-01
    effective_to: 2026-11-15
    gpu_hour: {H100-80GB: 4.00, A100-80GB: 2.20}
    mig_hour: {H100-80GB: {1g.10gb: 0.70}}
    tokens:
      gpt-4o: {input: 2.50, output: 10.00}
  - effective_from: 2026-11-15
    gpu_hour: {H100-80GB: 3.60}
    tokens:
      gpt-4o: {input: 2.00, cached_input: 1.00, output: 8.00}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    return path


def test_example_catalog_loads():
    cat = load_prices(REPO / "examples" / "prices.yaml")
    assert cat.currency == "USD" and "gpt-4o" in cat.token_models
    assert cat.gpu_price(dt.date(2026, 11, 20), "H100-80GB").price == Decimal("3.60")


def test_lookups_and_the_mid_month_split(tmp_path):
    cat = load_prices(_write(tmp_path, GOOD))
    assert (cat.version, cat.currency) == ("v7", "EUR")
    assert cat.gpu_price(dt.date(2026, 11, 14), "H100-80GB").price == Decimal("4.00")
    assert cat.gpu_price(dt.date(2026, 11, 15), "H100-80GB").price == Decimal("3.60")
    mig = cat.gpu_price(dt.date(2026, 11, 1), "H100-80GB", "1g.10gb")
    assert (mig.price, mig.basis) == (Decimal("0.70"), "mig")
    assert cat.gpu_price(dt.date(2026, 11, 1), "H100-80GB", "2g.20gb").basis == "gpu"  # no MIG price: fraction of the GPU
    price, _ = cat.token_price(dt.date(2026, 11, 1), "gpt-4o")
    assert price.cached == Decimal("2.50")  # cached_input defaults to the input price
    segments = cat.split(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert [(s.start.day, s.end, s.period_index) for s in segments] == [
        (1, dt.date(2026, 11, 15), 0),
        (15, dt.date(2026, 12, 1), 1),
    ]
    gap = cat.split(dt.date(2026, 9, 20), dt.date(2026, 10, 3))
    assert [(s.start, s.period_index) for s in gap] == [(dt.date(2026, 9, 20), None), (dt.date(2026, 10, 1), 0)]


def test_overlapping_periods_name_file_line_and_field(tmp_path):
    path = _write(tmp_path, GOOD.replace("effective_from: 2026-11-15", "effective_from: 2026-11-10"))
    with pytest.raises(ConfigError) as err:
        load_prices(path)
    assert str(err.value) == (
        f"{path}:10: periods[1]: 2026-11-10.. overlaps periods[0] (2026-10-01..2026-11-15)"
    )


def test_open_ended_period_followed_by_another_overlaps(tmp_path):
    text = GOOD.replace("    effective_to: 2026-11-15\n", "")
    with pytest.raises(ConfigError, match=r"periods\[1\]: 2026-11-15\.\. overlaps periods\[0\] \(2026-10-01\.\.\)"):
        load_prices(_write(tmp_path, text))


def test_missing_prices_name_the_field(tmp_path):
    path = _write(tmp_path, GOOD)
    cat = load_prices(path)
    with pytest.raises(ConfigError) as err:
        cat.gpu_price(dt.date(2026, 11, 20), "A100-80GB")
    assert str(err.value).startswith(f"{path}:11: periods[1].gpu_hour: no price for GPU model 'A100-80GB' on 2026-11-20")
    with pytest.raises(ConfigError, match=r"no price period covers 2026-09-30"):
        cat.gpu_price(dt.date(2026, 9, 30), "H100-80GB")
    with pytest.raises(ConfigError, match=r"periods\[0\]\.tokens: no token price for model 'claude' on 2026-11-01"):
        cat.token_price(dt.date(2026, 11, 1), "claude")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\ncurrency: usd\nperiods: []\n", r"prices.yaml:2: currency: String should match pattern"),
        ("version: 1\ncurrency: USD\nperiods: []\n", r"prices.yaml:3: periods: List should have at least 1 item"),
        (
            "version: 1\ncurrency: USD\nperiods:\n  - effective_from: 2026-01-01\n    gpu_hour: {H100: -1}\n",
            r"prices.yaml:5: periods\[0\]\.gpu_hour\.H100: Input should be greater than or equal to 0",
        ),
        (
            "version: 1\ncurrency: USD\nperiods:\n  - effective_from: 2026-02-01\n    effective_to: 2026-01-01\n",
            r"periods\[0\]: effective_to 2026-01-01 must be after effective_from 2026-02-01",
        ),
        (
            "version: 1\ncurrency: USD\nperiods:\n  - effective_from: 2026-01-01\n    gpu_houre: {}\n",
            r"prices.yaml:5: periods\[0\]\.gpu_houre: unknown key",
        ),
        (
            "version: 1\ncurrency: USD\nperiods:\n  - effective_from: 2026-01-01\n    tokens: {m: {input: 1}}\n",
            r"periods\[0\]\.tokens\.m\.output: Field required",
        ),
        ("version: [\n", r"prices.yaml:2:\d+: invalid YAML"),
        ("- 1\n", r"must be a mapping"),
    ],
)
def test_bad_catalogs(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_prices(_write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: price catalog file not found"):
        load_prices(tmp_path / "nope.yaml")
