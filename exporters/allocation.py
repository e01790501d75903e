"""GPU allocation heartbeats: ``gpu_allocation`` rows saying which GPUs this instance holds.

Three sources, merged per GPU (the first that names a GPU wins):

1. **config** - ``allocation.gpus``: stated GPUs with their fraction (MIG or time-slice share).
2. **nvml** - ``allocation.from_nvml``: the GPUs NVML shows this process (in a Kubernetes pod,
   the ones the device plugin gave it; ``$NVIDIA_VISIBLE_DEVICES`` narrows the list when it
   names devices). A GPU in MIG mode yields one row per visible MIG instance (``gpu_uuid`` the
   ``MIG-...`` UUID, ``mig_profile``, fraction = its slices / the GPU's slices); a whole GPU has
   fraction ``1 / allocation.time_slice_replicas``.
3. **dcgm** - ``allocation.dcgm_targets``: dcgm-exporter's pod attribution labels (``UUID``,
   ``modelName``, ``pod``, ``namespace``, ``GPU_I_PROFILE``/``GPU_I_ID`` for MIG, where
   ``gpu_uuid`` is ``<UUID>/<GPU_I_ID>``). With ``own_pod_only`` (the default) only GPUs whose
   ``pod`` is ``$POD_NAME`` count, for this deployment; otherwise every attributed pod counts,
   its deployment read from the pod name (``name-<replicaset hash>-<pod hash>`` -> ``name``,
   ``name-<ordinal>`` -> ``name``).

Each heartbeat covers the time since the previous one (the first one: since start-up; the last:
up to a graceful stop), so GPU-seconds held = ``sum(interval_s * fraction)`` adds up to the time
the sidecar ran, and a crashed sidecar simply stops adding seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from infermeter.exporters import conventions as c
from infermeter.exporters.config import AllocationConfig
from infermeter.exporters.exposition import SeriesSample
from infermeter.exporters.nvml import GpuInfo, mig_slices_for
from infermeter.exporters.series import own_instance
from infermeter.ingest.models import AllocationHeartbeat, allocation_row

log = logging.getLogger(__name__)

_DEPLOYMENT_POD = re.compile(r"^(?P<name>.+?)-[a-z0-9]{5,10}-[a-z0-9]{5}$")
_STATEFUL_POD = re.compile(r"^(?P<name>.+)-\d+$")
_MIG_SLICES = re.compile(r"^(\d+)g\.")
MAX_INTERVAL_S = 86400.0


@dataclass(frozen=True, slots=True)
class Holding:
    """One GPU (or share) held by one instance."""

    deployment: str
    instance: str
    gpu_uuid: str
    gpu_model: str
    fraction: float
    mig_profile: str
    source: str


def pod_deployment(pod: str) -> str:
    """The workload name of a pod: ``vllm-7d4b9c6f8-x2k4q`` -> ``vllm``; ``db-0`` -> ``db``."""
    for pattern in (_DEPLOYMENT_POD, _STATEFUL_POD):
        match = pattern.match(pod)
        if match:
            return match["name"]
    return pod


def profile_fraction(profile: str, model: str) -> float:
    """The share of a GPU a MIG profile name (``3g.40gb``) stands for; 1 when unreadable."""
    match = _MIG_SLICES.match(profile)
    if not match:
        return 1.0
    return min(1.0, int(match[1]) / mig_slices_for(model))


def visible_devices(env: Mapping[str, str]) -> set[str] | None:
    """The devices ``$NVIDIA_VISIBLE_DEVICES`` names, or None when it names no subset."""
    value = env.get("NVIDIA_VISIBLE_DEVICES", "").strip()
    if value.lower() in ("", "all", "none", "void"):
        return None
    return {token.strip() for token in value.split(",") if token.strip()}


class AllocationTracker:
    """Collects what this instance holds and turns it into heartbeat rows."""

    def __init__(self, cfg: AllocationConfig, *, env: Mapping[str, str] | None = None, start_ms: int | None = None) -> None:
        env = os.environ if env is None else env
        self.cfg = cfg
        self.deployment = cfg.deployment or ""
        self.instance = cfg.instance or own_instance(env)
        self.own_pod = env.get(c.POD_NAME_ENV, "")
        self.visible = visible_devices(env)
        self._lock = threading.Lock()
        self._nvml: list[Holding] = []
        self._dcgm: dict[str, list[Holding]] = {}
        self._last_ms = start_ms
        self._warned_no_pod = False

    # -- sources

    def configured(self) -> list[Holding]:
        return [
            Holding(self.deployment, self.instance, g.uuid, g.model, g.fraction, g.mig_profile, c.ALLOC_CONFIG)
            for g in self.cfg.gpus
        ]

    def observe_nvml(self, gpus: Sequence[GpuInfo]) -> None:
        """Remember the GPUs (and MIG instances) of the latest NVML collection."""
        if not self.cfg.from_nvml:
            return
        share = 1.0 / self.cfg.time_slice_replicas
        out: list[Holding] = []
        for gpu in gpus:
            if gpu.mig_enabled:
                for mig in gpu.mig:
                    if self._visible(gpu, mig.uuid):
                        out.append(
                            Holding(self.deployment, self.instance, mig.uuid, gpu.model, mig.fraction, mig.profile, c.ALLOC_NVML)
                        )
            elif self._visible(gpu, None):
                out.append(Holding(self.deployment, self.instance, gpu.uuid, gpu.model, share, "", c.ALLOC_NVML))
        with self._lock:
            self._nvml = out

    def _visible(self, gpu: GpuInfo, mig_uuid: str | None) -> bool:
        if self.visible is None:
            return True
        names = {gpu.uuid, str(gpu.index)}
        if mig_uuid is not None:
            if any(v.startswith("MIG-") for v in self.visible):
                return mig_uuid in self.visible
        return bool(names & self.visible)

    def observe_dcgm(self, target: str, samples: Sequence[SeriesSample]) -> None:
        """A page hook for dcgm targets: read the GPUs each pod uses from the labels."""
        if target not in self.cfg.dcgm_targets:
            return
        if self.cfg.own_pod_only and not self.own_pod:
            if not self._warned_no_pod:
                self._warned_no_pod = True
                log.warning("allocation from DCGM needs $%s (own_pod_only): no rows from %s", c.POD_NAME_ENV, target)
            return
        share = 1.0 / self.cfg.time_slice_replicas
        found: dict[tuple[str, str], Holding] = {}
        seen_labels: set[int] = set()
        for _, labels, _, _ in samples:
            if id(labels) in seen_labels:
                continue
            seen_labels.add(id(labels))
            d = dict(labels)
            uuid, pod = d.get(c.DCGM_UUID, ""), d.get(c.DCGM_POD, "")
            if not uuid or not pod:
                continue
            if self.cfg.own_pod_only:
                if pod != self.own_pod:
                    continue
                deployment, instance = self.deployment, self.instance
            else:
                deployment, instance = pod_deployment(pod), pod
            model = d.get(c.DCGM_MODEL, "") or "unknown"
            profile, gi = d.get(c.DCGM_MIG_PROFILE, ""), d.get(c.DCGM_MIG_ID, "")
            if profile or gi:
                gpu_uuid, fraction = f"{uuid}/{gi}", profile_fraction(profile, model)
            else:
                gpu_uuid, fraction = uuid, share
            found[(instance, gpu_uuid)] = Holding(deployment, instance, gpu_uuid, model, fraction, profile, c.ALLOC_DCGM)
        with self._lock:
            self._dcgm[target] = list(found.values())

    def holdings(self) -> list[Holding]:
        """Every GPU held now: config first, then NVML, then DCGM, one per (instance, GPU)."""
        with self._lock:
            candidates = self.configured() + list(self._nvml) + [h for hs in self._dcgm.values() for h in hs]
        out: dict[tuple[str, str], Holding] = {}
        for h in candidates:
            out.setdefault((h.instance, h.gpu_uuid), h)
        return list(out.values())

    # -- heartbeats

    def beat(self, now_ms: int) -> list[dict[str, Any]]:
        """Rows for the time since the last beat (none on the first call without ``start_ms``)."""
        last, self._last_ms = self._last_ms, now_ms
        if last is None or now_ms <= last:
            return []
        interval_s = min((now_ms - last) / 1000.0, MAX_INTERVAL_S)
        ts = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.timezone.utc)
        rows = []
        for h in self.holdings():
            try:
                hb = AllocationHeartbeat(
                    ts=ts,
                    interval_s=interval_s,
                    deployment=h.deployment,
                    instance=h.instance,
                    gpu_uuid=h.gpu_uuid,
                    gpu_model=h.gpu_model,
                    mig_profile=h.mig_profile,
                    fraction=h.fraction,
                    source=h.source,
                )
            except ValidationError as exc:
                log.warning("allocation heartbeat for %s skipped: %s", h.gpu_uuid, exc.errors()[0]["msg"])
                continue
            rows.append(allocation_row(hb))
        return rows
