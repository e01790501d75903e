"""Spec in, files out: every dashboard's JSON and the provisioning files, as pure functions, plus
the one function that writes them (:func:`write`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana import fleet, gpu, serving, slos, tenant_cost
from infermeter.dashboards.grafana.provisioning import ProvisioningOptions
from infermeter.dashboards.grafana.provisioning import files as provisioning_files
from infermeter.errors import ConfigError


class DashboardOptions(BaseModel):
    """What the generated dashboards depend on besides the conventions."""

    model_config = ConfigDict(extra="forbid")
    currency: str = Field(default="USD", pattern=r"^[A-Za-z]{3}$")
    budgets: dict[str, Decimal] = Field(default_factory=dict)  # tenant -> monthly budget (currency)
    provisioning: ProvisioningOptions = ProvisioningOptions()

    @field_validator("budgets")
    @classmethod
    def _not_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for tenant, budget in value.items():
            if budget < 0:
                raise ValueError(f"budget of tenant {tenant!r} must not be negative, got {budget}")
        return value


def dashboards(opts: DashboardOptions | None = None) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON model."""
    opts = opts or DashboardOptions()
    return {
        c.UID_FLEET: fleet.dashboard(currency=opts.currency),
        c.UID_SERVING: serving.dashboard(),
        c.UID_GPU: gpu.dashboard(),
        c.UID_SLOS: slos.dashboard(),
        c.UID_TENANT_COST: tenant_cost.dashboard(currency=opts.currency, budgets=opts.budgets),
    }


def dashboard_json(model: Mapping[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render(opts: DashboardOptions | None = None) -> dict[Path, str]:
    """Relative path -> text of every file `dashboards generate` writes."""
    opts = opts or DashboardOptions()
    out = {Path("dashboards") / f"{uid}.json": dashboard_json(model) for uid, model in dashboards(opts).items()}
    out.update(provisioning_files(opts.provisioning))
    return out


def write(out_dir: Path, opts: DashboardOptions | None = None) -> list[Path]:
    """Write every file under ``out_dir`` (created if missing); returns the paths written."""
    files = render(opts)
    written = []
    try:
        for rel, text in files.items():
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(path)
    except OSError as exc:
        raise ConfigError(f"{out_dir}: cannot write the dashboards ({exc.strerror or exc})") from None
    return written
