"""The sidecar's configuration section, and the Kubernetes example that uses it."""

from __future__ import annotations

import pytest
import yaml

from infermeter.config import load_settings
from infermeter.errors import ConfigError
from infermeter.exporters import conventions as c
from infermeter.exporters.config import ExporterConfig, expand_env, split_listen
from infermeter.exporters.scrape import stable_offset_ms
from tests.support import REPO


def test_defaults_fill_every_target_and_clamp_to_the_interval():
    cfg = ExporterConfig.model_validate(
        {
            "scrape": {"interval_s": 10, "timeout_s": 30, "jitter_s": 8},
            "targets": [{"name": "v", "kind": "vllm"}, {"name": "t", "kind": "triton", "interval_s": 2, "timeout_s": 1}],
        }
    )
    v, t = cfg.targets
    assert (v.url, v.interval_s, v.timeout_s, v.jitter_s) == ("http://127.0.0.1:8000/metrics", 10, 10, 5)
    assert (t.url, t.interval_s, t.timeout_s, t.jitter_s) == ("http://127.0.0.1:8002/metrics", 2, 1, 1)
    assert 0 <= stable_offset_ms("v", 5) < 5000 and stable_offset_ms("v", 5) == stable_offset_ms("v", 5)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"targets": [{"name": "a", "url": "http://x/m"}, {"name": "a", "url": "http://y/m"}]}, "duplicate target names: a"),
        ({"targets": [{"name": "g", "kind": "generic"}]}, "url is required"),
        ({"targets": [{"name": "g", "url": "ftp://x"}]}, "not an http"),
        ({"targets": [{"name": "g", "url": "http://x/m", "drop": ["("]}]}, "invalid regular expression"),
        ({"targets": [{"name": "g", "url": "http://x/m", "labels": {"target": "x"}}]}, "set by the sidecar"),
        ({"targets": [{"name": "g", "url": "http://x/m", "kind": "tgi"}]}, "targets.0.kind"),
        ({"allocation": {"enabled": True}}, "allocation.deployment is required"),
        ({"allocation": {"dcgm_targets": ["nope"]}}, "nope is not a dcgm target"),
        ({"listen": "9470"}, "is not host:port"),
        ({"nvml": {"enabeld": True}}, "exporter.nvml.enabeld: unknown key"),
    ],
)
def test_bad_configuration_is_rejected_with_its_path(section, message):
    with pytest.raises(ConfigError) as err:
        load_settings(None, exporter=section)
    assert message in str(err.value)


def test_listen_and_env_helpers():
    assert split_listen("0.0.0.0:9470") == ("0.0.0.0", 9470)
    assert split_listen("[::1]:80") == ("::1", 80)
    assert split_listen(":9470") == ("0.0.0.0", 9470)
    assert expand_env("http://${NODE_IP}:9400/m", {"NODE_IP": "10.1.2.3"}) == "http://10.1.2.3:9400/m"
    with pytest.raises(ValueError, match="NODE_IP"):
        expand_env("http://${NODE_IP}/m", {})


def test_the_gateway_section_is_the_gateway_model():
    from infermeter.exporters.gateway import GatewayConfig

    settings = load_settings(None, exporter={"gateway": {"tenant_cap": 7}})
    assert isinstance(settings.exporter.gateway, GatewayConfig) and settings.exporter.gateway.tenant_cap == 7
    assert load_settings(None).exporter.gateway is None


def test_kubernetes_example_is_consistent_with_the_sidecar(monkeypatch, tmp_path):
    docs = list(yaml.safe_load_all((REPO / "deploy/k8s/vllm-with-sidecar.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert kinds.keys() == {"ConfigMap", "Deployment", "Service", "ServiceMonitor"}
    config = tmp_path / "exporter.yaml"
    config.write_text(kinds["ConfigMap"]["data"]["exporter.yaml"])
    monkeypatch.setenv("NODE_IP", "10.0.0.7")
    settings = load_settings(config)
    exporter = settings.exporter
    assert [t.kind for t in exporter.targets] == ["vllm", "dcgm"]
    assert exporter.targets[1].url == "http://10.0.0.7:9400/metrics"
    pod = kinds["Deployment"]["spec"]["template"]
    sidecar = next(ct for ct in pod["spec"]["containers"] if ct["name"] == "infermeter")
    env = {e["name"] for e in sidecar["env"]}
    assert {c.POD_NAME_ENV, c.POD_NAMESPACE_ENV, c.NODE_NAME_ENV, "NODE_IP", "INFERMETER_STORE__PASSWORD"} <= env
    port = split_listen(exporter.listen)[1]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert {p["containerPort"] for p in sidecar["ports"]} == {port}
    assert sidecar["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert sidecar["command"][:3] == ["infermeter", "exporter", "run"]
