"""The NVML collector, against a double of the pynvml module (the only double: NVML needs hardware)."""

from __future__ import annotations

import logging

import pytest

from infermeter.exporters import conventions as c
from infermeter.exporters.edge import EdgeState
from infermeter.exporters.nvml import NvmlCollector, nvml_family
from tests.exporters.fake_nvml import FakeGpu, FakeMig, FakeNvml

UUID0 = "GPU-11111111-2222-3333-4444-555555555555"
UUID1 = "GPU-66666666-7777-8888-9999-000000000000"


def values(snapshot) -> dict[tuple[str, frozenset], float]:
    return {(name, frozenset(labels)): value for name, labels, value, _ in snapshot.samples}


def test_every_reading_of_a_gpu_with_units_converted():
    fake = FakeNvml([FakeGpu(UUID0, processes=[(4242, 30 << 30), (4343, None)])], process_names={4242: "/usr/bin/python3"})
    collector = NvmlCollector(fake)
    assert collector.start() and collector.driver == "580.95.05"
    snap = collector.collect()
    base = frozenset({("gpu", "0"), ("uuid", UUID0), ("model", "NVIDIA H100 80GB HBM3")})
    got = values(snap)
    assert got[(c.GPU_UTILIZATION, base)] == 87
    assert got[(c.GPU_MEMORY_UTILIZATION, base)] == 40
    assert got[(c.GPU_MEMORY_USED, base)] == 60 << 30
    assert got[(c.GPU_MEMORY_TOTAL, base)] == 80 << 30
    assert got[(c.GPU_POWER, base)] == pytest.approx(312.456)
    assert got[(c.GPU_ENERGY, base)] == pytest.approx(455_497.156)  # mJ -> J
    assert got[(c.GPU_TEMPERATURE, base)] == 48
    assert got[(c.GPU_SM_CLOCK, base)] == 1980e6
    proc = base | {("pid", "4242"), ("process", "python3")}
    assert got[(c.GPU_PROCESS_MEMORY, proc)] == 30 << 30
    assert not [k for k in got if ("pid", "4343") in k[1]]  # memory not reported: no sample
    assert snap.errors == 0 and not snap.gpus[0].mig_enabled
    for _, labels, _, _ in snap.samples:
        assert list(labels) == sorted(labels)


def test_mig_instances_with_profile_names_and_fractions():
    mig = [FakeMig("MIG-aaaa", 3, 40192, gi=1), FakeMig("MIG-bbbb", 1, 9856, gi=9)]
    collector = NvmlCollector(FakeNvml([FakeGpu(UUID0, mig=mig)]))
    collector.start()
    snap = collector.collect()
    gpu = snap.gpus[0]
    assert gpu.mig_enabled
    assert [(m.uuid, m.profile, m.fraction, m.gpu_instance) for m in gpu.mig] == [
        ("MIG-aaaa", "3g.40gb", pytest.approx(3 / 7), 1),
        ("MIG-bbbb", "1g.10gb", pytest.approx(1 / 7), 9),
    ]
    got = values(snap)
    labels = frozenset(
        {("gpu", "0"), ("uuid", UUID0), ("model", "NVIDIA H100 80GB HBM3"), ("mig_uuid", "MIG-aaaa"), ("mig_profile", "3g.40gb"), ("gpu_instance", "1")}
    )
    assert got[(c.GPU_MIG_MEMORY_TOTAL, labels)] == 40192 << 20
    assert got[(c.GPU_MIG_FRACTION, labels)] == pytest.approx(3 / 7)


def test_no_driver_is_said_once_and_the_collector_stays_disabled(caplog):
    fake = FakeNvml(driver=False)
    collector = NvmlCollector(fake)
    with caplog.at_level(logging.WARNING):
        assert collector.start() is False
        assert collector.start() is False
        assert collector.collect() is None
    messages = [r.getMessage() for r in caplog.records if "NVML" in r.getMessage()]
    assert len(messages) == 1 and "disabled" in messages[0] and "Library Not Found" in messages[0]
    assert fake.calls.count("nvmlInit") == 1


def test_unsupported_readings_are_skipped_and_a_lost_gpu_does_not_stop_the_others(caplog):
    fake = FakeNvml([FakeGpu(UUID0, unsupported={"power", "energy"}, lost=True), FakeGpu(UUID1, unsupported={"power"})])
    collector = NvmlCollector(fake)
    collector.start()
    with caplog.at_level(logging.WARNING):
        snap = collector.collect()
        collector.collect()
    names = {name for name, labels, _, _ in snap.samples if ("uuid", UUID1) in labels}
    assert c.GPU_POWER not in names and c.GPU_ENERGY in names and c.GPU_UTILIZATION in names
    assert snap.errors == 1  # the lost GPU; "not supported" is not an error
    assert len([r for r in caplog.records if "GPU is lost" in r.getMessage()]) == 1  # logged once


def test_energy_is_a_counter_whose_delta_is_the_energy_of_each_interval():
    gpu = FakeGpu(UUID0)
    collector = NvmlCollector(FakeNvml([gpu]))
    collector.start()
    state = EdgeState("nvml", "nvml", ())
    deltas = []
    for tick in range(3):
        snap = collector.collect()
        batch = state.process(snap.samples, nvml_family, tick * 15_000)
        sid = state.series_id_of(c.GPU_ENERGY, next(s[1] for s in snap.samples if s[0] == c.GPU_ENERGY))
        rows = batch.samples.to_pydict()
        deltas.append(rows["delta"][rows["series_id"].index(sid)])
        gpu.energy_mj += 4_500_000  # 4.5 kJ per 15 s: 300 W
    assert deltas == [0.0, 4500.0, 4500.0]
