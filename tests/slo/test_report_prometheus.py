"""The same synthetic traffic in Prometheus and in ClickHouse gives the same SLI.

Prometheus: the real Debian ``prometheus`` serving TSDB blocks backfilled with ``promtool tsdb
create-blocks-from openmetrics``, queried over loopback with each SLO's own PromQL
(``error / total``, ``{{.window}}`` = the report window) at the end of the window.
ClickHouse: ``slo report`` over the same counters stored as samples (and the same requests as
usage events).

Tolerance, stated: Prometheus' ``increase()`` extrapolates each series to the window's edges, by
at most one scrape interval on each side, and not the same way for every series (a series at 0
at the window's start is not extrapolated towards it). So the two error ratios may differ by a
factor of at most ``(covered + interval) / covered`` on each of the error and the total sums;
the test allows a relative difference of ``2 * interval / covered`` (``covered``: the part of the
window with data). The report's own event counts are checked exactly against the requests.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from infermeter.slo.model import EventsSLI, RawSLI
from infermeter.slo.promql import render_window
from infermeter.slo.report import MISSED, NO_DATA, build_report, load_slos
from infermeter.slo.report_plan import ReportWindow, Source, month_window, plan_report, rolling_window
from infermeter.slo.service import Settings
from tests.slo.report_traffic import TENANTS, Traffic, insert, make_traffic, openmetrics
from tests.support import backfilled_prometheus

UTC = dt.timezone.utc

SPECS = """\
version: infermeter/v1
service: gateway
slos:
  - name: availability
    objective: 99
    template: gateway-availability
    group_by: [tenant]
    alerting: {name: GatewayAvailability}
  - name: latency
    objective: 90
    template: gateway-latency
    params: {threshold: 1}
    group_by: [tenant]
    alerting: {name: GatewayLatency}
  - name: ttft
    objective: 95
    template: gateway-ttft
    params: {threshold: 0.5}
    alerting: {name: GatewayTTFT}
---
version: infermeter/v1
service: engines
slos:
  - name: vllm-availability
    objective: 99.5
    template: vllm-availability
    alerting: {name: VllmErrors}
  - name: triton-availability
    objective: 99
    template: triton-availability
    alerting: {name: TritonErrors}
---
version: prometheus/v1
service: sloth-style
slos:
  - name: events-increase
    objective: 99.5
    sli:
      events:
        error_query: sum(increase(infermeter_gateway_requests_total{status_class=~"5.."}[{{.window}}]))
        total_query: sum(increase(infermeter_gateway_requests_total[{{.window}}]))
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
  - name: raw-good-over-total
    objective: 99
    sli:
      raw:
        error_ratio_query: |
          1 - (
            sum by (tenant) (rate(infermeter_gateway_requests_total{status_class!="5xx"}[{{.window}}]))
            /
            sum by (tenant) (rate(infermeter_gateway_requests_total[{{ .window }}]))
          )
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
"""


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    hour = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return make_traffic(hour - dt.timedelta(hours=6), hours=4)


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("specs") / "slos.yaml"
    path.write_text(SPECS, encoding="utf-8")
    return path


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str, at: float) -> dict[tuple[tuple[str, str], ...], float]:
        qs = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=30) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            pytest.fail(f"prometheus rejected {expr!r}: {exc.read().decode(errors='replace')}")
        assert body["status"] == "success", body
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]}


@pytest.fixture(scope="module")
def prometheus(traffic, tmp_path_factory):
    work = tmp_path_factory.mktemp("prometheus")
    (work / "traffic.om").write_text(openmetrics(traffic), encoding="utf-8")
    with backfilled_prometheus(work / "traffic.om", work, scrape_interval="15s") as url:
        yield Prometheus(url)


def _promql(sli, window_ms: int) -> str:
    w = f"{window_ms}ms"
    if isinstance(sli, EventsSLI):
        return f"({render_window(sli.error_query, w)}) / ({render_window(sli.total_query, w)})"
    assert isinstance(sli, RawSLI)
    return render_window(sli.error_ratio_query, w)


def _windows(traffic: Traffic) -> dict[str, ReportWindow]:
    # unaligned on both ends: the report reads raw samples, minute and hour rollups
    unaligned_end = traffic.start + dt.timedelta(hours=3, minutes=37, seconds=29, milliseconds=500)
    return {
        "rolling-3h-unaligned": rolling_window("3h", unaligned_end),
        "rolling-95m": rolling_window("95m", traffic.start + dt.timedelta(hours=2, minutes=1)),
        "month": month_window(dt.datetime.now(UTC).strftime("%Y-%m"), dt.datetime.now(UTC)),
    }


def _expected(traffic: Traffic, window: ReportWindow, tenant: str) -> tuple[int, int, int]:
    """(requests, 5xx, slower than 1s) of a tenant in the window, from the requests themselves."""
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    events = [e for e in traffic.events if e["tenant"] == tenant and start <= e["ts"] < end]
    return (len(events), sum(e["status_code"] >= 500 for e in events),
            sum(e["duration_ms"] > 1000.0 for e in events))


@pytest.mark.parametrize("which", ["rolling-3h-unaligned", "rolling-95m", "month"])
def test_report_sli_equals_prometheus(which, store, traffic, specs, prometheus):
    insert(store, traffic)
    window = _windows(traffic)[which]
    slos, _ = load_slos(specs, Settings())
    plan, skipped = plan_report(slos, window, Source.SAMPLES)
    assert not skipped
    report = build_report(store, plan)

    covered = (min(window.end, traffic.end) - max(window.start, traffic.start)).total_seconds()
    rel_tol = 2 * traffic.interval_s / covered
    at = window.end.timestamp() - 0.001  # Prometheus 2 ranges are closed: [end - w, end) in ms
    window_ms = round(window.seconds * 1000)
    by_slo: dict[str, dict] = {}
    for row in report.rows:
        by_slo.setdefault(row.slo_id, {})[tuple(sorted(row.group.items()))] = row
    compared = 0
    for slo_plan in plan.slos:
        prom = prometheus.query(_promql(slo_plan.slo.sli, window_ms), at)
        rows = by_slo[slo_plan.slo.id]
        with_data = {k: r for k, r in rows.items() if r.status != NO_DATA}
        assert set(with_data) == {k for k, v in prom.items() if not math.isnan(v)}, slo_plan.slo.id
        for key, row in with_data.items():
            assert row.error_ratio == pytest.approx(prom[key], rel=rel_tol, abs=1e-12), (slo_plan.slo.id, key)
            compared += 1
    assert compared >= 12

    # exact counts against the requests themselves
    for tenant in TENANTS:
        total, errors, slow = _expected(traffic, window, tenant)
        avail = by_slo["gateway-availability"][(("tenant", tenant),)]
        lat = by_slo["gateway-latency"][(("tenant", tenant),)]
        assert (avail.total, avail.errors) == (total, errors)
        assert (lat.total, lat.errors) == (total, slow)
        assert total > 100

    # the gateway templates from usage events (duplicates collapse): the same counts
    usage_plan, _ = plan_report(slos, window, Source.AUTO)
    usage_rows = build_report(store, usage_plan).rows
    sources = {r.slo_id: r.source for r in usage_rows}
    assert sources["gateway-availability"] == "usage" and sources["engines-vllm-availability"] == "samples"
    for row in usage_rows:
        if row.source == "usage":
            twin = by_slo[row.slo_id][tuple(sorted(row.group.items()))]
            assert (row.total, row.errors, row.status) == (twin.total, twin.errors, twin.status)

    # the rollups give exactly what the raw samples give
    raw_plan, _ = plan_report(slos, window, Source.SAMPLES, rollups=False)
    raw_rows = build_report(store, raw_plan).rows
    assert [(r.slo_id, r.group, r.total, r.errors) for r in raw_rows] == [
        (r.slo_id, r.group, r.total, r.errors) for r in report.rows
    ]
    # globex burns its budget (4% 5xx against 1%), acme does not
    assert by_slo["gateway-availability"][(("tenant", "globex"),)].status == MISSED
    assert by_slo["gateway-availability"][(("tenant", "acme"),)].status == "met"
