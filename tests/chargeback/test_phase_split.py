"""The prefill/decode time split on a real store, worked by hand.

One shared H100 (``llama``) for an hour; every minute acme sends a prompt-heavy request (1,000
input tokens, no output) and globex a generation-heavy one (no input, 100 output tokens). By the
token weights (1 and 2) acme does 1000 / 1200 of the work. vLLM says the GPU spent 1 s in prefill
for every 3 s in decode: acme (all the input work) gets 1/4 of each minute, globex 3/4.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from infermeter.chargeback import conventions as c
from infermeter.chargeback.config import Weights
from infermeter.chargeback.runs import compute_lines, run_month
from tests.chargeback.test_engine_data import Beat, Event, Timing, insert_beats, insert_timing, insert_usage, simple_catalog, tenancy

PRICES = simple_catalog(gpu={"H100": "4.00"})
DAY = dt.date(2026, 9, 14)
T0 = dt.datetime(2026, 9, 14, 10)


def _tenancy(**weights):
    return tenancy(
        {"idle_policy": "separate", "weights": weights, "tenants": {"acme": {}, "globex": {}},
         "deployments": {"llama": {"mode": "shared"}, "solo": {"mode": "shared"}}}
    )


def _fleet(store, timing: str | None, minutes: int = 60) -> None:
    insert_beats(store, [Beat(T0 + dt.timedelta(minutes=m + 1), 60, "llama", "llama-0", "H100") for m in range(minutes)])
    events = []
    for m in range(minutes):
        t = T0 + dt.timedelta(minutes=m, seconds=20)
        events.append(Event(f"a{m}", t, "acme", "llama", "llama-70b", 1000, 0, 0))
        events.append(Event(f"g{m}", t, "globex", "llama", "llama-70b", 0, 0, 100))
    insert_usage(store, events)
    if timing is None:
        return
    label, pod = ("llama", "") if timing == "label" else ("", "llama-0")
    rows = []
    for m in range(0, minutes, 5):  # a scrape every 5 minutes: the hour's ratio still holds for every minute
        t = T0 + dt.timedelta(minutes=m, seconds=45)
        rows += [Timing(t, "prefill", 2.5, label, pod), Timing(t, "decode", 7.5, label, pod)]
    insert_timing(store, rows)


def _gpu_hours(lines) -> dict[str, Decimal]:
    out: dict[str, int] = defaultdict(int)
    for ln in lines:
        if ln.resource in (c.GPU, c.GPU_IDLE):
            out[ln.tenant] += ln.quantity
    return {t: Decimal(q) / 10**9 for t, q in out.items()}


@pytest.mark.parametrize("timing", ["label", "pod"])
def test_time_split_gives_prefill_a_quarter(store, timing):
    _fleet(store, timing)
    lines = compute_lines(store, DAY, DAY + dt.timedelta(days=1), PRICES, _tenancy()).lines
    assert _gpu_hours(lines) == {"acme": Decimal("0.25"), "globex": Decimal("0.75")}
    assert sum(ln.cost for ln in lines) == 400  # cents: one H100-hour, whoever pays


def test_without_timing_the_token_weights_decide(store):
    _fleet(store, None)
    lines = compute_lines(store, DAY, DAY + dt.timedelta(days=1), PRICES, _tenancy()).lines
    got = _gpu_hours(lines)
    assert got["acme"] == Decimal("0.833333333") and got["globex"] == Decimal("0.166666667")


def test_split_off_ignores_the_timing(store):
    _fleet(store, "label")
    lines = compute_lines(store, DAY, DAY + dt.timedelta(days=1), PRICES, _tenancy(phase_split=False)).lines
    assert _gpu_hours(lines)["acme"] == Decimal("0.833333333")


def test_timing_of_another_deployment_or_window_does_not_apply(store):
    _fleet(store, None)
    # Timing for a deployment that held nothing, and for llama but in the next day's window.
    insert_timing(store, [
        Timing(T0, "prefill", 9.0, "solo"), Timing(T0, "decode", 1.0, "solo"),
        Timing(T0 + dt.timedelta(days=1), "prefill", 9.0, "llama"), Timing(T0 + dt.timedelta(days=1), "decode", 1.0, "llama"),
    ])
    lines = compute_lines(store, DAY, DAY + dt.timedelta(days=1), PRICES, _tenancy(phase_window_minutes=1440)).lines
    assert _gpu_hours(lines)["acme"] == Decimal("0.833333333")


def test_a_minute_without_output_work_gives_all_of_it_to_input(store):
    """Timing says 3/4 decode, but a minute where nobody generated has no one to give decode to."""
    insert_beats(store, [Beat(T0 + dt.timedelta(minutes=1), 60, "llama", "llama-0", "H100")])
    insert_usage(store, [Event("a", T0 + dt.timedelta(seconds=5), "acme", "llama", "m", 1000, 0, 0),
                         Event("g", T0 + dt.timedelta(seconds=9), "globex", "llama", "m", 3000, 0, 0)])
    insert_timing(store, [Timing(T0, "prefill", 1.0, "llama"), Timing(T0, "decode", 3.0, "llama")])
    lines = compute_lines(store, DAY, DAY + dt.timedelta(days=1), PRICES, _tenancy()).lines
    assert _gpu_hours(lines) == {"acme": Decimal("0.004166667"), "globex": Decimal("0.0125")}  # 15 s and 45 s


def test_the_run_records_the_split(store):
    _fleet(store, "label")
    result = run_month(store, "2026-09", PRICES, _tenancy())
    assert result.notes["weights"]["phase_split"] is True and result.notes["weights"]["phase_window_minutes"] == 60
    assert result.notes["phase_windows"] == 1


def test_window_must_divide_the_day():
    with pytest.raises(ValueError, match="must divide a day"):
        Weights(phase_window_minutes=7)
