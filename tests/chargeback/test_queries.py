"""The chargeback query layer on a real store: exact Decimal totals, the run it reads, tenant filter,
daily trend, models, fleet, issues, and the efficiency view from allocation and utilisation telemetry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from infermeter.chargeback import queries as q
from infermeter.errors import ConfigError
from tests.chargeback import test_report_seed as seed

D = Decimal


@pytest.fixture
def seeded(store):
    seed.seed_ledger(store)
    seed.seed_telemetry(store)
    return store


def test_parse_month():
    p = q.parse_month("2024-12")
    assert (p.start, p.end, p.label) == (dt.date(2024, 12, 1), dt.date(2025, 1, 1), "2024-12")
    assert len(q.parse_month("2024-02").days()) == 29
    for bad in ("2024-13", "2024-1", "March", "", "2024-00"):
        with pytest.raises(ConfigError, match="YYYY-MM"):
            q.parse_month(bad)


def test_reads_the_latest_complete_run(seeded):
    run = q.run_info(seeded, seed.MONTH)
    assert run is not None
    assert (run.run_id, run.version, run.status) == (seed.RUN, 2, "complete")
    assert run.finished_at is not None and run.usage_watermark is not None
    assert [r.run_id for r in q.list_runs(seeded, seed.MONTH)] == [seed.RUNNING_RUN, seed.RUN, seed.STALE_RUN]
    assert q.months(seeded) == [seed.MONTH]
    # the stale and the running run's lines never show
    assert "initech" not in q.tenants(seeded, seed.MONTH)
    assert q.tenants(seeded, seed.MONTH) == ["(idle)", "acme", "globex", "mystery"]


def test_month_without_a_complete_run(seeded):
    with pytest.raises(q.NoChargebackData, match=r"no complete chargeback run for 2019-01.*infermeter chargeback run --month 2019-01"):
        q.require_run(seeded, "2019-01")
    seed.add_run(seeded, "only-running", 1, "running", dt.datetime(2019, 3, 1, tzinfo=dt.timezone.utc),
                 dt.date(2019, 2, 1), dt.date(2019, 3, 1))  # fmt: skip
    with pytest.raises(q.NoChargebackData, match="runs recorded: only-running v1 running"):
        q.tenant_summaries(seeded, "2019-02")
    assert q.run_info(seeded, "2019-02") is None


def test_tenant_summaries_exact(seeded):
    summaries = {s.tenant: s for s in q.tenant_summaries(seeded, seed.MONTH, budgets={"acme": D("100"), "globex": None})}
    assert {t: s.cost for t, s in summaries.items()} == seed.TOTAL
    assert sum((s.cost for s in summaries.values()), D(0)) == seed.FLEET_TOTAL
    acme = summaries["acme"]
    assert acme.currency == "USD"
    assert acme.gpu_hours == seed.ACME_GPU_HOURS
    assert acme.idle_gpu_hours == seed.ACME_IDLE_GPU_HOURS
    assert acme.idle_share == D("0.1141")  # 5.5 / 48.2
    assert acme.tokens.model_dump() == seed.ACME_TOKENS
    assert acme.tokens.total == 181000 + 114500
    assert acme.cost_per_1m_tokens == D("268.3587")  # 79.30 / 295,500 x 1e6
    assert acme.idle_cost == D("8.55")
    assert acme.adjustment_cost == D("0.50")
    assert (acme.budget, acme.budget_used) == (D("100"), D("0.7930"))
    assert summaries["globex"].budget is None and summaries["globex"].budget_used is None
    assert acme.slo is None  # no SLO specs: "n/a"
    by_line = {(line.deployment, line.model): line for line in acme.lines}
    assert by_line[("acme-dedicated", "mistral-7b")].cost == D("43.80")
    assert by_line[("acme-dedicated", "mistral-7b")].gpu_hours == D("34")
    assert by_line[("llama-shared", "llama-70b")].cost == D("35.50")
    assert sum((line.cost for line in acme.lines), D(0)) == acme.cost
    assert summaries["mystery"].issues == ("unknown-tenant",)
    assert summaries["(idle)"].idle_share == D("1.0000") and summaries["(idle)"].cost_per_1m_tokens is None


def test_tenant_filter_returns_only_that_tenant(seeded):
    lines = q.cost_lines(seeded, seed.MONTH, "globex")
    assert {line.tenant for line in lines} == {"globex"}
    assert sum((line.cost for line in lines), D(0)) == seed.TOTAL["globex"]
    assert [m.model for m in q.model_breakdown(seeded, seed.MONTH, "globex")] == ["llama-70b", "gpt-4o"]
    assert {line.tenant for line in q.ledger_lines(seeded, seed.MONTH, "globex")} == {"globex"}
    assert q.issues(seeded, seed.MONTH, "globex") == []
    assert q.tenant_summary(seeded, seed.MONTH, "nobody") is None
    daily = q.daily_trend(seeded, seed.MONTH, "globex")
    assert sum((p.cost for p in daily), D(0)) == seed.TOTAL["globex"]


def test_daily_trend_every_day_adjustments_apart(seeded):
    daily = q.daily_trend(seeded, seed.MONTH)
    period = q.parse_month(seed.MONTH)
    assert [p.day for p in daily] == period.days()
    by_day = {p.day: p for p in daily}
    assert by_day[period.start].cost == D("74.05")
    assert by_day[period.start + dt.timedelta(days=1)].cost == D("11.00")
    assert by_day[period.start + dt.timedelta(days=19)].cost == D("15.00")
    assert by_day[period.start + dt.timedelta(days=2)].cost == 0
    fleet = q.fleet_totals(seeded, seed.MONTH)
    assert sum((p.cost for p in daily), D(0)) + fleet.adjustment_cost == seed.FLEET_TOTAL


def test_model_breakdown(seeded):
    models = q.model_breakdown(seeded, seed.MONTH)
    assert [(m.model, m.cost) for m in models] == [("llama-70b", D("51.50")), ("mistral-7b", D("43.80")), ("gpt-4o", D("5.25"))]
    assert sum((m.cost for m in models), D(0)) == seed.FLEET_TOTAL
    gpt = models[2]
    assert gpt.gpu_hours == 0 and gpt.tokens.input == 1_000_000 and gpt.tokens.output == 300_000
    assert gpt.cost_per_1m_tokens == D("4.0385")  # 5.25 / 1.3M tokens


def test_fleet_totals(seeded):
    fleet = q.fleet_totals(seeded, seed.MONTH, top=2)
    assert fleet.cost == seed.FLEET_TOTAL
    assert fleet.tenants == 3  # (idle) is no tenant
    assert fleet.deployments == 3
    assert fleet.separate_idle_cost == D("5.00")
    assert fleet.idle_cost == D("14.80")
    assert fleet.idle_gpu_hours == D("8")
    assert fleet.issue_lines == 1
    assert [(t.tenant, t.cost) for t in fleet.top_tenants] == [("acme", D("79.30")), ("globex", D("15.25"))]


def test_ledger_lines_keep_a_price_change_apart(seeded):
    lines = [
        line for line in q.ledger_lines(seeded, seed.MONTH, "acme")
        if line.deployment == "acme-dedicated" and line.resource == "gpu"
    ]  # fmt: skip
    assert [(line.unit_price, line.quantity, line.cost) for line in lines] == [
        (D("1.2"), D("20"), D("24.00")),
        (D("1.5"), D("10"), D("15.00")),
    ]
    start = q.parse_month(seed.MONTH).start
    assert (lines[1].period_start, lines[1].period_end) == (start + dt.timedelta(days=19), start + dt.timedelta(days=20))
    adjustment = [line for line in q.ledger_lines(seeded, seed.MONTH, "acme") if line.method == "adjustment"]
    assert len(adjustment) == 1 and adjustment[0].adjusts_run_id == "run-previous-v1"
    assert adjustment[0].period_start == start - dt.timedelta(days=2)
    daily = q.ledger_lines(seeded, seed.MONTH, daily=True)
    assert len(daily) == len(seed.LINES)
    assert sum((line.cost for line in daily), D(0)) == seed.FLEET_TOTAL


def test_issues(seeded):
    issues = q.issues(seeded, seed.MONTH)
    assert [(i.issue, i.tenant, i.deployment, i.cost, i.requests) for i in issues] == [
        ("unknown-tenant", "mystery", "llama-shared", D("1.00"), 3)
    ]


def test_a_run_mixing_currencies_is_an_error(store):
    seed.add_run(store, "mixed", 1, "complete", dt.datetime(2019, 2, 1, tzinfo=dt.timezone.utc), dt.date(2019, 1, 1),
                 dt.date(2019, 2, 1), finished=dt.datetime(2019, 2, 1, 1, tzinfo=dt.timezone.utc))  # fmt: skip
    store.insert_arrow("ledger", seed.ledger_table("mixed", seed.LINES[:1], dt.date(2019, 1, 1), "USD"))
    store.insert_arrow("ledger", seed.ledger_table("mixed", seed.LINES[1:2], dt.date(2019, 1, 1), "EUR"))
    from infermeter.errors import QueryError

    with pytest.raises(QueryError, match="mixes currencies EUR, USD"):
        q.tenant_summaries(store, "2019-01")


def test_efficiency(seeded):
    rows = {r.deployment: r for r in q.efficiency(seeded, seed.MONTH)}
    assert set(rows) == {"llama-shared", "acme-dedicated", "gpt-api"}
    shared = rows["llama-shared"]
    assert shared.gpus == 2 and shared.gpu_models == ("H100",)
    assert shared.held_gpu_seconds == 7200  # the replayed heartbeat batch counts once
    assert shared.covered_gpu_seconds == 5400  # GPU-b has telemetry for half the hour
    assert shared.busy_gpu_seconds == pytest.approx(2250)  # 3600 x 0.50 + 1800 x 0.25 (PROF beats GPU_UTIL)
    assert shared.busy_share == pytest.approx(2250 / 5400)
    assert shared.telemetry == "DCGM_FI_DEV_GPU_UTIL, DCGM_FI_PROF_GR_ENGINE_ACTIVE"
    assert shared.gpu_cost == D("51.00")  # adjustments excluded
    assert shared.idle_cost == D("29.75")  # 51.00 x (1 - 2250/5400)
    assert shared.ledger_idle_gpu_hours == D("4") and shared.ledger_idle_cost == D("10.00")
    dedicated = rows["acme-dedicated"]
    assert dedicated.held_gpu_seconds == 900  # half a GPU (MIG) for 30 minutes
    assert dedicated.busy_share == pytest.approx(1.0)
    assert dedicated.telemetry == "infermeter_gpu_utilization_percent"
    assert dedicated.idle_cost == D("0.00")
    assert dedicated.cost_per_1m_tokens == D("208.5714")
    api = rows["gpt-api"]
    assert api.held_gpu_seconds == 0 and api.busy_share is None and api.idle_cost is None
    assert api.cost == D("5.25") and api.gpu_cost == D("0.00")
    only = q.efficiency(seeded, seed.MONTH, "llama-shared")
    assert [r.deployment for r in only] == ["llama-shared"]


def test_efficiency_without_a_run(seeded):
    rows = {r.deployment: r for r in q.efficiency(seeded, seed.MONTH, run=False)}
    assert set(rows) == {"llama-shared", "acme-dedicated"}
    assert rows["llama-shared"].gpu_cost is None and rows["llama-shared"].idle_cost is None
    assert rows["llama-shared"].busy_share == pytest.approx(2250 / 5400)
    assert q.efficiency(seeded, "2019-01") == []


def test_slo_column_is_na_without_specs(seeded):
    assert q.slo_by_tenant(seeded, seed.MONTH, None) is None
