"""Chargeback runs on a real store: ledger lines, versions, re-runs, late events, bad input, the CLI."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from infermeter.chargeback import conventions as c
from infermeter.chargeback.runs import latest_run, list_runs, month_bounds, run_month
from infermeter.errors import ConfigError
from tests.chargeback.test_engine_data import Beat, Event, insert_beats, insert_usage, simple_catalog, tenancy
from tests.support import REPO, run_cli

PRICES = simple_catalog(gpu={"H100": "4.00", "A100": "2.50"}, tokens={"gpt": {"input": "2.00", "output": "8.00"}})
TENANCY = tenancy(
    {
        "idle_policy": "proportional",
        "tenants": {"acme": {"monthly_budget": 100}, "globex": {}, "platform": {}},
        "deployments": {
            "llama": {"mode": "shared", "owner": "platform", "model": "llama-70b"},
            "solo": {"mode": "dedicated", "tenant": "acme"},
            "api": {"billing": "tokens"},
        },
    }
)


def _t(day: dt.date, h: int, m: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, h, m, s)


def _fleet(store, day: dt.date, prefix: str = "") -> None:
    """Two hours of llama (2 x H100) and solo (1 x A100) heartbeats; traffic in the first hour only."""
    beats = []
    for minute in range(1, 121):
        t = _t(day, 10) + dt.timedelta(minutes=minute)
        beats += [Beat(t, 60, "llama", "llama-0", "H100"), Beat(t, 60, "llama", "llama-1", "H100"), Beat(t, 60, "solo", "solo-0", "A100")]
    insert_beats(store, beats)
    events = []
    for minute in range(60):
        t = _t(day, 10, minute, 30)
        events.append(Event(f"{prefix}{day}-a{minute}", t, "acme", "llama", "llama-70b", 300, 100, 50))
        events.append(Event(f"{prefix}{day}-g{minute}", t, "globex", "llama", "llama-70b", 100, 0, 50))
        events.append(Event(f"{prefix}{day}-s{minute}", t, "acme", "solo", "mistral", 10, 0, 10))
    events.append(Event(f"{prefix}{day}-x", _t(day, 10, 5), "mystery", "llama", "llama-70b", 1000, 0, 0))
    events.append(Event(f"{prefix}{day}-o", _t(day, 12), "acme", "api", "gpt", 500_000, 0, 100_000))
    insert_usage(store, events)
    insert_usage(store, events[:10])  # sent twice: must count once


def _ledger(store, run_id):
    return store.query_rows(
        "SELECT tenant, resource, toString(sum(quantity)), toString(sum(cost)), sum(requests) FROM ledger "
        "WHERE run_id = {r:String} GROUP BY tenant, resource ORDER BY tenant, resource",
        {"r": run_id},
    )


def test_month_bounds():
    assert month_bounds("2026-12") == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    for bad in ("2026-13", "2026-1", "nov", "2026-11-01"):
        with pytest.raises(ConfigError, match="expected YYYY-MM"):
            month_bounds(bad)


def test_run_writes_exact_lines_and_records_the_run(store):
    day = dt.date(2026, 11, 3)
    _fleet(store, day)
    result = run_month(store, "2026-11", PRICES, TENANCY)
    assert result.version == 1 and result.supersedes is None and result.run_id.startswith("2026-11-v1-")
    # llama: 2 GPUs x 2 h x 4.00 = 16.00; solo: 2 h x 2.50 = 5.00; gpt: 0.5M x 2 + 0.1M x 8 = 1.80.
    assert result.total == Decimal("22.80")
    assert result.issues == {c.ISSUE_UNKNOWN_TENANT: 2}  # its gpu line and its share of the idle
    rows = store.query_rows(
        "SELECT deployment, toString(sum(quantity)), toString(sum(cost)), sum(requests) FROM ledger "
        "WHERE run_id = {r:String} AND resource IN ('gpu', 'gpu_idle') GROUP BY deployment ORDER BY deployment",
        {"r": result.run_id},
    )
    assert [(d, Decimal(q), Decimal(cost), n) for d, q, cost, n in rows] == [
        ("llama", 4, Decimal("16.00"), 121),
        ("solo", 2, Decimal("5.00"), 60),
    ]
    lines = {(t, r): (Decimal(q), Decimal(cost), n) for t, r, q, cost, n in _ledger(store, result.run_id)}
    # llama's first hour is busy, its second idle and spread over acme and globex by their busy share.
    assert lines[("acme", "gpu")][2] == 120 and lines[("globex", "gpu")][2] == 60  # duplicates counted once
    # 1 h of solo idle, and 2 h of llama idle x acme's busy share (79 1/6 of 120 GPU-minutes).
    assert lines[("acme", "gpu_idle")][0] == Decimal("2.319444445")  # 1.3194444444: the leftover unit
    assert lines[("acme", "input_tokens")] == (Decimal("0.5"), Decimal("1.00"), 1)
    assert lines[("mystery", "gpu")][2] == 1
    run = latest_run(store, "2026-11")
    assert run is not None and run.run_id == result.run_id and run.status == c.STATUS_COMPLETE
    assert run.notes["prices"]["version"] == "test" and run.notes["total"] == "22.80" and run.usage_watermark is not None
    days = store.query_rows(
        "SELECT DISTINCT period_start, period_end, billing_period FROM ledger WHERE run_id = {r:String}", {"r": result.run_id}
    )
    assert days == [(day, day + dt.timedelta(days=1), dt.date(2026, 11, 1))]


def test_rerun_replaces_lines_and_late_events_show_in_the_next_version(store):
    day = dt.date(2026, 11, 3)
    _fleet(store, day)
    first = run_month(store, "2026-11", PRICES, TENANCY)
    second = run_month(store, "2026-11", PRICES, TENANCY)
    assert (second.version, second.supersedes, second.late_events, second.cost_change) == (2, first.run_id, 0, Decimal("0.00"))
    assert store.query_scalar("SELECT count() FROM ledger WHERE run_id = {r:String}", {"r": first.run_id}) == 0
    assert store.query_scalar("SELECT uniqExact(run_id) FROM ledger") == 1
    # A late event for the month (a gpt call): the next version includes it and says so.
    insert_usage(store, [Event("late-1", _t(day, 13), "globex", "api", "gpt", 1_000_000, 0, 0)])
    third = run_month(store, "2026-11", PRICES, TENANCY)
    assert (third.version, third.late_events, third.cost_change) == (3, 1, Decimal("2.00"))
    assert [r.version for r in list_runs(store, "2026-11")] == [1, 2, 3]
    assert latest_run(store, "2026-11").run_id == third.run_id


def test_late_events_for_a_billed_month_become_adjustments(store):
    nov, dec = dt.date(2026, 11, 20), dt.date(2026, 12, 2)
    _fleet(store, nov)
    nov_run = run_month(store, "2026-11", PRICES, TENANCY)
    _fleet(store, dec)
    dec_v1 = run_month(store, "2026-12", PRICES, TENANCY)
    assert dec_v1.adjustments == {}
    # Late November usage arrives after November was billed.
    insert_usage(
        store,
        [
            Event("late-gpu", _t(nov, 11, 30), "globex", "llama", "llama-70b", 100, 0, 0),  # in an idle minute
            Event("late-api", _t(nov, 14), "acme", "api", "gpt", 250_000, 0, 0),
        ],
    )
    with pytest.raises(ConfigError, match="2026-11 is closed"):
        run_month(store, "2026-11", PRICES, TENANCY)
    dec_v2 = run_month(store, "2026-12", PRICES, TENANCY)
    assert set(dec_v2.adjustments) == {"2026-11"}
    adj = store.query_rows(
        "SELECT period_start, tenant, resource, toString(quantity), toString(cost), adjusts_run_id FROM ledger "
        "WHERE run_id = {r:String} AND method = 'adjustment' ORDER BY tenant, resource",
        {"r": dec_v2.run_id},
    )
    assert adj and all(r[0] == nov and r[5] == nov_run.run_id for r in adj)
    # The minute globex used became busy: GPU-hours moved between lines, the GPU total did not change.
    gpu = [Decimal(r[3]) for r in adj if r[2] in ("gpu", "gpu_idle")]
    assert sum(gpu) == 0 and any(gpu)
    assert dec_v2.adjustments["2026-11"] == Decimal("0.50")  # 0.25M x 2.00; GPU cost moved, did not grow
    assert dec_v2.total == dec_v1.total + Decimal("0.50")
    # Idempotent: running December again gives the same adjustment, once.
    dec_v3 = run_month(store, "2026-12", PRICES, TENANCY)
    assert dec_v3.adjustments == dec_v2.adjustments and dec_v3.total == dec_v2.total
    assert store.query_scalar("SELECT count() FROM ledger WHERE method = 'adjustment'") == len(adj)
    # January sees November as covered by December: nothing more.
    _fleet(store, dt.date(2027, 1, 5))
    assert run_month(store, "2027-01", PRICES, TENANCY).adjustments == {}


def test_a_month_without_data_is_a_clear_error(store):
    with pytest.raises(ConfigError, match=r"no usage events and no GPU allocation heartbeats from 2027-03-01 to 2027-03-31"):
        run_month(store, "2027-03", PRICES, TENANCY)
    assert latest_run(store, "2027-03") is None
    assert [r.status for r in list_runs(store, "2027-03")] == [c.STATUS_FAILED]


def test_missing_gpu_price_fails_the_run_and_keeps_the_previous_lines(store):
    day = dt.date(2026, 11, 3)
    _fleet(store, day)
    good = run_month(store, "2026-11", PRICES, TENANCY)
    with pytest.raises(ConfigError, match=r"no price for GPU model 'A100'"):
        run_month(store, "2026-11", simple_catalog(gpu={"H100": "4.00"}), TENANCY)
    assert latest_run(store, "2026-11").run_id == good.run_id
    assert store.query_scalar("SELECT count() FROM ledger WHERE run_id = {r:String}", {"r": good.run_id}) > 0


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cli_run_and_runs(tmp_path):
    store_url = f"chdb://{tmp_path / 'data'}"
    usage = _jsonl(
        tmp_path / "usage.jsonl",
        [
            {"event_id": f"e{i}", "ts": f"2026-11-03T10:{i:02d}:30Z", "tenant": "search" if i % 2 else "nobody",
             "model": "llama-3.1-70b", "deployment": "llama-70b", "input_tokens": 100, "output_tokens": 20}
            for i in range(30)
        ],
    )
    beats = _jsonl(
        tmp_path / "beats.jsonl",
        [
            {"ts": f"2026-11-03T10:{m:02d}:00Z", "interval_s": 60, "deployment": "llama-70b", "instance": "i0",
             "gpu_uuid": "GPU-0", "gpu_model": "H100-80GB"}
            for m in range(1, 60)
        ],
    )
    for path, kind in ((usage, "usage"), (beats, "allocation")):
        assert run_cli("ingest", str(path), "--kind", kind, "--store", store_url).returncode == 0
    args = ("--prices", str(REPO / "examples" / "prices.yaml"), "--tenancy", str(REPO / "examples" / "tenancy.yaml"), "--store", store_url)
    done = run_cli("chargeback", "run", "--month", "2026-11", *args)
    assert done.returncode == 0, done.stderr
    assert "version 1" in done.stdout and "total 3.93 USD" in done.stdout  # 59 min of one H100 at 4.00
    assert "ledger lines flagged unknown-tenant" in done.stderr
    strict = run_cli("chargeback", "run", "--month", "2026-11", "--strict", "--json", *args)
    assert strict.returncode == 1 and json.loads(strict.stdout)["version"] == 2
    runs = run_cli("chargeback", "runs", "--month", "2026-11", "--store", store_url)
    assert runs.returncode == 0 and "complete" in runs.stdout and "3.93" in runs.stdout
    bad = run_cli("chargeback", "run", "--month", "2026-1", *args)
    assert bad.returncode == 2 and "expected YYYY-MM" in bad.stderr
    empty = run_cli("chargeback", "run", "--month", "2026-12", *args)
    assert empty.returncode == 2 and "nothing to charge" in empty.stderr
    no_prices = run_cli("chargeback", "run", "--month", "2026-11", "--tenancy", str(REPO / "examples" / "tenancy.yaml"), "--store", store_url)
    assert no_prices.returncode == 2 and "no price catalog" in no_prices.stderr
    assert run_cli("chargeback", "run", "--help").returncode == 0


def test_every_query_path_gives_the_same_lines(store, monkeypatch):
    """Whole-month partitions or row filters, one chunk or a chunk per day, packed keys or columns."""
    from infermeter.chargeback import engine_sql
    from infermeter.chargeback.runs import compute_lines

    for day in (dt.date(2026, 11, 3), dt.date(2026, 11, 4)):
        _fleet(store, day, prefix="p")
    start, end = month_bounds("2026-11")

    def canon(lines):
        return sorted((ln.key(), ln.quantity, ln.cost, ln.requests, ln.input_tokens, ln.issue) for ln in lines)

    whole = canon(compute_lines(store, start, end, PRICES, TENANCY).lines)
    assert whole
    assert canon(compute_lines(store, start, end, PRICES, TENANCY, max_cells=1).lines) == whole
    real = engine_sql._usage_names

    def forgetful(*args):
        names = real(*args)
        names.tenants.remove("globex")  # as if globex's first event arrived after the names were read
        return names

    monkeypatch.setattr(engine_sql, "_usage_names", forgetful)
    assert canon(compute_lines(store, start, end, PRICES, TENANCY).lines) == whole
