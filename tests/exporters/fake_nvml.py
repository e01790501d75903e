"""A test double of the ``pynvml`` module (nvidia-ml-py): the NVML calls the collector makes.

The only double in the project: NVML needs an NVIDIA driver and GPU. It follows pynvml's
signatures, return structures (attribute names as in pynvml's ctypes structs) and errors
(``NVMLError`` with ``.value``), and reads a small description of the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

NVML_SUCCESS = 0
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
NVML_DEVICE_MIG_ENABLE = 1
NVML_DEVICE_MIG_DISABLE = 0
NVML_GPU_INSTANCE_PROFILE_COUNT = 4

_MESSAGES = {
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
}


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML error {self.value}")


@dataclass
class FakeMig:
    uuid: str
    slices: int
    memory_mb: int
    gi: int
    used: int = 1 << 30


@dataclass
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    util: int = 87
    mem_util: int = 40
    used: int = 60 << 30
    total: int = 80 << 30
    power_mw: int = 312_456
    energy_mj: int = 455_497_156
    temp: int = 48
    sm_mhz: int = 1980
    processes: list[tuple[int, int | None]] = field(default_factory=list)
    mig: list[FakeMig] | None = None
    unsupported: set[str] = field(default_factory=set)
    lost: bool = False


# H100 80GB GPU-instance profiles: (slices, memory MB, name)
H100_PROFILES = [(1, 9856, "MIG 1g.10gb"), (2, 20096, "MIG 2g.20gb"), (3, 40192, "MIG 3g.40gb"), (7, 80896, "MIG 7g.80gb")]


class FakeNvml:
    """Behaves as the ``pynvml`` module on a machine with ``gpus`` (or without a driver)."""

    NVMLError = NVMLError

    def __init__(self, gpus: list[FakeGpu] | None = None, *, driver: bool = True, process_names: dict[int, str] | None = None):
        self.gpus = gpus or []
        self.driver = driver
        self.process_names = process_names or {}
        self.calls: list[str] = []
        self.initialised = False
        for name, value in globals().items():
            if name.startswith("NVML_"):
                setattr(self, name, value)

    def _log(self, name: str) -> None:
        self.calls.append(name)

    def _gpu(self, handle) -> FakeGpu:
        gpu = handle
        if not isinstance(gpu, FakeGpu):
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        if gpu.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return gpu

    def _check(self, gpu: FakeGpu, what: str) -> None:
        if what in gpu.unsupported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)

    # -- pynvml's functions

    def nvmlInit(self) -> None:
        self._log("nvmlInit")
        if not self.driver:
            raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self._log("nvmlShutdown")
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.95.05"

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetUUID(self, handle) -> str:
        if isinstance(handle, FakeMig):
            return handle.uuid
        return self._gpu(handle).uuid

    def nvmlDeviceGetName(self, handle) -> str:
        return self._gpu(handle).name

    def nvmlDeviceGetUtilizationRates(self, handle):
        gpu = self._gpu(handle)
        self._check(gpu, "util")
        return SimpleNamespace(gpu=gpu.util, memory=gpu.mem_util)

    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        if isinstance(handle, FakeMig):
            return SimpleNamespace(total=handle.memory_mb << 20, free=(handle.memory_mb << 20) - handle.used, used=handle.used)
        gpu = self._gpu(handle)
        return SimpleNamespace(total=gpu.total, free=gpu.total - gpu.used, used=gpu.used)

    def nvmlDeviceGetPowerUsage(self, handle) -> int:
        gpu = self._gpu(handle)
        self._check(gpu, "power")
        return gpu.power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle) -> int:
        gpu = self._gpu(handle)
        self._check(gpu, "energy")
        return gpu.energy_mj

    def nvmlDeviceGetTemperature(self, handle, sensor: int) -> int:
        assert sensor == NVML_TEMPERATURE_GPU
        return self._gpu(handle).temp

    def nvmlDeviceGetClockInfo(self, handle, clock: int) -> int:
        assert clock == NVML_CLOCK_SM
        return self._gpu(handle).sm_mhz

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        gpu = self._gpu(handle)
        return [SimpleNamespace(pid=pid, usedGpuMemory=used, gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF) for pid, used in gpu.processes]

    def nvmlSystemGetProcessName(self, pid: int) -> bytes:
        if pid not in self.process_names:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return self.process_names[pid].encode()

    def nvmlDeviceGetMigMode(self, handle):
        gpu = self._gpu(handle)
        if gpu.mig is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)  # a GPU without MIG
        return [NVML_DEVICE_MIG_ENABLE, NVML_DEVICE_MIG_ENABLE] if gpu.mig else [NVML_DEVICE_MIG_DISABLE, NVML_DEVICE_MIG_DISABLE]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index: int) -> FakeMig:
        gpu = self._gpu(handle)
        if not gpu.mig or index >= len(gpu.mig):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return gpu.mig[index]

    def nvmlDeviceGetAttributes(self, handle):
        assert isinstance(handle, FakeMig)
        return SimpleNamespace(gpuInstanceSliceCount=handle.slices, computeInstanceSliceCount=handle.slices, memorySizeMB=handle.memory_mb)

    def nvmlDeviceGetGpuInstanceId(self, handle) -> int:
        assert isinstance(handle, FakeMig)
        return handle.gi

    def nvmlDeviceGetGpuInstanceProfileInfo(self, handle, profile: int, version: int = 2):
        self._gpu(handle)
        slices, mem, name = H100_PROFILES[profile]
        return SimpleNamespace(id=profile, sliceCount=slices, memorySizeMB=mem, name=name.encode())
