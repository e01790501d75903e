"""The compose stack's data path, run here without Docker: the same commands and configuration
files as deploy/docker-compose.yml, the compose network's host names mapped to loopback ports.

Real processes, real HTTP: the simulator (`simulate`, as the `simulator` service runs it) sends
OTLP spans to the gateway sidecar and serves its pages; the fleet sidecar scrapes them; the real
Prometheus runs deploy/compose/prometheus.yml with the rules the `generate` service writes, and
sends alerts to the real Alertmanager with the generated configuration; the portal serves the
gateway sidecar's store with the compose configuration and its token. Each sidecar writes to an
embedded store of its own instead of the ClickHouse server (chdb, one process per store); scrape
and evaluation intervals are shortened to one second. What is checked: every Prometheus target is
up, the metric names and labels the SLO rules and dashboards select exist, the SLO recording rules
produce series, Prometheus found Alertmanager, the stores hold samples, allocation heartbeats
and usage rows for the simulated tenants, and the portal answers its admin token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.deploy import compose as cf
from tests.deploy.conftest import GENERATED_MOUNT
from tests.deploy.test_deploy_files import SERVICES, _only
from tests.support import require_binary, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.system, pytest.mark.timeout(240)]

DEADLINE_S = 90
RATE_FACTOR = 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(what: str, check, procs: dict, deadline_s: float = DEADLINE_S):
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        for name, (proc, log) in procs.items():
            if proc.poll() is not None:
                pytest.fail(f"{name} exited ({proc.returncode}) while waiting for {what}:\n{log.read_text()[-3000:]}")
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.5)
    logs = "\n".join(f"--- {n}\n{log.read_text()[-1500:]}" for n, (_, log) in procs.items())
    pytest.fail(f"timed out waiting for {what} (last: {last!r})\n{logs}")


def _replace_option(argv: list[str], option: str, value: str) -> list[str]:
    out = list(argv)
    i = out.index(option)
    out[i + 1] = value
    return out


def _busy_fleet(sim_argv: list[str], tmp_path: Path) -> Path:
    """The compose simulator's fleet with RATE_FACTOR times the traffic, so that a minute at night
    or on a weekend (the simulated traffic has daily and weekly cycles) still has requests from
    several tenants. Same tenants, deployments and targets."""
    import yaml

    from infermeter.simulator.fleet import default_fleet

    fleet = default_fleet(int(cf.option_value(sim_argv, "--seed")))
    data = fleet.model_dump(mode="json")
    for tenant in data["tenants"]:
        tenant["rate_rps"] = round(tenant["rate_rps"] * RATE_FACTOR, 4)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_compose_data_path_runs_without_docker(generated, tmp_path):
    prometheus = require_binary("prometheus", "prometheus")
    alertmanager = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    ports = {name: _free_port() for name in ("simulator", "sidecar-gateway", "sidecar-fleet", "prometheus", "alertmanager", "portal")}
    hosts = {
        "simulator:9400": f"127.0.0.1:{ports['simulator']}",
        "sidecar-gateway:9470": f"127.0.0.1:{ports['sidecar-gateway']}",
        "sidecar-fleet:9470": f"127.0.0.1:{ports['sidecar-fleet']}",
        "alertmanager:9093": f"127.0.0.1:{ports['alertmanager']}",
        "localhost:9090": f"127.0.0.1:{ports['prometheus']}",
        "prometheus:9090": f"127.0.0.1:{ports['prometheus']}",
    }

    def mapped(text: str) -> str:
        for old, new in hosts.items():
            text = text.replace(old, new)
        return text

    # The compose files, with the network's names mapped to loopback and one-second intervals.
    prom_cfg = tmp_path / "prometheus.yml"
    prom_cfg.write_text(
        mapped((cf.COMPOSE_DIR / "prometheus.yml").read_text())
        .replace(GENERATED_MOUNT + "/", f"{generated}/")
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 30s", "evaluation_interval: 1s")
    )
    configs = {}
    for name in ("sidecar-gateway", "sidecar-fleet"):
        path = cf.host_path(SERVICES[name], cf.option_value(_only(name), "-c"))
        configs[name] = tmp_path / path.name
        configs[name].write_text(mapped(path.read_text()))

    base_env = {**os.environ, "PYTHONUNBUFFERED": "1", **cf.environment(SERVICES["portal"])}
    base_env.pop("INFERMETER_CONFIG", None)
    procs: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(name: str, argv: list[str], env: dict | None = None) -> None:
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**base_env, **(env or {})}, cwd=tmp_path)
        procs[name] = (proc, log)

    def stop(name: str) -> None:
        proc, _ = procs.pop(name)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    cli = [sys.executable, "-m", "infermeter"]
    try:
        for name in ("sidecar-gateway", "sidecar-fleet"):
            argv = _replace_option(_only(name), "-c", str(configs[name]))
            start(name, [*cli, *argv, "--listen", f"127.0.0.1:{ports[name]}"], {
                "INFERMETER_STORE__URL": f"chdb://{tmp_path / (name + '-store')}",
                "INFERMETER_DATA_DIR": str(tmp_path / (name + "-data")),
                "INFERMETER_EXPORTER__SCRAPE__INTERVAL_S": "1",
                "INFERMETER_EXPORTER__ALLOCATION__INTERVAL_S": "2",
            })
        for name in ("sidecar-gateway", "sidecar-fleet"):
            _wait(f"{name} ready", lambda n=name: _get(f"http://127.0.0.1:{ports[n]}/readyz")[0] == 200, procs)

        sim = _replace_option(_only("simulator"), "--host", "127.0.0.1")
        sim = _replace_option(sim, "--port", str(ports["simulator"]))
        sim = [mapped(a) for a in sim]
        start("simulator", [*cli, *sim, "--tick", "0.5", "--fleet", str(_busy_fleet(sim, tmp_path))])
        start("alertmanager", [alertmanager, f"--config.file={generated}/alertmanager/alertmanager.yml",
                               f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                               "--cluster.listen-address="])
        start("prometheus", [prometheus, f"--config.file={prom_cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{ports['prometheus']}"])
        api = f"http://127.0.0.1:{ports['prometheus']}/api/v1"

        def query(expr: str) -> list:
            status, body = _get(f"{api}/query?{urllib.parse.urlencode({'query': expr})}")
            assert status == 200, body
            return json.loads(body)["data"]["result"]

        def all_up():
            targets = json.loads(_get(f"{api}/targets")[1])["data"]["activeTargets"]
            return len(targets) > 0 and all(t["health"] == "up" for t in targets) and targets

        targets = _wait("every Prometheus target up", all_up, procs)
        jobs = {t["labels"]["job"] for t in targets}
        assert {"vllm", "triton", "dcgm", "infermeter-sidecar", "prometheus"} <= jobs
        # What the dashboards and SLO rules select on exists, with the labels they use.
        deployments = {r["metric"]["deployment"] for r in _wait("vLLM series", lambda: query("vllm:request_success_total"), procs)}
        assert {"llama-8b", "llama-70b", "coder-32b", "mistral-mig"} <= deployments
        assert _wait("Triton series", lambda: query('nv_inference_request_success{deployment="embed-triton"}'), procs)
        assert _wait("DCGM series", lambda: query("DCGM_FI_DEV_GPU_UTIL"), procs)
        tenants = _wait("gateway requests by tenant", lambda: query("sum by (tenant) (infermeter_gateway_requests_total)"), procs)
        assert len(tenants) >= 3
        # Rule groups are evaluated independently: wait for the availability SLOs themselves.
        assert _wait("gateway availability SLO rules", lambda: {
            r["metric"].get("sloth_slo") for r in query('slo:sli_error:ratio_rate5m{sloth_service="llm-gateway"}')
        } & {"tenant-availability", "fleet-availability"}, procs)
        assert _wait("vLLM SLO rules", lambda: query('slo:sli_error:ratio_rate5m{sloth_service="vllm-llama"}'), procs)
        assert _wait("budget rules loaded", lambda: [
            r for g in json.loads(_get(f"{api}/rules")[1])["data"]["groups"] for r in g["rules"]
            if r["name"] == "TenantBudgetThreshold"
        ], procs)
        assert _wait("Alertmanager discovered", lambda: json.loads(_get(f"{api}/alertmanagers")[1])["data"]["activeAlertmanagers"], procs)
        # The fleet sidecar saw the DCGM pages (allocation) before it stops.
        def fleet_targets_up():
            status = json.loads(_get(f"http://127.0.0.1:{ports['sidecar-fleet']}/readyz")[1])["targets"]
            return len(status) >= 10 and all(status.values())

        _wait("every target of the fleet sidecar up (the federated ALERTS too)", fleet_targets_up, procs)
        time.sleep(3)
        for name in ("simulator", "prometheus", "alertmanager", "sidecar-fleet", "sidecar-gateway"):
            stop(name)

        # The sidecars flushed to their stores on SIGTERM.
        def scalar(store: str, sql: str) -> int:
            proc = run_cli("db", "query", sql, "--store", f"chdb://{tmp_path / store}", "--format", "csv")
            assert proc.returncode == 0, proc.stderr
            return int(proc.stdout.strip().splitlines()[-1])

        assert scalar("sidecar-fleet-store", "SELECT count() FROM samples") > 0
        assert scalar("sidecar-fleet-store", "SELECT uniqExact(target) FROM series") >= 9
        assert scalar("sidecar-fleet-store", "SELECT uniqExact(deployment) FROM gpu_allocation") >= 4
        assert scalar("sidecar-gateway-store", "SELECT uniqExact(tenant) FROM usage FINAL") >= 3

        # The portal, as the compose service runs it, on the gateway sidecar's store.
        portal_argv = [mapped(a) for a in _only("portal")]
        portal_argv = _replace_option(portal_argv, "-c", str(cf.host_path(SERVICES["portal"], cf.option_value(portal_argv, "-c"))))
        start("portal", [*cli, *portal_argv, "--store", f"chdb://{tmp_path / 'sidecar-gateway-store'}",
                         "--host", "127.0.0.1", "--port", str(ports["portal"])],
              {"INFERMETER_PORTAL__SLO_SPECS": str(cf.COMPOSE_DIR / "slo"), "INFERMETER_DATA_DIR": str(tmp_path / "portal-data"),
               "INFERMETER_CHARGEBACK__TENANCY": str(cf.COMPOSE_DIR / "tenancy.yaml"),
               "INFERMETER_CHARGEBACK__PRICES": str(cf.COMPOSE_DIR / "prices.yaml")})
        portal = f"http://127.0.0.1:{ports['portal']}"
        _wait("portal /healthz", lambda: _get(f"{portal}/healthz")[0] == 200, procs)
        token = cf.environment(SERVICES["portal"])["INFERMETER_PORTAL_ADMIN_TOKEN"]
        assert _get(f"{portal}/", {"Authorization": f"Bearer {token}"}, timeout=30)[0] == 200
        assert _get(f"{portal}/_dash-layout", timeout=30)[0] in (401, 403)
    finally:
        for name in list(procs):
            stop(name)
