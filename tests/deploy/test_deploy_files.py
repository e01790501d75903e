"""The deployment files (deploy/): docker-compose.yml, its configuration under deploy/compose/,
the Dockerfile and the Kubernetes manifests, checked without a Docker engine.

- every command a compose service or a Kubernetes container runs is a real ``infermeter``
  command (its ``--help`` answers and lists every option used), and the configuration files the
  stack mounts load with the project's own loaders;
- the one-shot ``generate`` service's script really runs (its paths mapped to the checkout and a
  temporary directory) and what it writes passes ``promtool check config`` (with the rules)
  and ``amtool check-config``;
- the files agree with each other and with the simulated fleet: targets, ports, labels, paths,
  tenants, the environment variables each process reads.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from infermeter.config import load_settings
from infermeter.exporters import conventions as ec
from infermeter.exporters.config import ExporterConfig, split_listen
from tests.deploy import compose as cf
from tests.deploy.conftest import GENERATED_MOUNT
from tests.support import REPO, require_binary, run_cli

COMPOSE = cf.load_compose()
SERVICES = COMPOSE["services"]
INFERMETER_SERVICES = {name: s for name, s in SERVICES.items() if cf.is_infermeter(s)}
CONFIG_MOUNT = "/etc/infermeter"
EXPECTED_SERVICES = {
    "clickhouse", "migrate", "generate", "simulator", "sidecar-fleet", "sidecar-gateway",
    "prometheus", "alertmanager", "alert-sink", "grafana", "portal", "chargeback",
}


def _all_commands() -> list[tuple[str, list[str]]]:
    out = []
    for name, service in INFERMETER_SERVICES.items():
        for argv in cf.infermeter_commands(service):
            out.append((name, argv))
    return out


COMMANDS = _all_commands()


def _service_env(name: str) -> dict[str, str]:
    return cf.environment(SERVICES[name])


def _config_path(name: str, argv: list[str]) -> Path:
    """The checkout path of the ``-c`` file a service passes."""
    value = cf.option_value(argv, "-c", "--config")
    assert value is not None, f"{name}: no -c/--config in {argv}"
    path = cf.host_path(SERVICES[name], value)
    assert path is not None and path.is_file(), f"{name}: {value} is not a file of a bind mount"
    return path


def _settings(name: str, argv: list[str], **env: str):
    """The service's configuration, loaded as the service loads it (its environment applied)."""
    path = _config_path(name, argv)
    service_env = {k: v for k, v in _service_env(name).items() if k.startswith("INFERMETER_")}
    old = {k: os.environ.get(k) for k in {**service_env, **env}}
    os.environ.update({**service_env, **env})
    try:
        return load_settings(path)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _only(name: str) -> list[str]:
    found = [argv for svc, argv in COMMANDS if svc == name]
    assert len(found) == 1, f"{name}: expected one command, got {found}"
    return found[0]


# --------------------------------------------------------------------------- the compose file


def test_compose_has_the_whole_stack():
    assert EXPECTED_SERVICES <= SERVICES.keys()
    assert {"migrate", "generate", "simulator", "sidecar-fleet", "sidecar-gateway", "portal", "chargeback"} <= INFERMETER_SERVICES.keys()
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for mount in cf.mounts(service):
            if mount.named:
                assert mount.source in declared, f"{name}: volume {mount.source} is not declared"
            else:
                assert Path(mount.source).exists(), f"{name}: bind mount {mount.source} does not exist"
        for dep in service.get("depends_on") or {}:
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published beyond loopback"
    # Grafana: the ClickHouse plugin, provisioning from the generated volume.
    grafana = _service_env("grafana")
    assert "grafana-clickhouse-datasource" in grafana["GF_INSTALL_PLUGINS"].split(",")
    assert grafana["GF_PATHS_PROVISIONING"].startswith(GENERATED_MOUNT + "/")


def test_infermeter_services_build_the_project_image():
    for name, service in INFERMETER_SERVICES.items():
        build = service["build"]
        assert (cf.DEPLOY / build["context"]).resolve() == REPO, name
        assert (REPO / build["dockerfile"]).resolve() == cf.DOCKERFILE, name
        assert any(m.target == CONFIG_MOUNT and m.read_only and not m.named for m in cf.mounts(service)), name
    one_shots = {n for n, s in SERVICES.items() if s.get("restart") == "no"}
    assert {"migrate", "generate"} <= one_shots
    for name in ("sidecar-fleet", "sidecar-gateway", "portal", "chargeback"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("prometheus", "alertmanager", "grafana"):
        assert SERVICES[name]["depends_on"]["generate"]["condition"] == "service_completed_successfully"


def test_every_command_is_a_real_infermeter_command():
    """Each sub-command path answers --help (in a fresh process) and lists every option used."""
    assert COMMANDS, "no infermeter commands found in docker-compose.yml"
    helps: dict[tuple[str, ...], str] = {}
    for name, argv in COMMANDS:
        path = tuple(cf.subcommand_path(argv))
        assert path, f"{name}: {argv} names no sub-command"
        if path not in helps:
            proc = run_cli(*path, "--help")
            assert proc.returncode == 0, f"{name}: infermeter {' '.join(path)} --help failed:\n{proc.stderr}"
            helps[path] = proc.stdout
        for option in cf.options(argv):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", helps[path]), (
                f"{name}: infermeter {' '.join(path)} has no option {option}"
            )
    used = set(helps)
    for expected in [("db", "migrate"), ("slo", "generate"), ("alerts", "generate"), ("alerts", "budget-rules"),
                     ("dashboards", "generate"), ("simulate",), ("exporter", "run"), ("portal",),
                     ("chargeback", "run")]:
        assert expected in used, f"the stack never runs infermeter {' '.join(expected)}"


# --------------------------------------------------------------------------- configuration files


def test_service_configurations_load():
    """Every configuration file a service passes with -c loads with load_settings, in the service's environment."""
    loaded = set()
    for name, argv in COMMANDS:
        value = cf.option_value(argv, "-c", "--config")
        if value is None or "$" in value or cf.subcommand_path(argv)[0] == "alerts":
            continue  # the generators' inputs (specs) are checked by test_generate_*
        loaded.add(name)
        settings = _settings(name, argv)
        assert settings.store.url.startswith("clickhouse://") and "@clickhouse:8123" in settings.store.url, name
        assert settings.store.password is not None, f"{name}: no INFERMETER_STORE__PASSWORD"
        assert settings.store.password.get_secret_value() == _service_env("clickhouse")["CLICKHOUSE_PASSWORD"]
        assert urlsplit(settings.store.url).username == _service_env("clickhouse")["CLICKHOUSE_USER"]
        assert settings.store.database == _service_env("clickhouse")["CLICKHOUSE_DB"]
    assert {"migrate", "sidecar-fleet", "sidecar-gateway", "portal", "chargeback"} <= loaded


def test_chargeback_inputs_are_mounted():
    from infermeter.chargeback.prices import load_prices
    from infermeter.chargeback.tenancy import load_tenancy

    runs = [argv for name, argv in COMMANDS if name == "chargeback"]
    assert runs and all(cf.subcommand_path(a) == ["chargeback", "run"] and cf.option_value(a, "--month") for a in runs)
    section = _settings("chargeback", runs[0]).chargeback
    prices = cf.host_path(SERVICES["chargeback"], str(section.prices))
    tenancy = cf.host_path(SERVICES["chargeback"], str(section.tenancy))
    assert prices == cf.COMPOSE_DIR / "prices.yaml" and tenancy == cf.COMPOSE_DIR / "tenancy.yaml"
    load_prices(prices)
    load_tenancy(tenancy)
    # The portal (budgets) and the dashboards (--tenancy) read the same tenancy file.
    assert _settings("portal", _only("portal")).chargeback.tenancy == section.tenancy
    dash = next(a for n, a in COMMANDS if n == "generate" and cf.subcommand_path(a) == ["dashboards", "generate"])
    assert cf.option_value(dash, "--tenancy").replace("$CONFIG", CONFIG_MOUNT) == str(section.tenancy)


def test_sidecar_configurations_are_exporter_configs():
    for name in ("sidecar-fleet", "sidecar-gateway"):
        argv = _only(name)
        path = _config_path(name, argv)
        section = yaml.safe_load(path.read_text())["exporter"]
        cfg = ExporterConfig.model_validate(section)
        assert cfg == _settings(name, argv).exporter
        port = split_listen(cfg.listen)[1]
        health = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in health, name
        assert not cfg.nvml.enabled, f"{name}: no GPU in the compose stack"
        data_mounts = [m for m in cf.mounts(SERVICES[name]) if m.named]
        assert [m.target for m in data_mounts] == ["/var/lib/infermeter"], f"{name}: spool volume"
        assert str(_settings(name, argv).resolved_data_dir()) == "/var/lib/infermeter"


def _simulator_targets() -> list[dict]:
    argv = _only("simulator")
    proc = run_cli(*argv, "--list-targets")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _simulator_address() -> str:
    argv = _only("simulator")
    return f"simulator:{cf.option_value(argv, '--port')}"


def _fleet():
    from infermeter.simulator.fleet import default_fleet

    return default_fleet(int(cf.option_value(_only("simulator"), "--seed")))


def test_fleet_sidecar_scrapes_every_simulated_page():
    targets = _simulator_targets()
    cfg = _settings("sidecar-fleet", _only("sidecar-fleet")).exporter
    scraped = {t.name: t for t in cfg.targets if t.kind != "generic"}
    assert scraped.keys() == {t["name"] for t in targets}
    # Prometheus' firing alerts are stored too (the portal's alert history reads ALERTS series).
    (alerts,) = [t for t in cfg.targets if t.kind == "generic"]
    url = urlsplit(alerts.url)
    assert url.hostname == "prometheus" and url.port == 9090 and url.path == "/federate" and "ALERTS" in url.query
    deployments = {i.name: i.deployment.name for i in _fleet().instances}
    for t in targets:
        mine = scraped[t["name"]]
        assert mine.kind == t["kind"]
        assert mine.url == f"http://{_simulator_address()}{t['path']}"
        assert mine.labels.get("deployment") == deployments.get(t["name"])
    dcgm = sorted(t["name"] for t in targets if t["kind"] == "dcgm")
    assert cfg.allocation.enabled and sorted(cfg.allocation.dcgm_targets) == dcgm
    assert not cfg.allocation.own_pod_only and not cfg.allocation.from_nvml


def test_gateway_sidecar_reads_the_simulated_spans():
    from infermeter.simulator import gateway as sim

    argv = _only("simulator")
    endpoint = urlsplit(cf.option_value(argv, "--otlp-endpoint"))
    gw = _settings("sidecar-gateway", _only("sidecar-gateway")).exporter
    assert endpoint.hostname == "sidecar-gateway" and endpoint.port == split_listen(gw.listen)[1]
    assert gw.gateway is not None and gw.gateway.otlp.enabled and endpoint.path == gw.gateway.otlp.path
    assert sim.TENANT_ATTR in gw.gateway.tenant_attributes
    assert sim.API_KEY_ATTR in gw.gateway.api_key_id_attributes
    assert sim.DEPLOYMENT_ATTR in gw.gateway.deployment_attributes
    assert sim.INSTANCE_ATTR in gw.gateway.instance_attributes
    assert gw.gateway.tenant_cap >= len(_fleet().tenants)
    # The attribute the simulator puts TTFT in (seconds) is read.
    captured = _one_simulated_span(_fleet())
    ttft_attrs = [a for a in captured if "first" in a]
    assert ttft_attrs and all(a in gw.gateway.otlp.ttft_attributes for a in ttft_attrs)
    assert gw.gateway.otlp.ttft_attributes[ttft_attrs[0]] == 1000.0


def _one_simulated_span(fleet) -> dict:
    """The attributes of one span the real simulated gateway emits (in-memory OTel exporter)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from infermeter.simulator.gateway import Gateway
    from infermeter.simulator.traffic import requests_between

    exporter = InMemorySpanExporter()
    gateway = Gateway(fleet, exporter)
    start = 1_767_261_600.0  # a weekday afternoon: traffic
    window = requests_between(fleet, start, start + 60)
    assert len(window) > 0
    gateway.emit(window)
    gateway.shutdown()
    spans = exporter.get_finished_spans()
    assert spans
    return dict(spans[0].attributes)


def test_tenancy_and_prices_match_the_simulated_fleet():
    from infermeter.chargeback.prices import load_prices
    from infermeter.chargeback.tenancy import load_tenancy

    fleet = _fleet()
    tenancy = load_tenancy(cf.COMPOSE_DIR / "tenancy.yaml")
    assert list(tenancy.tenants) == [t.name for t in fleet.tenants]
    assert {k: float(v) for k, v in tenancy.budgets().items()} == {t.name: t.budget for t in fleet.tenants}
    assert set(tenancy.deployments) == {d.name for d in fleet.deployments}
    for d in fleet.deployments:
        mine = tenancy.deployments[d.name]
        assert mine.mode == ("dedicated" if d.tenant else "shared"), d.name
        assert mine.tenant == d.tenant, d.name
        assert mine.billing == ("tokens" if d.server == "external" else "gpu"), d.name
    prices = load_prices(cf.COMPOSE_DIR / "prices.yaml")
    period = prices.model.periods[0]
    for d in fleet.deployments:
        if d.server == "external":
            assert d.model in period.tokens, d.model
        else:
            assert d.gpu.model in period.gpu_hour, d.gpu.model
            if d.gpu.mig_profile:
                assert d.gpu.mig_profile in period.mig_hour[d.gpu.model]
    assert prices.currency == fleet.currency


def test_portal_configuration():
    from infermeter.dashboards.portal.auth import principal_from_bearer, token_digests

    argv = _only("portal")
    settings = _settings("portal", argv)
    portal = settings.portal
    assert portal.host == "0.0.0.0" and portal.auth.tokens and not portal.auth.anonymous_admin
    published = [p for p in SERVICES["portal"]["ports"] if p.endswith(f":{portal.port}")]
    assert published, "the portal's port is not published"
    assert f"127.0.0.1:{portal.port}{portal.base_path}healthz" in " ".join(SERVICES["portal"]["healthcheck"]["test"])
    specs = cf.host_path(SERVICES["portal"], str(portal.slo_specs))
    assert specs is not None and specs.is_dir()
    env = _service_env("portal")
    missing = [t.env for t in portal.auth.tokens if t.env not in env]
    assert not missing, f"portal tokens read variables the compose file does not set: {missing}"
    old = {t.env: os.environ.get(t.env) for t in portal.auth.tokens}
    os.environ.update({t.env: env[t.env] for t in portal.auth.tokens})
    try:
        digests = token_digests(portal.auth)  # readable, 16 characters or more
        for token in portal.auth.tokens:
            me = principal_from_bearer(portal.auth, digests, f"Bearer {env[token.env]}")
            assert me is not None and me.name == token.name and me.admin == token.admin
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


# --------------------------------------------------------------------------- generated files


def _local(path: str, generated: Path) -> Path:
    assert path.startswith(GENERATED_MOUNT + "/"), path
    return generated / path[len(GENERATED_MOUNT) + 1:]


def test_generate_writes_rules_alertmanager_and_dashboards(generated):
    specs = sorted(p.name for p in (cf.COMPOSE_DIR / "slo").glob("*.yaml"))
    rules = sorted(p.name for p in (generated / "rules").iterdir())
    assert set(specs) <= set(rules) and "tenant-budgets.yml" in rules
    assert (generated / "alertmanager/alertmanager.yml").is_file()
    dashboards = sorted(p.stem for p in (generated / "grafana/dashboards").glob("*.json"))
    listed = run_cli("dashboards", "list")
    assert dashboards == sorted(line.split("\t")[0] for line in listed.stdout.splitlines() if line.strip())
    for path in (generated / "grafana/dashboards").glob("*.json"):
        json.loads(path.read_text())


def test_grafana_provisioning_points_at_the_stack(generated):
    grafana = SERVICES["grafana"]
    env = cf.environment(grafana)
    provisioning = _local(env["GF_PATHS_PROVISIONING"], generated)
    assert _local(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"], generated).is_file()
    assert any(m.target == GENERATED_MOUNT and m.named and m.read_only for m in cf.mounts(grafana))
    sources = yaml.safe_load((provisioning / "datasources/infermeter.yaml").read_text())["datasources"]
    by_type = {s["type"]: s for s in sources}
    prom = by_type["prometheus"]
    assert urlsplit(prom["url"]).hostname == "prometheus" and urlsplit(prom["url"]).port == 9090
    ch = by_type["grafana-clickhouse-datasource"]
    assert ch["jsonData"]["host"] == "clickhouse" and ch["jsonData"]["port"] == 8123
    assert ch["jsonData"]["defaultDatabase"] == _service_env("clickhouse")["CLICKHOUSE_DB"]
    password_var = ch["secureJsonData"]["password"].lstrip("$")
    assert env[password_var] == _service_env("clickhouse")["GRAFANA_CLICKHOUSE_PASSWORD"]
    # The read-only user Grafana logs in as is the one the ClickHouse init script creates.
    init = (cf.COMPOSE_DIR / "clickhouse/initdb").glob("*.sh")
    assert any(f"CREATE USER IF NOT EXISTS {ch['jsonData']['username']} " in p.read_text() for p in init)
    providers = yaml.safe_load((provisioning / "dashboards/infermeter.yaml").read_text())["providers"]
    path = providers[0]["options"]["path"]
    assert _local(path, generated) == generated / "grafana/dashboards"


def _prometheus_config_for(generated: Path, tmp_path: Path) -> Path:
    text = (cf.COMPOSE_DIR / "prometheus.yml").read_text()
    local = tmp_path / "prometheus.yml"
    local.write_text(text.replace(GENERATED_MOUNT + "/", str(generated) + "/"))
    return local


def test_promtool_checks_the_prometheus_config_with_the_generated_rules(generated, tmp_path):
    promtool = require_binary("promtool", "prometheus")
    prom = SERVICES["prometheus"]
    assert cf.host_path(prom, "/etc/prometheus/prometheus.yml") == cf.COMPOSE_DIR / "prometheus.yml"
    assert any(m.target == GENERATED_MOUNT and m.named and m.read_only for m in cf.mounts(prom))
    proc = subprocess.run([promtool, "check", "config", str(_prometheus_config_for(generated, tmp_path))],
                          capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    checked = re.findall(r"SUCCESS: (\d+) rules found", output)
    rule_files = list((generated / "rules").iterdir())
    assert len(checked) == len(rule_files) and all(int(n) > 0 for n in checked), output


def test_prometheus_scrapes_the_simulator_and_the_sidecars():
    config = yaml.safe_load((cf.COMPOSE_DIR / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    deployments = {i.name: i.deployment.name for i in _fleet().instances}
    seen = {}
    for job in jobs.values():
        for group in job.get("static_configs", []):
            labels = group.get("labels", {})
            for target in group["targets"]:
                if target == _simulator_address():
                    seen[labels["instance"]] = (job["job_name"], labels)
    targets = _simulator_targets()
    assert seen.keys() == {t["name"] for t in targets}
    for t in targets:
        job, labels = seen[t["name"]]
        assert job == t["kind"] and labels["__metrics_path__"] == t["path"]
        if t["kind"] in ("vllm", "triton"):
            assert labels["deployment"] == deployments[t["name"]]
    sidecars = {t for g in jobs["infermeter-sidecar"]["static_configs"] for t in g["targets"]}
    for name in ("sidecar-fleet", "sidecar-gateway"):
        port = split_listen(_settings(name, _only(name)).exporter.listen)[1]
        assert f"{name}:{port}" in sidecars
    am = [t for a in config["alerting"]["alertmanagers"] for g in a["static_configs"] for t in g["targets"]]
    assert am == ["alertmanager:9093"]


def test_amtool_checks_the_generated_alertmanager_config(generated):
    amtool = require_binary("amtool", "prometheus-alertmanager")
    am = SERVICES["alertmanager"]
    config_flag = next(a for a in am["command"] if a.startswith("--config.file="))
    path = _local(config_flag.split("=", 1)[1], generated)
    proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Every webhook goes to a service of the stack.
    config = yaml.safe_load(path.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            host = urlsplit(hook["url"]).hostname
            assert host in SERVICES, f"receiver {receiver['name']}: {host} is not a compose service"


def test_slo_specs_name_services_the_routing_knows():
    from infermeter.alerts.spec import load_spec
    from infermeter.slo.service import Settings, validate_paths

    report = validate_paths(cf.COMPOSE_DIR / "slo", Settings(), False, False)
    assert report.ok, report.errors
    services = {yaml.safe_load(p.read_text())["service"] for p in (cf.COMPOSE_DIR / "slo").glob("*.yaml")}
    routing = load_spec(cf.COMPOSE_DIR / "routing.yaml")
    owned = {s for team in routing.teams for s in team.services}
    assert services <= owned, f"SLO services without a team: {services - owned}"


# --------------------------------------------------------------------------- the Dockerfile


def _dockerfile() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in cf.DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#"):
            continue
        current += raw.rstrip("\\").rstrip() + " " if raw.rstrip().endswith("\\") else raw
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def _areas() -> tuple[str, ...]:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "AREAS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no AREAS")


def test_dockerfile_installs_the_project():
    instructions = _dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copied = set()
    for word, rest in instructions:
        if word == "COPY":
            copied.update(rest.split()[:-1])
    needed = {"pyproject.toml", "setup.py", "README.md", "infermeter", *_areas()}
    assert needed <= copied, f"not copied into the image: {needed - copied}"
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs)
    # The simulated gateway's OTLP exporter is only a dev extra of the package.
    if cf.option_value(_only("simulator"), "--otlp-endpoint"):
        assert "opentelemetry-exporter-otlp-proto-http" in runs
    assert ("ENTRYPOINT", '["infermeter"]') in instructions
    user = [rest for word, rest in instructions if word == "USER"]
    assert user and user[-1] not in ("root", "0")
    ignore = (cf.DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert not needed & set(ignore)


DATA_SUFFIXES = {".sql", ".css", ".js", ".html", ".yaml", ".yml", ".json", ".typed"}


def test_the_image_context_builds_a_complete_wheel(tmp_path):
    """`pip install .` on exactly what the Dockerfile copies: a wheel with every package and data file."""
    context = tmp_path / "context"
    context.mkdir()
    for word, rest in _dockerfile():
        if word == "COPY":
            *sources, _ = rest.split()
            for src in sources:
                path = REPO / src
                if path.is_dir():
                    shutil.copytree(path, context / src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(path, context / src)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(context)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("infermeter-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for area in ("infermeter", *_areas()):
        assert any(n.startswith(f"infermeter/{area}/" if area != "infermeter" else "infermeter/cli/") for n in names), area
    assert any(n.endswith("entry_points.txt") for n in names)
    # Every data file the code reads at run time (migrations, portal assets, ...) is packaged:
    # an image without them cannot migrate a store or style the portal.
    missing = []
    for area in ("infermeter", *_areas()):
        for path in sorted((REPO / area).rglob("*")):
            if path.is_file() and path.suffix in DATA_SUFFIXES and "__pycache__" not in path.parts:
                rel = path.relative_to(REPO)
                packaged = "infermeter/" + (str(rel) if area != "infermeter" else str(rel.relative_to("infermeter")))
                if packaged not in names:
                    missing.append(str(rel))
    assert not missing, f"`pip install .` leaves out data files (pyproject.toml package-data): {missing}"


# --------------------------------------------------------------------------- Kubernetes


def _k8s_docs() -> dict[str, list[dict]]:
    out = {}
    for path in sorted(cf.K8S_DIR.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, path
        for d in docs:
            assert {"apiVersion", "kind", "metadata"} <= d.keys(), f"{path.name}: {d.get('kind')}"
        out[path.name] = docs
    return out


def _containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"]


def test_kubernetes_manifests_run_real_commands():
    docs = _k8s_docs()
    assert "portal.yaml" in docs
    images = set()
    for name, items in docs.items():
        for doc in items:
            if doc["kind"] != "Deployment":
                continue
            for ct in _containers(doc):
                command = ct.get("command") or []
                if not command or command[0] != "infermeter":
                    continue
                images.add(ct["image"])
                path = cf.subcommand_path(command[1:])
                proc = run_cli(*path, "--help")
                assert proc.returncode == 0, f"{name}: infermeter {' '.join(path)}: {proc.stderr}"
                for option in cf.options(command[1:]):
                    assert option in proc.stdout, f"{name}: {option}"
                if path == ["exporter", "run"]:
                    env = {e["name"]: e for e in ct["env"]}
                    for var, _label in ec.K8S_ENV_LABELS:
                        assert var in env and "fieldRef" in env[var]["valueFrom"], f"{name}: ${var}"
    assert len(images) == 1, f"the manifests use different infermeter images: {images}"


def _portal_parts():
    docs = {d["kind"]: d for d in _k8s_docs()["portal.yaml"]}
    assert docs.keys() == {"ConfigMap", "Deployment", "Service"}
    containers = {c["name"]: c for c in _containers(docs["Deployment"])}
    return docs, containers


def _portal_settings(tmp_path, docs, portal_ct):
    mounts = {m["name"]: m["mountPath"] for m in portal_ct["volumeMounts"]}
    volumes = {v["name"]: v for v in docs["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    config_arg = cf.option_value(portal_ct["command"], "-c", "--config")
    config_dir = str(Path(config_arg).parent)
    volume = next(n for n, p in mounts.items() if p == config_dir)
    assert volumes[volume]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    data = docs["ConfigMap"]["data"]
    for key, text in data.items():
        (tmp_path / key).write_text(text)
    settings = load_settings(tmp_path / Path(config_arg).name)
    return settings, config_dir, data


def test_portal_manifest_auth_proxy_mode(tmp_path):
    from infermeter.dashboards.portal.auth import principal_from_proxy
    from infermeter.slo.service import Settings, validate_paths

    docs, containers = _portal_parts()
    portal_ct, proxy_ct = containers["portal"], containers["oauth2-proxy"]
    assert portal_ct["command"][:2] == ["infermeter", "portal"]
    settings, config_dir, data = _portal_settings(tmp_path, docs, portal_ct)
    portal = settings.portal
    # Only the proxy in the pod reaches the portal, and only its headers count.
    assert portal.host == "127.0.0.1" and portal.auth.proxy.enabled and not portal.auth.anonymous_admin
    args = dict(a.split("=", 1) for a in proxy_ct["args"])
    upstream = urlsplit(args["--upstream"])
    assert upstream.hostname == "127.0.0.1" and upstream.port == portal.port
    assert args["--pass-user-headers"] == "true"
    assert portal.auth.proxy.user_header == "X-Forwarded-User" and portal.auth.proxy.groups_header == "X-Forwarded-Groups"
    group, tenants = next(iter(portal.auth.proxy.group_tenants.items()))
    headers = {"X-Forwarded-User": "dev@example.com", "X-Forwarded-Groups": f"staff, {group}"}
    me = principal_from_proxy(portal.auth.proxy, headers, "127.0.0.1")
    assert me is not None and not me.admin and me.tenants == frozenset(tenants)
    assert principal_from_proxy(portal.auth.proxy, headers, "10.1.2.3") is None  # not the pod's proxy
    admin = principal_from_proxy(portal.auth.proxy, {"X-Forwarded-User": "a", "X-Forwarded-Groups": portal.auth.proxy.admin_groups[0]}, "127.0.0.1")
    assert admin is not None and admin.admin
    # The Service reaches the proxy's port; the portal exposes none; probes hit its /healthz.
    service_port = docs["Service"]["spec"]["ports"][0]["targetPort"]
    assert service_port in {p["name"] for p in proxy_ct["ports"]}
    assert not portal_ct.get("ports")
    for probe in ("readinessProbe", "livenessProbe"):
        assert f"http://127.0.0.1:{portal.port}{portal.base_path}healthz" in " ".join(portal_ct[probe]["exec"]["command"])
    # Store password and OIDC secrets come from Secrets; the SLO specs from the ConfigMap.
    env = {e["name"]: e for e in portal_ct["env"]}
    assert "secretKeyRef" in env["INFERMETER_STORE__PASSWORD"]["valueFrom"]
    proxy_env = {e["name"] for e in proxy_ct["env"]}
    assert {"OAUTH2_PROXY_CLIENT_ID", "OAUTH2_PROXY_CLIENT_SECRET", "OAUTH2_PROXY_COOKIE_SECRET"} <= proxy_env
    slo_specs = str(portal.slo_specs)
    assert slo_specs.startswith(config_dir + "/") and Path(slo_specs).name in data
    report = validate_paths(tmp_path / Path(slo_specs).name, Settings(), False, False)
    assert report.ok, report.errors
    # Writable paths exist under a read-only root filesystem.
    if portal_ct["securityContext"].get("readOnlyRootFilesystem"):
        mounted = {m["mountPath"] for m in portal_ct["volumeMounts"]}
        assert str(settings.resolved_data_dir()) in mounted and "/tmp" in mounted


def test_portal_manifest_uses_the_sidecars_store_and_secret():
    """The portal reads the ClickHouse the sidecars write, with the same Secret."""
    docs = _k8s_docs()
    portal_docs = {d["kind"]: d for d in docs["portal.yaml"]}
    portal_store = yaml.safe_load(portal_docs["ConfigMap"]["data"]["infermeter.yaml"])["store"]
    stores = []
    for name, items in docs.items():
        for doc in items:
            if name != "portal.yaml" and doc["kind"] == "ConfigMap":
                for text in (doc.get("data") or {}).values():
                    data = yaml.safe_load(text)
                    if isinstance(data, dict) and "store" in data:
                        stores.append(data["store"])
    for store in stores:
        assert store["url"] == portal_store["url"]
    secrets = set()
    for items in docs.values():
        for doc in items:
            if doc["kind"] == "Deployment":
                for ct in _containers(doc):
                    for e in ct.get("env") or []:
                        if e["name"] == "INFERMETER_STORE__PASSWORD":
                            ref = e["valueFrom"]["secretKeyRef"]
                            secrets.add((ref["name"], ref["key"]))
    assert len(secrets) == 1, secrets
