"""Helpers shared by the rule generators."""

from __future__ import annotations

from infermeter.slo import conventions as c
from infermeter.slo.gofmt import label_filter
from infermeter.slo.model import SLO


def id_labels(slo: SLO) -> dict[str, str]:
    return {c.LABEL_ID: slo.id, c.LABEL_SLO: slo.name, c.LABEL_SERVICE: slo.service}


def id_filter(slo: SLO) -> str:
    """``{sloth_id="...", sloth_service="...", sloth_slo="..."}``"""
    return label_filter(id_labels(slo))


def merge(*maps: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in maps:
        out.update(m)
    return out
