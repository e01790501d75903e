"""GPU telemetry from the driver through NVML (nvidia-ml-py, imported as ``pynvml``).

Per GPU: utilisation (GPU and memory), memory used/total, power, total energy (a counter, so its
``delta`` is the energy of each interval), temperature, SM clock; per process: GPU memory; per
MIG instance: memory used/total and its share of the GPU. Names are in
:mod:`infermeter.exporters.conventions` (``infermeter_gpu_*``, source ``nvml``); every series has
the labels ``gpu`` (index), ``uuid`` and ``model``.

Where there is no driver (or no nvidia-ml-py) :meth:`NvmlCollector.start` says so once in the log
and the collector stays disabled; a call a GPU does not support is skipped quietly; any other
failing call is counted and logged once per GPU and call.

The ``nvml`` argument lets tests pass a double of the ``pynvml`` module (the only test double in
the project: NVML needs hardware).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from infermeter.exporters import conventions as c
from infermeter.exporters.exposition import FamilyRef, SeriesSample

log = logging.getLogger(__name__)

_FAMILIES = {name: FamilyRef(name, type_, "") for name, type_ in c.NVML_TYPES.items()}


def nvml_family(name: str) -> FamilyRef:
    """The family of an NVML sample name (for :class:`~infermeter.exporters.edge.EdgeState`)."""
    return _FAMILIES.get(name) or FamilyRef(name, "gauge", "")


@dataclass(slots=True)
class MigInstance:
    """A MIG instance visible to this process."""

    uuid: str
    profile: str
    slices: int
    max_slices: int
    gpu_instance: int | None
    memory_used: float | None = None
    memory_total: float | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.slices / self.max_slices) if self.max_slices > 0 else 1.0


@dataclass(slots=True)
class GpuInfo:
    """A GPU visible to this process, and its MIG instances when MIG is on."""

    index: int
    uuid: str
    model: str
    mig_enabled: bool = False
    mig: list[MigInstance] = field(default_factory=list)


@dataclass(slots=True)
class NvmlSnapshot:
    """One collection: the GPUs and the samples (``(name, labels, value, None)``, labels sorted)."""

    gpus: list[GpuInfo]
    samples: list[SeriesSample]
    errors: int = 0


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlCollector:
    """Reads NVML; disabled (``enabled`` False, ``reason`` set) where NVML cannot start."""

    def __init__(self, nvml: Any = None, *, per_process: bool = True) -> None:
        self._nvml = nvml
        self.per_process = per_process
        self.enabled: bool | None = None
        self.reason = ""
        self.driver = ""
        self._logged: set[tuple[str, str]] = set()
        self._profiles: dict[str, list[tuple[int, int, str]]] = {}

    # -- life cycle

    def start(self) -> bool:
        """Initialise NVML; False (logged once) where there is no driver."""
        if self.enabled is not None:
            return self.enabled
        nvml = self._nvml
        if nvml is None:
            try:
                import pynvml as nvml  # nvidia-ml-py
            except ImportError as exc:  # pragma: no cover - a dependency of the project
                return self._disable(f"nvidia-ml-py is not installed ({exc})")
            self._nvml = nvml
        try:
            nvml.nvmlInit()
        except Exception as exc:  # NVMLError (no library, no driver), OSError
            return self._disable(f"NVML is unavailable: {exc}")
        try:
            self.driver = _text(nvml.nvmlSystemGetDriverVersion())
        except Exception:
            self.driver = ""
        self.enabled = True
        log.info("NVML collector started (driver %s)", self.driver or "unknown")
        return True

    def _disable(self, reason: str) -> bool:
        self.enabled = False
        self.reason = reason
        log.warning("%s: GPU telemetry from NVML is disabled", reason)
        return False

    def close(self) -> None:
        if self.enabled:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self.enabled = None

    # -- collection

    def collect(self) -> NvmlSnapshot | None:
        """Read every GPU once; None when disabled."""
        if not self.enabled:
            return None
        nvml = self._nvml
        snap = NvmlSnapshot([], [])
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except Exception as exc:
            self._once("nvmlDeviceGetCount", "*", exc)
            snap.errors += 1
            return snap
        for index in range(count):
            try:
                self._gpu(index, snap)
            except Exception as exc:  # a GPU that fell off the bus, a driver error
                self._once("gpu", str(index), exc)
                snap.errors += 1
        return snap

    def _gpu(self, index: int, snap: NvmlSnapshot) -> None:
        nvml = self._nvml
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        uuid = _text(nvml.nvmlDeviceGetUUID(handle))
        model = _text(nvml.nvmlDeviceGetName(handle))
        gpu = GpuInfo(index, uuid, model)
        snap.gpus.append(gpu)
        base = (("gpu", str(index)), ("model", model), ("uuid", uuid))
        add = snap.samples.append

        def call(fn: str, *args: Any) -> Any:
            try:
                return getattr(nvml, fn)(*args)
            except Exception as exc:
                if getattr(exc, "value", None) != getattr(nvml, "NVML_ERROR_NOT_SUPPORTED", -1):
                    self._once(fn, uuid, exc)
                    snap.errors += 1
                return None

        util = call("nvmlDeviceGetUtilizationRates", handle)
        if util is not None:
            add((c.GPU_UTILIZATION, base, float(util.gpu), None))
            add((c.GPU_MEMORY_UTILIZATION, base, float(util.memory), None))
        mem = call("nvmlDeviceGetMemoryInfo", handle)
        if mem is not None:
            add((c.GPU_MEMORY_USED, base, float(mem.used), None))
            add((c.GPU_MEMORY_TOTAL, base, float(mem.total), None))
        power = call("nvmlDeviceGetPowerUsage", handle)
        if power is not None:
            add((c.GPU_POWER, base, power / 1000.0, None))
        energy = call("nvmlDeviceGetTotalEnergyConsumption", handle)
        if energy is not None:
            add((c.GPU_ENERGY, base, energy / 1000.0, None))
        temp = call("nvmlDeviceGetTemperature", handle, getattr(nvml, "NVML_TEMPERATURE_GPU", 0))
        if temp is not None:
            add((c.GPU_TEMPERATURE, base, float(temp), None))
        clock = call("nvmlDeviceGetClockInfo", handle, getattr(nvml, "NVML_CLOCK_SM", 1))
        if clock is not None:
            add((c.GPU_SM_CLOCK, base, clock * 1e6, None))
        if self.per_process:
            for proc in call("nvmlDeviceGetComputeRunningProcesses", handle) or ():
                used = getattr(proc, "usedGpuMemory", None)
                if used is None:  # not available (e.g. without the privilege, or under MIG)
                    continue
                labels = tuple(sorted(base + (("pid", str(proc.pid)), ("process", self._process_name(proc.pid)))))
                add((c.GPU_PROCESS_MEMORY, labels, float(used), None))
        mode = call("nvmlDeviceGetMigMode", handle)
        if mode is not None and mode[0] == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1):
            gpu.mig_enabled = True
            self._mig(handle, gpu, base, snap, call)

    def _mig(self, handle: Any, gpu: GpuInfo, base: tuple, snap: NvmlSnapshot, call: Any) -> None:
        nvml = self._nvml
        profiles = self._gpu_profiles(handle, gpu.uuid)
        max_slices = max((p[0] for p in profiles), default=0) or mig_slices_for(gpu.model)
        count = call("nvmlDeviceGetMaxMigDeviceCount", handle) or 0
        for j in range(int(count)):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, j)
            except Exception:
                continue  # no instance at this index (or not visible to this container)
            mig_uuid = _text(call("nvmlDeviceGetUUID", mig) or "")
            if not mig_uuid:
                continue
            attrs = call("nvmlDeviceGetAttributes", mig)
            slices = int(getattr(attrs, "gpuInstanceSliceCount", 0) or 0)
            mem_mb = int(getattr(attrs, "memorySizeMB", 0) or 0)
            profile = next((name for s, m, name in profiles if s == slices and m == mem_mb and name), "")
            if not profile and slices:
                profile = f"{slices}g.{round(mem_mb / 1024)}gb"
            gi = call("nvmlDeviceGetGpuInstanceId", mig)
            inst = MigInstance(mig_uuid, profile, slices or 1, max_slices, gi)
            mem = call("nvmlDeviceGetMemoryInfo", mig)
            labels = tuple(
                sorted(
                    base
                    + (("gpu_instance", "" if gi is None else str(gi)), ("mig_profile", profile), ("mig_uuid", mig_uuid))
                )
            )
            if mem is not None:
                inst.memory_used, inst.memory_total = float(mem.used), float(mem.total)
                snap.samples.append((c.GPU_MIG_MEMORY_USED, labels, inst.memory_used, None))
                snap.samples.append((c.GPU_MIG_MEMORY_TOTAL, labels, inst.memory_total, None))
            snap.samples.append((c.GPU_MIG_FRACTION, labels, inst.fraction, None))
            gpu.mig.append(inst)

    def _gpu_profiles(self, handle: Any, uuid: str) -> list[tuple[int, int, str]]:
        """(slices, memory MB, name) of each GPU-instance profile this GPU supports (cached)."""
        if uuid in self._profiles:
            return self._profiles[uuid]
        nvml = self._nvml
        out: list[tuple[int, int, str]] = []
        for p in range(int(getattr(nvml, "NVML_GPU_INSTANCE_PROFILE_COUNT", 0))):
            try:
                info = nvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, p)
            except Exception:
                continue
            name = _text(getattr(info, "name", b"") or b"")
            # NVML names them "MIG 1g.10gb"; the profile is the last word.
            out.append((int(info.sliceCount), int(info.memorySizeMB), name.split()[-1] if name else ""))
        self._profiles[uuid] = out
        return out

    def _process_name(self, pid: int) -> str:
        try:
            name = _text(self._nvml.nvmlSystemGetProcessName(pid))
        except Exception:
            return ""
        return name.rsplit("/", 1)[-1]

    def _once(self, call: str, where: str, exc: BaseException) -> None:
        key = (call, where)
        if key not in self._logged:
            self._logged.add(key)
            log.warning("NVML %s failed for %s: %s (logged once)", call, where, exc)


def mig_slices_for(model: str) -> int:
    """Slices of a whole GPU of ``model`` in MIG mode (7, or 4 for the A30)."""
    for key, slices in c.MIG_SLICES_BY_MODEL.items():
        if key in model:
            return slices
    return c.DEFAULT_MIG_SLICES
