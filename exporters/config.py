"""The sidecar's configuration (``exporter:`` in the YAML file, ``Settings.exporter``).

Example (see docs/exporters.md for every key)::

    exporter:
      listen: 0.0.0.0:9470
      targets:
        - {name: vllm, kind: vllm, url: http://127.0.0.1:8000/metrics, interval_s: 15}
        - {name: dcgm, kind: dcgm, url: http://127.0.0.1:9400/metrics}
      nvml: {enabled: true}
      allocation: {enabled: true, deployment: llama-70b, from_nvml: true}

This module must not import :mod:`infermeter.config` (that module imports this one).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infermeter.exporters import conventions as c

from infermeter.exporters.gateway.config import GatewayConfig

_NAME = r"^[A-Za-z0-9_.:-]{1,128}$"
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScrapeDefaults(_Model):
    """Defaults for every target; a target may override each one."""

    interval_s: float = Field(default=15.0, gt=0, le=3600, description="Scrape interval; samples are stamped on its ticks.")
    timeout_s: float = Field(default=10.0, gt=0, description="Whole-request timeout (at most the interval).")
    jitter_s: float = Field(
        default=1.0, ge=0, description="Upper bound of a stable per-target offset after the tick (spreads load)."
    )
    max_page_bytes: int = Field(default=32 << 20, ge=1024, description="Pages larger than this are refused.")


class TargetConfig(_Model):
    """One scrape target: a vLLM, Triton or DCGM exporter endpoint, or any Prometheus page."""

    name: str = Field(pattern=_NAME, description="Unique; the `target` label and column.")
    kind: Literal["vllm", "triton", "dcgm", "generic"] = "generic"
    url: str | None = Field(
        default=None, description="Default: the kind's usual local address. ${VAR} is read from the environment."
    )
    interval_s: float | None = Field(default=None, gt=0, le=3600)
    timeout_s: float | None = Field(default=None, gt=0)
    jitter_s: float | None = Field(default=None, ge=0)
    max_page_bytes: int | None = Field(default=None, ge=1024)
    labels: dict[LabelName, str] = Field(default_factory=dict, description="Static labels added to every series.")
    keep_created: bool = Field(default=False, description="Store `_created` samples (dropped by default).")
    drop: list[str] = Field(default_factory=list, description="Regular expressions: metric names to drop.")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = expand_env(value)
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @field_validator("drop")
    @classmethod
    def _regexes(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return values

    @field_validator("labels")
    @classmethod
    def _not_reserved(cls, values: dict[str, str]) -> dict[str, str]:
        if c.TARGET_LABEL in values:
            raise ValueError(f"label {c.TARGET_LABEL!r} is set by the sidecar")
        return values

    def drop_pattern(self) -> re.Pattern[str] | None:
        return re.compile("|".join(f"(?:{d})" for d in self.drop)) if self.drop else None


class NvmlConfig(_Model):
    """GPU telemetry straight from the driver (nvidia-ml-py); disables itself without a driver."""

    enabled: bool = True
    interval_s: float = Field(default=15.0, gt=0, le=3600)
    per_process: bool = Field(default=True, description="Per-process GPU memory (pid, process name).")


class AllocationGpu(_Model):
    """A GPU (or a share of one) that this instance holds, stated in the configuration."""

    uuid: str = Field(min_length=1, max_length=256)
    model: str = Field(min_length=1, max_length=256)
    fraction: float = Field(default=1.0, gt=0, le=1, description="1, or the MIG / time-slice share.")
    mig_profile: str = ""


class AllocationConfig(_Model):
    """GPU allocation heartbeats (`gpu_allocation` rows): which GPUs this instance holds."""

    enabled: bool = False
    deployment: str | None = Field(default=None, min_length=1, max_length=256)
    instance: str | None = Field(default=None, description="Default: $POD_NAME, else the host name.")
    interval_s: float = Field(default=60.0, gt=0, le=86400)
    gpus: list[AllocationGpu] = Field(default_factory=list, description="Stated GPUs (win over discovered ones).")
    from_nvml: bool = Field(default=True, description="The GPUs and MIG instances NVML shows this container.")
    dcgm_targets: list[str] = Field(default_factory=list, description="dcgm targets whose pod labels attribute GPUs.")
    own_pod_only: bool = Field(
        default=True, description="From DCGM, only GPUs attributed to this pod ($POD_NAME); else every pod."
    )
    time_slice_replicas: int = Field(
        default=1, ge=1, le=64, description="Pods sharing each whole GPU by time-slicing: fraction 1/N."
    )

    @model_validator(mode="after")
    def _deployment_required(self) -> "AllocationConfig":
        if self.enabled and not self.deployment:
            raise ValueError("allocation.deployment is required when allocation.enabled is true")
        return self


class ExporterConfig(_Model):
    """The sidecar: targets to scrape, NVML, allocation heartbeats, its listen address, the gateway."""

    listen: str = Field(default=c.DEFAULT_LISTEN, description="host:port of /metrics, /healthz, /readyz and the gateway.")
    scrape: ScrapeDefaults = ScrapeDefaults()
    targets: list[TargetConfig] = Field(default_factory=list)
    nvml: NvmlConfig = NvmlConfig()
    allocation: AllocationConfig = AllocationConfig()
    series_refresh_s: float = Field(default=3600.0, gt=0, description="How often every series row is rewritten.")
    ensure_schema: bool = Field(default=True, description="Apply missing migrations when the store is reached.")
    stop_timeout_s: float = Field(default=20.0, gt=0, description="Longest graceful stop (flush or spool).")
    gateway: GatewayConfig | None = Field(default=None, description="Gateway usage inputs (infermeter.exporters.gateway).")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @model_validator(mode="after")
    def _resolve(self) -> "ExporterConfig":
        names = [t.name for t in self.targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate target names: {', '.join(dupes)}")
        dcgm = {t.name for t in self.targets if t.kind == "dcgm"}
        unknown = [n for n in self.allocation.dcgm_targets if n not in dcgm]
        if unknown:
            raise ValueError(f"allocation.dcgm_targets: {', '.join(unknown)} is not a dcgm target")
        defaults = self.scrape
        for t in self.targets:
            if t.url is None:
                if t.kind not in c.KIND_DEFAULT_URL:
                    raise ValueError(f"targets.{t.name}.url is required for kind {t.kind}")
                t.url = c.KIND_DEFAULT_URL[t.kind]
            t.interval_s = t.interval_s or defaults.interval_s
            t.timeout_s = min(t.timeout_s or defaults.timeout_s, t.interval_s)
            t.jitter_s = min(defaults.jitter_s if t.jitter_s is None else t.jitter_s, t.interval_s / 2)
            t.max_page_bytes = t.max_page_bytes or defaults.max_page_bytes
        return self


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, env: Mapping[str, str] | None = None) -> str:
    """Replace ``${NAME}`` with the environment variable (e.g. ``${NODE_IP}`` from the downward
    API, to reach the node's dcgm-exporter); a variable that is not set is an error."""
    env = os.environ if env is None else env

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ValueError(f"environment variable {name} (in {value!r}) is not set")
        return env[name]

    return _ENV_REF.sub(sub, value)


def split_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9470``, ``:9470`` for every address) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)
