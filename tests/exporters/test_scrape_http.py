"""Scrapers against real HTTP servers on loopback, into a real store.

Pages: the upstream captures in shared/fixtures/exposition (read in place) and live shapes of
vLLM (a prometheus_client registry), Triton and DCGM whose values change between scrapes,
restarts (counter resets) included. The store must end up with ``sum(delta)`` equal to what the
counters really counted after the first scrape.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import aiohttp
import pytest

from infermeter.exporters import conventions as c
from infermeter.exporters.config import ExporterConfig
from infermeter.exporters.scrape import TargetScraper
from infermeter.exporters.selfmetrics import SidecarMetrics
from infermeter.ingest.runtime import open_writer
from tests.exporters.scrape_servers import DcgmShape, PageServer, TritonShape, VllmShape, free_port
from tests.support import shared_dir

ENV = {c.POD_NAME_ENV: "vllm-7d4b9c6f8-x2k4q", c.POD_NAMESPACE_ENV: "llm", c.NODE_NAME_ENV: "node-1"}
# A whole minute an hour ago (a tick of every interval used here; within the raw-samples TTL).
T0 = (time.time_ns() // 60_000_000_000 - 60) * 60_000


def targets(*specs: dict) -> list:
    return ExporterConfig.model_validate({"targets": list(specs), "scrape": {"jitter_s": 0}}).targets


@pytest.fixture
def writer(store, settings_for):
    w = open_writer(settings_for(store.database), store, "scrape-test", background=False)
    yield w
    w.close()


def scrape_rounds(scrapers, rounds: int, between=None, start: int = 0) -> list:
    """Scrape every target ``rounds`` times, one interval apart; ``between(i)`` runs before round i."""

    async def go():
        reports = []
        async with aiohttp.ClientSession() as session:
            for i in range(start, start + rounds):
                if between is not None:
                    between(i)
                for s in scrapers:
                    reports.append(await s.scrape(session, None, T0 + i * 15_000))
        return reports

    return asyncio.run(go())


def increases(store, target: str) -> dict[tuple[str, tuple], float]:
    """sum(delta) per (metric, labels without the added ones) for a target's cumulative series."""
    rows = store.query_rows(
        """
        SELECT s.metric, s.labels, sum(x.delta)
        FROM samples AS x
        INNER JOIN (
            SELECT series_id, any(metric) AS metric, any(labels) AS labels
            FROM series WHERE target = {t:String} GROUP BY series_id
        ) AS s ON s.series_id = x.series_id
        GROUP BY s.metric, s.labels
        """,
        {"t": target},
    )
    added = {"target", "pod", "namespace", "node"}
    out = {}
    for metric, labels, total in rows:
        page = tuple(sorted((k, v) for k, v in dict(labels).items() if k not in added))
        out[(metric, page)] = total
    return out


def test_vllm_deltas_survive_a_restart_and_match_the_true_increase(store, writer):
    shape = VllmShape()
    with PageServer() as server:
        url = server.add("/metrics", shape.page)
        (cfg,) = targets({"name": "vllm-a", "kind": "vllm", "url": url})
        scraper = TargetScraper(cfg, writer, env=ENV)

        def between(i: int) -> None:
            if i == 0:
                shape.step(20)  # before the first scrape: not attributed (baseline)
                return
            if i == 1:
                shape.increase.totals.clear()  # count from the baseline on
            if i == 3:
                shape.restart()  # vLLM restarted: counters from zero
            shape.step(3 if i == 3 else 6)

        reports = scrape_rounds([scraper], 6, between)
    writer.flush()
    assert all(r.up for r in reports)
    assert reports[3].resets > 0
    got = increases(store, "vllm-a")
    expected = {(name, labels): total for (name, labels), total in shape.increase.totals.items()}
    for key, total in expected.items():
        assert got.get(key) == pytest.approx(total), key
    # Gauges and _created are stored without deltas / not at all.
    assert not [k for k in got if k[0].endswith("_created")]
    assert got[("vllm:num_requests_running", (("engine", "0"), ("model_name", shape.models[0])))] == 0


def test_series_rows_carry_source_target_and_kubernetes_labels(store, writer):
    shape = VllmShape(models=("m",))
    with PageServer() as server:
        (cfg,) = targets({"name": "vllm-b", "kind": "vllm", "url": server.add("/metrics", shape.page), "labels": {"cluster": "eu"}})
        scrape_rounds([TargetScraper(cfg, writer, env=ENV)], 2)
    writer.flush()
    rows = store.query_rows(
        "SELECT any(source), any(labels) FROM series WHERE target = 'vllm-b' AND metric = 'vllm:prompt_tokens_total' GROUP BY series_id"
    )
    assert len(rows) == 1
    source, labels = rows[0]
    assert source == "vllm"
    assert dict(labels) == {
        "model_name": "m",
        "engine": "0",
        "target": "vllm-b",
        "pod": "vllm-7d4b9c6f8-x2k4q",
        "namespace": "llm",
        "node": "node-1",
        "cluster": "eu",
    }
    ts = store.query_rows(
        "SELECT DISTINCT ts FROM samples WHERE series_id IN (SELECT series_id FROM series WHERE target = 'vllm-b') ORDER BY ts"
    )
    stamps = [int(t.replace(tzinfo=dt.timezone.utc).timestamp() * 1000) for (t,) in ts]
    assert stamps == [T0, T0 + 15_000]  # the ticks, not the time of the request


def test_triton_and_dcgm_counters_without_total_get_deltas(store, writer):
    triton, dcgm = TritonShape(), DcgmShape()
    with PageServer() as server:
        cfgs = targets(
            {"name": "triton", "kind": "triton", "url": server.add("/triton", triton.page)},
            {"name": "dcgm", "kind": "dcgm", "url": server.add("/dcgm", dcgm.page)},
        )
        scrapers = [TargetScraper(cfg, writer, env=ENV) for cfg in cfgs]

        def between(i: int) -> None:
            if i == 1:
                triton.increase.totals.clear()
                dcgm.increase.totals.clear()
            if i == 2:
                # Restarted and already lower than before (as Prometheus, a reset that climbs past
                # the previous value within one interval cannot be seen).
                triton.restart()
            if i:
                triton.step(requests=5 if i != 2 else 2, failures=3 if i != 2 else 1)
                dcgm.step(joules=300.0)

        scrape_rounds(scrapers, 4, between)
    writer.flush()
    got = increases(store, "triton")
    for key, total in triton.increase.totals.items():
        assert got[key] == pytest.approx(total), key
    dgot = increases(store, "dcgm")
    energy = {dict(k[1])["UUID"]: v for k, v in dgot.items() if k[0] == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"}
    assert energy == {dict(k[1])["UUID"]: v for k, v in dcgm.increase.totals.items()}
    # The blank field (a sentinel near 2**63) is never stored; Hostname is stored as hostname.
    assert not [k for k in dgot if k[0] == "DCGM_FI_DEV_MEMORY_TEMP"]
    labels = dict(next(k[1] for k in dgot if k[0] == "DCGM_FI_DEV_GPU_TEMP"))
    assert labels["hostname"] == "node-1" and "Hostname" not in labels
    assert labels["exported_pod"] == "vllm-7d4b9c6f8-x2k4q"  # the GPU user's pod, kept beside ours


@pytest.mark.parametrize(
    "name",
    ["vllm_metrics_sample_v0.33.0_synthetic.prom", "dcgm_exporter_sample_k8s_rtx4000ada.prom", "triton_docs_excerpt.txt"],
)
def test_upstream_pages_are_scraped_whole(store, writer, name):
    text = (shared_dir() / "fixtures" / "exposition" / name).read_text()
    kind = name.split("_")[0]
    with PageServer() as server:
        (cfg,) = targets({"name": f"fx-{kind}", "kind": kind, "url": server.add("/p", lambda: text), "keep_created": True})
        metrics = SidecarMetrics()
        scraper = TargetScraper(cfg, writer, env={}, metrics=metrics)
        (report,) = scrape_rounds([scraper], 1)
    assert report.up and report.parse_errors == 0
    from infermeter.exporters.exposition import parse

    page = parse(text)
    sentinels = sum(1 for s in page.samples if s.value >= c.DCGM_INT64_BLANK) if kind == "dcgm" else 0
    assert report.samples == len(page.samples)
    assert report.rows == len(page.samples) - sentinels + 3  # + up, scrape_duration_seconds, scrape_samples_scraped
    writer.flush()
    stored = store.query_scalar(
        "SELECT count() FROM samples WHERE series_id IN (SELECT series_id FROM series WHERE target = {t:String})",
        {"t": cfg.name},
    )
    assert stored == report.rows


def test_down_slow_and_broken_targets_give_up_zero_and_errors_and_scraping_goes_on(store, writer):
    shape = VllmShape(models=("m",))
    with PageServer() as server:
        specs = [
            {"name": "good", "kind": "vllm", "url": server.add("/good", shape.page)},
            {"name": "down", "url": f"http://127.0.0.1:{free_port()}/metrics"},
            {"name": "slow", "url": server.add("/slow", shape.page), "timeout_s": 0.3},
            {"name": "http500", "url": server.add("/err", shape.page)},
            {"name": "garbage", "url": server.add("/garbage", shape.page)},
            {"name": "binary", "url": server.add("/binary", shape.page)},
            {"name": "huge", "url": server.add("/huge", shape.page), "max_page_bytes": 100_000},
        ]
        server.routes["/slow"].mode, server.routes["/slow"].delay_s = "slow", 2.0
        server.routes["/err"].mode = "error"
        server.routes["/garbage"].mode = "garbage"
        server.routes["/binary"].mode = "binary"
        server.routes["/huge"].mode = "huge"
        metrics = SidecarMetrics()
        scrapers = [TargetScraper(cfg, writer, env={}, metrics=metrics) for cfg in targets(*specs)]

        def between(i: int) -> None:
            shape.step(2)
            if i == 1:
                server.routes["/slow"].mode = "ok"  # the slow one recovers

        reports = scrape_rounds(scrapers, 2, between)
    by = {(r.target, r.tick_ms): r for r in reports}
    first = {name: by[(name, T0)] for name in ("good", "down", "slow", "http500", "garbage", "binary", "huge")}
    assert first["good"].up
    assert {n: r.reason for n, r in first.items() if not r.up} == {
        "down": "connect",
        "slow": "timeout",
        "http500": "http_status",
        "garbage": "parse",
        "binary": "decode",
        "huge": "too_large",
    }
    assert by[("slow", T0 + 15_000)].up  # and the loop went on
    writer.flush()
    ups = dict(
        store.query_rows(
            """SELECT s.target, groupArray(x.value) FROM samples AS x
               INNER JOIN (SELECT series_id, any(target) AS target FROM series WHERE metric = 'up' GROUP BY series_id) AS s
               ON s.series_id = x.series_id GROUP BY s.target"""
        )
    )
    assert ups["down"] == [0.0, 0.0] and ups["good"] == [1.0, 1.0] and sorted(ups["slow"]) == [0.0, 1.0]
    registry = metrics.registry
    assert registry.get_sample_value(
        "infermeter_exporter_scrape_errors_total", {"target": "down", "reason": "connect"}
    ) == 2
    assert registry.get_sample_value("infermeter_exporter_target_up", {"target": "garbage"}) == 0
    assert registry.get_sample_value("infermeter_exporter_target_up", {"target": "good"}) == 1
    assert registry.get_sample_value("infermeter_exporter_scrapes_total", {"target": "huge"}) == 2


def test_a_page_with_a_few_bad_lines_keeps_the_rest(store, writer):
    text = "# TYPE a counter\na_total 1\nthis is not a sample\nb 2\n"
    with PageServer() as server:
        (cfg,) = targets({"name": "partial", "url": server.add("/p", lambda: text)})
        metrics = SidecarMetrics()
        (report,) = scrape_rounds([TargetScraper(cfg, writer, env={}, metrics=metrics)], 1)
    assert report.up and report.samples == 2 and report.parse_errors == 1
    assert metrics.registry.get_sample_value("infermeter_exporter_parse_errors_total", {"target": "partial"}) == 1
