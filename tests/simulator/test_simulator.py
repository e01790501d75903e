"""The fleet simulator: deterministic traffic, upstream-shaped pages, live HTTP, OTel spans."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict

import numpy as np
import pytest
from aiohttp import ClientSession, web
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from infermeter.exporters.exposition import parse
from infermeter.simulator.fleet import default_fleet
from infermeter.simulator.gateway import TENANT_ATTR, Gateway
from infermeter.simulator.history import allocation_table, pages, usage_table
from infermeter.simulator.server import LiveSimulator
from infermeter.simulator.targets import FleetTargets
from infermeter.simulator.traffic import requests_between
from tests.support import run_cli, shared_dir

T0 = 1_790_000_000.0  # a Tuesday, 2026-09-22


@pytest.fixture(scope="module")
def fleet():
    return default_fleet(7)


def test_same_seed_same_traffic_however_the_range_is_cut(fleet):
    whole = requests_between(fleet, T0, T0 + 5400)
    parts = [requests_between(fleet, T0, T0 + 1000), requests_between(fleet, T0 + 1000, T0 + 5400)]
    assert len(whole) == sum(len(p) for p in parts) > 100
    assert np.array_equal(whole.ts, np.concatenate([p.ts for p in parts]))
    assert whole.event_ids(fleet.seed) == parts[0].event_ids(fleet.seed) + parts[1].event_ids(fleet.seed)
    other = requests_between(default_fleet(8), T0, T0 + 5400)
    assert len(other) != len(whole) or not np.array_equal(other.ts, whole.ts)


def test_traffic_has_a_daily_cycle_and_uses_every_tenant(fleet):
    day = requests_between(fleet, T0 - T0 % 86400, T0 - T0 % 86400 + 86400)
    hours = np.bincount(((day.ts % 86400) // 3600).astype(int), minlength=24)
    assert hours[13:16].mean() > 2.5 * hours[0:4].mean()  # peak at 14:00 UTC
    assert set(np.unique(day.tenant)) == set(range(len(fleet.tenants)))
    assert (day.cached_tokens <= day.input_tokens).all()


def _families(text: str) -> dict[str, tuple[str, set[str], tuple[str, ...]]]:
    """family -> (type, label names, bucket bounds) of a page."""
    result = parse(text)
    out: dict[str, tuple[str, set[str], tuple[str, ...]]] = {}
    buckets: dict[str, list[str]] = defaultdict(list)
    for s in result.samples:
        ref = result.family_of(s.name)
        fam, type_ = ref.family, ref.type
        names = {k for k in s.labels if k != "le"}
        prev = out.get(fam)
        out[fam] = (type_, names | (prev[1] if prev else set()), ())
        if "le" in s.labels and s.labels["le"] not in buckets[fam]:
            buckets[fam].append(s.labels["le"])
    return {f: (t, n, tuple(float(b) for b in buckets.get(f, []))) for f, (t, n, _) in out.items()}


def test_vllm_and_dcgm_pages_match_the_upstream_pages(fleet):
    fixtures = shared_dir() / "fixtures" / "exposition"
    upstream_vllm = _families((fixtures / "vllm_metrics_sample_v0.33.0_synthetic.prom").read_text())
    upstream_dcgm = _families((fixtures / "dcgm_exporter_sample_k8s_rtx4000ada.prom").read_text())
    targets = FleetTargets.build(fleet)
    targets.observe(requests_between(fleet, T0 - 600, T0), 600.0, T0)
    checked = 0
    for target in targets.all():
        upstream = {"vllm": upstream_vllm, "dcgm": upstream_dcgm}.get(target.kind)
        if upstream is None:
            continue
        for fam, (type_, labels, bounds) in _families(target.render().decode()).items():
            assert fam in upstream, f"{target.name}: {fam} is not an upstream {target.kind} metric"
            up_type, up_labels, up_bounds = upstream[fam]
            assert type_ == up_type, fam
            mig = {"GPU_I_PROFILE", "GPU_I_ID"}  # dcgm-exporter adds these for MIG instances
            assert labels - mig == up_labels, fam
            assert bounds == up_bounds, fam
            checked += 1
    assert checked > 40


def test_triton_page_uses_the_documented_names_without_total(fleet):
    documented = set(re.findall(r"`(nv_[a-z_]+)`", (shared_dir() / "reference" / "triton_metrics_upstream.md").read_text()))
    targets = FleetTargets.build(fleet)
    targets.observe(requests_between(fleet, T0 - 600, T0), 600.0, T0)
    triton = next(t for t in targets.all() if t.kind == "triton")
    result = parse(triton.render().decode())
    assert result.ok
    names = {s.name for s in result.samples}
    assert names <= documented
    assert not any(n.endswith("_total") for n in names)
    assert {"nv_inference_count", "nv_inference_exec_count", "nv_inference_request_failure"} <= names


def test_pages_agree_with_usage_rows(fleet):
    start, step = T0 - 3 * 3600, 900
    *_, (ts, last) = pages(fleet, start, T0, step)
    assert ts == T0
    req = requests_between(fleet, start, T0)
    usage = usage_table(fleet, req).to_pandas()
    served = usage[usage.instance.str.startswith(("llama", "coder", "mistral"))]
    total_success = 0.0
    prompt = 0.0
    for kind, name, page in last:
        if kind != "vllm":
            continue
        for s in parse(page.decode()).samples:
            if s.name == "vllm:request_success_total":
                total_success += s.value
            if s.name == "vllm:prompt_tokens_total":
                prompt += s.value
    done = served[(served.status_code == 200) | (served.status_code >= 500)]
    assert total_success == len(done)
    assert prompt == served.input_tokens.sum()


def test_allocation_heartbeats_cover_every_gpu_each_minute(fleet):
    table = allocation_table(fleet, T0, T0 + 3600).to_pandas()
    gpus = sum(len(i.gpus) for i in fleet.instances)
    assert len(table) == gpus * 60
    mig = table[table.mig_profile != ""]
    assert (mig.fraction == 0.5).all() and len(mig) == 60


def test_live_pages_over_http_and_gateway_spans(fleet):
    exporter = InMemorySpanExporter()
    gateway = Gateway(fleet, exporter)
    sim = LiveSimulator(fleet, gateway=gateway, tick_s=3600)
    sim.last = T0 - 120

    async def scenario():
        runner = web.AppRunner(sim.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with ClientSession() as http:
                targets = await (await http.get(f"http://127.0.0.1:{port}/targets")).json()
                before = await (await http.get(f"http://127.0.0.1:{port}{targets[0]['path']}")).text()
                n = sim.tick(T0)
                after = await (await http.get(f"http://127.0.0.1:{port}{targets[0]['path']}")).text()
                missing = await http.get(f"http://127.0.0.1:{port}/metrics/nope")
                return targets, before, after, n, missing.status
        finally:
            await runner.cleanup()

    targets, before, after, n, missing = asyncio.run(scenario())
    assert {t["kind"] for t in targets} == {"vllm", "triton", "dcgm"}
    assert missing == 404

    def count(text):
        return sum(s.value for s in parse(text).samples if s.name == "vllm:request_success_total")

    assert count(after) > count(before) == 0
    gateway.flush()
    spans = exporter.get_finished_spans()
    assert len(spans) == n > 0
    span = spans[0]
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes[TENANT_ATTR] in {t.name for t in fleet.tenants}
    assert span.end_time >= span.start_time


def test_cli_lists_targets_and_rejects_a_bad_fleet(tmp_path):
    ok = run_cli("simulate", "--list-targets")
    assert ok.returncode == 0 and '"kind": "dcgm"' in ok.stdout
    bad = tmp_path / "fleet.yaml"
    bad.write_text("tenants: []\ndeployments:\n  - {name: a, server: vllm, model: m, tenant: ghost}\n")
    res = run_cli("simulate", "--fleet", str(bad), "--list-targets")
    assert res.returncode == 2
    assert "fleet.yaml" in res.stderr and "ghost" in res.stderr
