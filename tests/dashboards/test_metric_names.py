"""Every metric a PromQL panel queries is an upstream name (vLLM, Triton, dcgm-exporter, as the
shared fixtures and reference material spell them) or one of infermeter's own (SLO rules, the
sidecar's gateway metrics), so a dashboard never queries a name nobody exposes."""

from __future__ import annotations

import json
import re

import pytest

from infermeter.dashboards.grafana.common import iter_targets
from infermeter.dashboards.grafana.generate import render
from infermeter.slo import conventions as sc
from tests.support import shared_dir

SELECTOR_NAME = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
NAME_REGEX = re.compile(r'__name__=~"([^"]+)"')
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_BUILTINS = {"ALERTS"}
PROMQL_FUNCTIONS = {"sum", "max", "min", "avg", "count", "rate", "increase", "label_replace", "histogram_quantile",
                    "max_over_time", "vector", "by", "on", "and", "or"}


def _queried_names() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for rel, text in render().items():
        if rel.suffix != ".json":
            continue
        model = json.loads(text)
        exprs = [t["expr"] for _, t in iter_targets(model) if "expr" in t]
        exprs += [v["query"] for v in model["templating"]["list"] if v.get("type") == "query" and isinstance(v.get("query"), str)]
        for expr in exprs:
            for name in SELECTOR_NAME.findall(expr):
                if name not in PROMQL_FUNCTIONS:
                    names.setdefault(name, set()).add(model["uid"])
            for alternatives in NAME_REGEX.findall(expr):
                for name in alternatives.split("|"):
                    names.setdefault(name, set()).add(model["uid"])
    return names


def _upstream_text() -> str:
    root = shared_dir()
    if not root.is_dir():
        pytest.skip(f"shared fixtures not found at {root} (set INFERMETER_SHARED)")
    parts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((root / "fixtures" / "exposition").glob("*"))]
    parts += [p.read_text(encoding="utf-8") for p in sorted((root / "reference").glob("*"))]
    return "\n".join(parts)


def _infermeter_names() -> set[str]:
    values = {v for k, v in vars(sc).items() if k.isupper() and isinstance(v, str)}
    return values


def test_every_queried_metric_exists_upstream_or_in_infermeter():
    upstream = _upstream_text()
    ours = _infermeter_names()
    unknown = {}
    for name, uids in sorted(_queried_names().items()):
        base = name
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name.startswith(("vllm:", "nv_")):
                base = name[: -len(suffix)]
        if name in PROMQL_BUILTINS or name in ours:
            continue
        if name.startswith(sc.SLI_ERROR_METRIC_PREFIX):
            continue  # the windowed SLI family, queried by regex
        if re.search(rf"(?<![A-Za-z0-9_:]){re.escape(name)}(?![A-Za-z0-9_:])", upstream) or (
            base != name and re.search(rf"(?<![A-Za-z0-9_:]){re.escape(base)}(?![A-Za-z0-9_:])", upstream)
        ):
            continue
        unknown[name] = sorted(uids)
    assert not unknown, f"metrics not found upstream nor in infermeter's conventions: {unknown}"


def test_the_check_sees_every_family():
    names = set(_queried_names())
    for expected in ("vllm:time_to_first_token_seconds_bucket", "nv_inference_exec_count", "DCGM_FI_PROF_SM_ACTIVE",
                     "slo:period_error_budget_remaining:ratio", "infermeter_gateway_requests_total", "ALERTS"):
        assert expected in names
