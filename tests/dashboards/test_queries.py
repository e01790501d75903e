"""Every panel query of every generated dashboard runs and returns data, without Grafana.

PromQL targets run on a real Prometheus over a TSDB backfilled by promtool; ClickHouse targets run,
with the plugin's macros expanded by ``infermeter.dashboards.grafana.macros``, on chdb (and a
ClickHouse server where Docker answers). Each dashboard runs twice: with every variable on All, and
with chosen values (multi-value selections included), the values coming from the variables' own
queries. A target that returns nothing (or only zeros/NULLs from ClickHouse) fails the test.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana.common import iter_targets
from tests.dashboards import chdata
from tests.dashboards.conftest import END, SCRAPE_INTERVAL
from tests.dashboards.runner import Harness

pytestmark = [pytest.mark.system, pytest.mark.slow]


def _uuid(n: int) -> str:
    return f"GPU-{n:08x}-6a2b-4c1d-9e8f-{n:012x}"


CHOSEN = {
    c.UID_FLEET: {c.VAR_DEPLOYMENT: ["llama-8b", "triton-embed"], c.VAR_MODEL: ["first"], c.VAR_TENANT: ["acme"]},
    c.UID_SERVING: {c.VAR_DEPLOYMENT: ["llama-8b", "triton-embed"], c.VAR_MODEL: ["first"],
                    c.VAR_TRITON_MODEL: ["reranker"]},
    c.UID_GPU: {c.VAR_DEPLOYMENT: ["qwen-32b", "triton-embed"], c.VAR_GPU: [_uuid(2), _uuid(4)]},
    c.UID_SLOS: {c.VAR_SERVICE: ["llm-gateway"], c.VAR_SLO: ["tenant-availability"], c.VAR_TENANT: ["acme"]},
    c.UID_TENANT_COST: {c.VAR_TENANT: ["acme", "globex"], c.VAR_DEPLOYMENT: ["llama-8b"],
                        c.VAR_MODEL: ["llama-3.1-8b"]},
}


def _harness(prometheus, clickhouse) -> Harness:
    return Harness(prometheus=prometheus, clickhouse=clickhouse.query_arrow, now=END, scrape_interval=SCRAPE_INTERVAL)


def _check(h: Harness, dashboard: dict) -> None:
    expected = sum(1 for _ in iter_targets(dashboard))
    assert expected > 0
    ran = [o for o in h.outcomes]
    assert len(ran) == expected, f"{len(ran)} of {expected} targets ran"
    failures = h.failures()
    assert not failures, f"{len(failures)} of {expected} queries failed:\n" + "\n".join(f.describe() for f in failures)


@pytest.mark.parametrize("uid", list(c.TITLES))
@pytest.mark.parametrize("chosen", [False, True], ids=["all", "chosen"])
def test_every_target_returns_data(generated, prometheus, clickhouse, uid, chosen):
    h = _harness(prometheus, clickhouse)
    h.run_dashboard(generated[uid], CHOSEN[uid] if chosen else None)
    _check(h, generated[uid])


def test_tenant_cost_reads_the_latest_complete_run(generated, prometheus, clickhouse):
    """Totals equal the ledger oracle: February's v2 (not v1), March's complete v1 (not the running v2)."""
    h = _harness(prometheus, clickhouse)
    h.run_dashboard(generated[c.UID_TENANT_COST])
    (cost,), = h.result("Cost")
    assert Decimal(str(cost)) == chdata.expected_cost(dt.date(2025, 3, 1), END.date())
    budget = {row[0]: row[1] for row in h.result("Budget used (month of the range's end)")}
    march_acme = chdata.expected_cost(dt.date(2025, 3, 1), END.date(), "acme")
    assert budget["acme"] == pytest.approx(float(march_acme / chdata.BUDGETS["acme"]))
    assert budget["umbrella"] == 0  # a budget but no spend yet
    # GPU-hours include the idle ones; the idle share is idle / (busy + idle)
    (idle_share,), = h.result("Idle share")
    assert 0 < idle_share < 1


def test_chosen_tenant_narrows_the_totals(generated, prometheus, clickhouse):
    h = _harness(prometheus, clickhouse)
    h.run_dashboard(generated[c.UID_TENANT_COST], {c.VAR_TENANT: ["globex"]})
    (cost,), = h.result("Cost")
    assert Decimal(str(cost)) == chdata.expected_cost(dt.date(2025, 3, 1), END.date(), "globex")


def test_prometheus_panels_compute_what_they_say(generated, prometheus, clickhouse):
    h = _harness(prometheus, clickhouse)
    h.run_dashboard(generated[c.UID_SERVING])
    batch = h.result("Inferences vs executions (batching)", "C")
    assert {s["metric"]["model"] for s in batch} == {"bge-large", "reranker"}
    assert all(float(v) == pytest.approx(6.5, rel=1e-3) for s in batch for _, v in s["values"])
    h = _harness(prometheus, clickhouse)
    h.run_dashboard(generated[c.UID_SLOS])
    assert float(h.result("Firing SLO alerts")[0]["values"][-1][1]) == 1
    h = _harness(prometheus, clickhouse)
    h.run_dashboard(generated[c.UID_FLEET])
    at_risk = h.result("At-risk SLOs", "A")
    assert {(s["metric"]["sloth_slo"], s["metric"].get("tenant")) for s in at_risk} == {("tenant-availability", "acme")}
    h = _harness(prometheus, clickhouse)
    h.run_dashboard(generated[c.UID_GPU])
    assert float(h.result("GPUs")[0]["values"][-1][1]) == 6
    assert float(h.result("GPUs busy")[0]["values"][-1][1]) == 5
    assert float(h.result("GPUs with XID errors")[0]["values"][-1][1]) == 1
