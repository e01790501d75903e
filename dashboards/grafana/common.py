"""Assembles a grafanalib Dashboard into Grafana's JSON model, the same way for every dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from infermeter.dashboards.grafana import conventions as c
from infermeter.dashboards.grafana.panels import Grid
from infermeter.dashboards.grafana.variables import Variable


def _links() -> list[dict[str, Any]]:
    """A drop-down of the other infermeter dashboards, keeping the time range and variables."""
    return [
        {
            "asDropdown": True,
            "icon": "external link",
            "includeVars": True,
            "keepTime": True,
            "tags": [c.TAG],
            "targetBlank": False,
            "title": "infermeter",
            "type": "dashboards",
        }
    ]


def build(
    uid: str,
    *,
    description: str,
    variables: Sequence[Variable],
    grid: Grid,
    time_from: str = "now-6h",
    time_to: str = "now",
    refresh: str = "1m",
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """The dashboard's JSON model as a plain dict (stable key order, ids assigned)."""
    dashboard = g.Dashboard(
        title=c.TITLES[uid],
        uid=uid,
        description=description,
        tags=[c.TAG, *tags],
        timezone="utc",
        refresh=refresh,
        time=g.Time(time_from, time_to),
        graphTooltip=1,  # shared crosshair
        schemaVersion=c.SCHEMA_VERSION,
        templating=g.Templating(list=list(variables)),
        panels=list(grid.panels),
        links=_links(),
    ).auto_panel_ids()
    data = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder, sort_keys=True))
    # Keys Grafana no longer reads (pre-v5 rows, old styling): drop them for a clean model.
    for key in ("rows", "style", "hideControls", "sharedCrosshair", "gnetId", "id"):
        data.pop(key, None)
    data["annotations"] = {"list": [_builtin_annotations()]}
    for panel in data["panels"]:
        # grafanalib writes every optional field; a null one means "Grafana's default" anyway.
        for key in [k for k, value in panel.items() if value is None]:
            del panel[key]
        panel.pop("maxDataPoints", None)  # Grafana's default: the panel's width in pixels
        panel.pop("span", None)
    return data


def _builtin_annotations() -> dict[str, Any]:
    return {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }


def iter_panels(dashboard: dict[str, Any]):
    """Every panel of a dashboard JSON, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def iter_targets(dashboard: dict[str, Any]):
    """``(panel, target)`` for every query of a dashboard JSON."""
    for panel in iter_panels(dashboard):
        for target in panel.get("targets") or []:
            yield panel, target
