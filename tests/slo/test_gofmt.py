"""Go-compatible formatting: floats, durations, quoting and go-yaml's key order."""

from __future__ import annotations

import pytest

from infermeter.slo.durations import DurationError, format_duration, parse_duration
from infermeter.slo.gofmt import format_f, format_g, format_v, go_quote, label_filter, yaml_key_order


@pytest.mark.parametrize(
    ("value", "g", "v"),
    [
        (0.999 * 100 / 100, "0.9990000000000001", "0.9990000000000001"),
        (30.0, "30", "30"),
        (14.4, "14.4", "14.4"),
        ((100 - 99.9) / 100, "0.0009999999999999432", "0.0009999999999999432"),
        (1e-05, "1e-05", "1e-05"),
        (1234567.0, "1.234567e+06", "1234567"),
        (0.0001, "0.0001", "0.0001"),
        (1e21, "1e+21", "1e+21"),
    ],
)
def test_go_float_formats(value: float, g: str, v: str) -> None:
    assert format_g(value) == g
    assert format_v(value) == v


def test_format_f_never_uses_exponent() -> None:
    assert format_f(99.9) == "99.9"
    assert format_f(95.0) == "95"
    assert format_f(1e-05) == "0.00001"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("5m", "5m"), ("24h", "1d"), ("72h", "3d"), ("7d", "1w"), ("28d", "4w"), ("30d", "30d"), ("90m", "1h30m")],
)
def test_durations_print_like_prometheus(text: str, canonical: str) -> None:
    assert format_duration(parse_duration(text)) == canonical


@pytest.mark.parametrize("bad", ["", "5", "1x", "m5", "-1h"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


def test_quote_and_filter() -> None:
    assert go_quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    assert label_filter({"sloth_slo": "x", "sloth_id": "s-x", "sloth_service": "s"}) == (
        '{sloth_id="s-x", sloth_service="s", sloth_slo="x"}'
    )


def test_yaml_key_order_puts_symbols_before_letters_and_numbers_in_order() -> None:
    assert yaml_key_order(["a_b", "aB", "aa"]) == ["a_b", "aB", "aa"]
    assert yaml_key_order(["k10", "k9", "k1"]) == ["k1", "k9", "k10"]
    assert yaml_key_order(["sloth_window", "sloth_id", "global01k1"]) == ["global01k1", "sloth_id", "sloth_window"]
