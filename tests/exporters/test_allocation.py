"""GPU allocation heartbeats from configuration, NVML and DCGM labels, into the store."""

from __future__ import annotations

import time

import pytest

from infermeter.exporters import conventions as c
from infermeter.exporters.allocation import AllocationTracker, pod_deployment, profile_fraction
from infermeter.exporters.config import AllocationConfig
from infermeter.exporters.exposition import parse_series
from infermeter.exporters.nvml import NvmlCollector
from infermeter.ingest import conventions as tables
from infermeter.ingest import schemas
from infermeter.ingest.runtime import open_writer
from tests.exporters.fake_nvml import FakeGpu, FakeMig, FakeNvml
from tests.exporters.scrape_servers import DcgmShape
from tests.support import shared_dir

POD = "vllm-7d4b9c6f8-x2k4q"
ENV = {c.POD_NAME_ENV: POD}
T0 = (time.time_ns() // 60_000_000_000 - 60) * 60_000


def tracker(env=ENV, **cfg) -> AllocationTracker:
    return AllocationTracker(AllocationConfig(enabled=True, deployment="llama", **cfg), env=env, start_ms=T0)


def nvml_gpus(*gpus: FakeGpu):
    collector = NvmlCollector(FakeNvml(list(gpus)))
    collector.start()
    return collector.collect().gpus


def test_configured_gpus_beat_for_the_time_since_the_last_beat():
    t = tracker(gpus=[{"uuid": "GPU-1", "model": "NVIDIA A100-SXM4-80GB", "fraction": 0.5}], from_nvml=False)
    first = t.beat(T0 + 42_000)  # started 42 s before the first tick
    second = t.beat(T0 + 102_000)
    assert [(r["interval_s"], r["fraction"], r["instance"], r["deployment"], r["source"]) for r in first] == [
        (42.0, 0.5, POD, "llama", "config")
    ]
    assert second[0]["interval_s"] == 60.0
    assert t.beat(T0 + 102_000) == []  # no time passed, nothing held


def test_nvml_whole_gpus_time_slicing_and_mig_instances():
    t = tracker(time_slice_replicas=4)
    t.observe_nvml(nvml_gpus(FakeGpu("GPU-A"), FakeGpu("GPU-B", mig=[FakeMig("MIG-1", 3, 40192, 1), FakeMig("MIG-2", 2, 20096, 5)])))
    rows = {r["gpu_uuid"]: r for r in t.beat(T0 + 60_000)}
    assert rows["GPU-A"]["fraction"] == 0.25 and rows["GPU-A"]["mig_profile"] == ""
    assert rows["MIG-1"]["fraction"] == pytest.approx(3 / 7) and rows["MIG-1"]["mig_profile"] == "3g.40gb"
    assert rows["MIG-2"]["gpu_model"] == "NVIDIA H100 80GB HBM3" and rows["MIG-2"]["source"] == "nvml"
    assert "GPU-B" not in rows  # a GPU in MIG mode is held through its instances


def test_nvidia_visible_devices_narrows_what_nvml_shows():
    t = tracker(env={**ENV, "NVIDIA_VISIBLE_DEVICES": "GPU-B"})
    t.observe_nvml(nvml_gpus(FakeGpu("GPU-A"), FakeGpu("GPU-B")))
    assert [r["gpu_uuid"] for r in t.beat(T0 + 60_000)] == ["GPU-B"]


def test_dcgm_pod_attribution_own_pod_and_every_pod():
    dcgm = DcgmShape(gpus=2, pod=POD)
    other = DcgmShape(gpus=1, pod="embed-5f6d7c8b9-abcde")
    page = dcgm.page() + other.page().replace("gpu=\"0\"", "gpu=\"7\"").replace(dcgm.uuid(0), "GPU-other")
    samples = parse_series(page).samples
    own = tracker(dcgm_targets=["dcgm"], from_nvml=False)
    own.observe_dcgm("dcgm", samples)
    rows = own.beat(T0 + 60_000)
    assert sorted(r["gpu_uuid"] for r in rows) == [dcgm.uuid(0), dcgm.uuid(1)]
    assert {r["deployment"] for r in rows} == {"llama"} and {r["source"] for r in rows} == {"dcgm"}
    every = tracker(dcgm_targets=["dcgm"], from_nvml=False, own_pod_only=False)
    every.observe_dcgm("dcgm", samples)
    by_pod = {(r["deployment"], r["instance"], r["gpu_uuid"]) for r in every.beat(T0 + 60_000)}
    assert ("embed", "embed-5f6d7c8b9-abcde", "GPU-other") in by_pod
    assert ("vllm", POD, dcgm.uuid(1)) in by_pod


def test_dcgm_mig_profiles_give_fractions():
    dcgm = DcgmShape(gpus=1, pod=POD, mig_profile="2g.20gb")
    t = tracker(dcgm_targets=["dcgm"], from_nvml=False)
    t.observe_dcgm("dcgm", parse_series(dcgm.page()).samples)
    (row,) = t.beat(T0 + 60_000)
    assert row["gpu_uuid"] == f"{dcgm.uuid(0)}/1" and row["mig_profile"] == "2g.20gb"
    assert row["fraction"] == pytest.approx(2 / 7)


def test_the_upstream_dcgm_capture_attributes_its_gpu_to_its_pod():
    text = (shared_dir() / "fixtures/exposition/dcgm_exporter_sample_k8s_rtx4000ada.prom").read_text()
    t = tracker(env={c.POD_NAME_ENV: "cuda-75454ffb9f-8ljq7"}, dcgm_targets=["dcgm"], from_nvml=False)
    t.observe_dcgm("dcgm", parse_series(text).samples)
    (row,) = t.beat(T0 + 60_000)
    assert row["gpu_uuid"] == "GPU-a8394b51-c086-568a-9f1a-c1e1c934c44c"
    assert row["gpu_model"] == "NVIDIA RTX 4000 Ada Generation" and row["fraction"] == 1.0


def test_configuration_wins_over_discovery_for_the_same_gpu():
    t = tracker(gpus=[{"uuid": "GPU-A", "model": "H100", "fraction": 0.5}])
    t.observe_nvml(nvml_gpus(FakeGpu("GPU-A")))
    (row,) = t.beat(T0 + 60_000)
    assert (row["source"], row["fraction"]) == ("config", 0.5)


def test_helpers():
    assert pod_deployment("vllm-7d4b9c6f8-x2k4q") == "vllm"
    assert pod_deployment("triton-llama-0") == "triton-llama"
    assert pod_deployment("standalone") == "standalone"
    assert profile_fraction("1g.10gb", "NVIDIA H100") == pytest.approx(1 / 7)
    assert profile_fraction("2g.12gb", "NVIDIA A30") == 0.5
    assert profile_fraction("", "x") == 1.0


def test_heartbeats_land_in_gpu_allocation_and_add_up_to_gpu_seconds(store, settings_for):
    writer = open_writer(settings_for(store.database), store, "alloc-test", background=False)
    t = tracker(gpus=[{"uuid": "GPU-1", "model": "NVIDIA H100 80GB HBM3"}], time_slice_replicas=2)
    t.observe_nvml(nvml_gpus(FakeGpu("GPU-2")))
    for at in (T0 + 30_000, T0 + 90_000, T0 + 150_000, T0 + 163_500):  # the last: a graceful stop
        writer.write_rows(tables.GPU_ALLOCATION, t.beat(at), schemas.GPU_ALLOCATION)
    writer.close()
    held = dict(
        store.query_rows(
            "SELECT gpu_uuid, sum(interval_s * fraction) FROM gpu_allocation FINAL "
            "WHERE deployment = 'llama' GROUP BY gpu_uuid"
        )
    )
    assert held == {"GPU-1": pytest.approx(163.5), "GPU-2": pytest.approx(163.5 / 2)}
