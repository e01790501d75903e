"""The GPU dashboard's pod -> deployment rule agrees with the allocation heartbeats' rule.

Prometheus anchors ``label_replace`` and ``=~`` regexes (RE2) and Grafana applies the variable
regex in JavaScript; both read these constructs as Python's ``re.fullmatch`` does.
"""

from __future__ import annotations

import re

import pytest

from infermeter.dashboards.grafana import conventions as c
from infermeter.exporters.allocation import pod_deployment

PODS = {
    "vllm-7d4b9c6f8-x2k4q": "vllm",
    "llama-8b-7d9f8b6c5d-x2k4p": "llama-8b",
    "qwen-32b-5c6b7d8f9-hh7rt": "qwen-32b",
    "llama-8b-0": "llama-8b",  # a StatefulSet (and the simulator's instances)
    "mistral-mig-12": "mistral-mig",
    "db-0": "db",
}


@pytest.mark.parametrize("pod, deployment", sorted(PODS.items()))
def test_the_dashboard_and_the_heartbeats_name_the_same_deployment(pod, deployment):
    m = re.fullmatch(c.DCGM_POD_DEPLOYMENT_RE, pod)
    assert m is not None and m.group(1) == deployment == pod_deployment(pod)


@pytest.mark.parametrize("pod, deployment", sorted(PODS.items()))
def test_the_variable_selector_matches_its_own_pods_only(pod, deployment):
    own = f"({re.escape(deployment)})(?:{c.DCGM_POD_SUFFIX_RE})?"
    assert re.fullmatch(own, pod)
    others = {d for d in PODS.values() if d != deployment and not deployment.startswith(d + "-")}
    for other in others:
        assert not re.fullmatch(f"({re.escape(other)})(?:{c.DCGM_POD_SUFFIX_RE})?", pod), other


def test_an_unrecognised_pod_name_gets_no_deployment():
    assert re.fullmatch(c.DCGM_POD_DEPLOYMENT_RE, "standalone") is None
