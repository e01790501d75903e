"""Routing spec -> a complete Alertmanager configuration (a dict, then YAML text).

Pure apart from the :class:`Secrets` sink, which reads environment variables and plans the secret
files the CLI writes (mode 0600): a secret is never inlined where Alertmanager has a ``*_file``
field for it.

Route tree, first match wins under the root (whose receiver is ``default_receiver``):

1. the spec's explicit ``routes`` in order;
2. per team, alerts labelled ``team="<name>"``, then alerts of the team's services
   (``sloth_service``), then alerts of the team's tenants (``tenant``); each of these has two
   children: ``sloth_severity="page"`` -> the page receiver, ``sloth_severity="ticket"`` -> the
   ticket receiver (only during ``ticket_time_intervals`` when given).

One inhibition rule: a firing page silences the tickets with the same ``sloth_id`` and ``tenant``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infermeter.alerts import conventions as c
from infermeter.alerts.spec import (
    EmailReceiver,
    OpsgenieReceiver,
    PagerDutyReceiver,
    Receiver,
    Route,
    RoutingSpec,
    SlackReceiver,
    Team,
    TimeInterval,
    Timing,
    WebhookReceiver,
)
from infermeter.errors import ConfigError

SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }} {{ .CommonLabels.sloth_service }} {{ .CommonLabels.sloth_slo }}"
    "{{ with .CommonLabels.tenant }} tenant {{ . }}{{ end }}"
)
SLACK_TEXT = (
    "{{ range .Alerts }}{{ .Annotations.summary }}"
    "{{ if .Annotations.runbook_url }}\nRunbook: {{ .Annotations.runbook_url }}{{ end }}"
    "{{ if .Annotations.dashboard_url }}\nDashboard: {{ .Annotations.dashboard_url }}{{ end }}\n{{ end }}"
)


# --- Matchers ----------------------------------------------------------------------------------------
def quote(value: str) -> str:
    """A matcher value in double quotes, as Alertmanager's matcher parser reads it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def regex_literal(value: str) -> str:
    """``value`` as an RE2 pattern matching only itself (metacharacters escaped, nothing else)."""
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", value)


def matcher(label: str, values: str | list[str]) -> str:
    """``label="v"`` for one value, ``label=~"a|b"`` (literal alternatives) for several."""
    if isinstance(values, str):
        return f"{label}={quote(values)}"
    if len(values) == 1:
        return f"{label}={quote(values[0])}"
    return f"{label}=~{quote('|'.join(regex_literal(v) for v in values))}"


def _route_matchers(route: Route) -> list[str]:
    out = [matcher(c.MATCH_KEYS[k], v) for k, v in route.match.items()]
    out += [matcher(k, v) for k, v in route.labels.items()]
    return out


# --- Secrets ---------------------------------------------------------------------------------------
@dataclass
class Secrets:
    """Where ``*_env`` secrets go: read from ``environ`` and planned as files under ``directory``
    (referenced by absolute path). ``files`` is what the caller must write. Errors name the field
    only: the caller adds the file."""

    directory: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    files: dict[Path, str] = field(default_factory=dict)
    placeholders: bool = False  # routing only (alerts test): no variable is read, no file planned

    def value(self, var: str, where: str) -> str:
        if self.placeholders:
            return f"${{{var}}}"
        value = self.environ.get(var)
        if not value:
            raise ConfigError(f"field {where}: environment variable {var} is not set")
        return value

    def file(self, var: str, where: str, name: str) -> str:
        value = self.value(var, where)
        if self.placeholders:
            return f"<secrets-dir>/{name}"
        if self.directory is None:
            raise ConfigError(f"field {where}: a secret from ${var} is written to a file: give --secrets-dir")
        path = (self.directory / name).absolute()
        self.files[path] = value
        return str(path)


def _secret(cfg: Any, key: str, where: str, receiver: str, secrets: Secrets) -> dict[str, str]:
    """``{key}_file`` from a file path or from an environment variable (written to a file)."""
    path, var = getattr(cfg, f"{key}_file", None), getattr(cfg, f"{key}_env", None)
    if path:
        return {f"{key}_file": path}
    if var:
        return {f"{key}_file": secrets.file(var, f"{where}.{key}_env", f"{receiver}.{key}")}
    return {}


def _optional(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# --- Receivers -------------------------------------------------------------------------------------
def _webhook(cfg: WebhookReceiver, where: str, name: str, spec: RoutingSpec, secrets: Secrets) -> dict[str, Any]:
    if cfg.url_file:
        url = {"url_file": cfg.url_file}
    elif cfg.url_env:  # Alertmanager 0.25 has no url_file: the only place for it is the file itself
        url = {"url": secrets.value(cfg.url_env, f"{where}.url_env")}
    else:
        url = {"url": cfg.url}
    out: dict[str, Any] = {"send_resolved": cfg.send_resolved, **url}
    if cfg.max_alerts:
        out["max_alerts"] = cfg.max_alerts
    return out


def _pagerduty(cfg: PagerDutyReceiver, where: str, name: str, spec: RoutingSpec, secrets: Secrets) -> dict[str, Any]:
    key = _secret(cfg, "routing_key", where, name, secrets) or _secret(cfg, "service_key", where, name, secrets)
    return {"send_resolved": cfg.send_resolved, **key, **_optional(url=cfg.url, severity=cfg.severity)}


def _slack(cfg: SlackReceiver, where: str, name: str, spec: RoutingSpec, secrets: Secrets) -> dict[str, Any]:
    url = _secret(cfg, "api_url", where, name, secrets)
    if not url and not spec.global_.slack_api_url_file:
        raise ConfigError(f"field {where}.api_url_file: required (or global.slack_api_url_file)")
    return {"send_resolved": cfg.send_resolved, **url, "channel": cfg.channel, "title": SLACK_TITLE, "text": SLACK_TEXT}


def _email(cfg: EmailReceiver, where: str, name: str, spec: RoutingSpec, secrets: Secrets) -> dict[str, Any]:
    if not (cfg.from_ or spec.global_.smtp_from):
        raise ConfigError(f"field {where}.from: required (or global.smtp_from)")
    if not (cfg.smarthost or spec.global_.smtp_smarthost):
        raise ConfigError(f"field {where}.smarthost: required (or global.smtp_smarthost)")
    out = {"send_resolved": cfg.send_resolved, "to": cfg.to}
    out |= _optional(**{"from": cfg.from_}, smarthost=cfg.smarthost, auth_username=cfg.auth_username)
    out |= _secret(cfg, "auth_password", where, name, secrets)
    return out | _optional(require_tls=cfg.require_tls)


def _opsgenie(cfg: OpsgenieReceiver, where: str, name: str, spec: RoutingSpec, secrets: Secrets) -> dict[str, Any]:
    key = _secret(cfg, "api_key", where, name, secrets)
    if not key:
        raise ConfigError(f"field {where}.api_key_file: required (or api_key_env)")
    return {"send_resolved": cfg.send_resolved, **key, **_optional(api_url=cfg.api_url, priority=cfg.priority)}


_RENDER = {"webhook": _webhook, "pagerduty": _pagerduty, "slack": _slack, "email": _email, "opsgenie": _opsgenie}


def receiver_dict(receiver: Receiver, where: str, spec: RoutingSpec, secrets: Secrets) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    for kind, render in _RENDER.items():
        configs = getattr(receiver, kind)
        if configs:
            out[f"{kind}_configs"] = [
                render(cfg, f"{where}.{kind}[{k}]", receiver.name, spec, secrets) for k, cfg in enumerate(configs)
            ]
    return out


def _receivers(spec: RoutingSpec, secrets: Secrets) -> list[dict[str, Any]]:
    out = [receiver_dict(r, f"receivers[{j}]", spec, secrets) for j, r in enumerate(spec.receivers)]
    for i, team in enumerate(spec.teams):
        out += [receiver_dict(r, f"teams[{i}].receivers[{j}]", spec, secrets) for j, r in enumerate(team.receivers)]
    return out


# --- Routes ----------------------------------------------------------------------------------------
def _timing(t: Timing | None) -> dict[str, str]:
    return t.model_dump(exclude_none=True) if t else {}


def _team_route(spec: RoutingSpec, team: Team, match: str) -> dict[str, Any]:
    page = {
        "receiver": team.page_receiver,
        "matchers": [matcher(c.LABEL_SEVERITY, c.SEVERITY_PAGE)],
        **_timing(spec.timing_for(c.SEVERITY_PAGE, team)),
    }
    ticket: dict[str, Any] = {
        "receiver": team.ticket_receiver,
        "matchers": [matcher(c.LABEL_SEVERITY, c.SEVERITY_TICKET)],
        **_timing(spec.timing_for(c.SEVERITY_TICKET, team)),
    }
    if team.ticket_time_intervals:
        ticket["active_time_intervals"] = list(team.ticket_time_intervals)
    return {
        "receiver": team.ticket_receiver,
        "matchers": [match],
        **_timing(spec.timing_for(c.SEVERITY_TICKET, team)),
        "routes": [page, ticket],
    }


def _explicit_route(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": route.receiver, "matchers": _route_matchers(route)}
    if route.group_by is not None:
        out["group_by"] = list(route.group_by)
    out |= _timing(route.timing)
    if route.active_time_intervals:
        out["active_time_intervals"] = list(route.active_time_intervals)
    if route.mute_time_intervals:
        out["mute_time_intervals"] = list(route.mute_time_intervals)
    if route.continue_:
        out["continue"] = True
    return out


def routes(spec: RoutingSpec) -> list[dict[str, Any]]:
    """Explicit routes, then every team by ``team`` label, then by service, then by tenant: an
    SLO's own team label beats its service, which beats its tenant, whatever the team order."""
    out = [_explicit_route(r) for r in spec.routes]
    out += [_team_route(spec, t, matcher(c.LABEL_TEAM, t.name)) for t in spec.teams]
    out += [_team_route(spec, t, matcher(c.LABEL_SERVICE, list(t.services))) for t in spec.teams if t.services]
    out += [_team_route(spec, t, matcher(c.LABEL_TENANT, list(t.tenants))) for t in spec.teams if t.tenants]
    return out


# --- Time intervals, inhibition, global -------------------------------------------------------------
def _interval(ti: TimeInterval) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ti.times:
        out["times"] = [t.model_dump() for t in ti.times]
    for key in ("weekdays", "days_of_month", "months", "years"):
        if getattr(ti, key):
            out[key] = list(getattr(ti, key))
    if ti.location:
        out["location"] = ti.location
    return out


def inhibit_rules(spec: RoutingSpec) -> list[dict[str, Any]]:
    return [
        {
            "source_matchers": [matcher(c.LABEL_SEVERITY, c.SEVERITY_PAGE)],
            "target_matchers": [matcher(c.LABEL_SEVERITY, c.SEVERITY_TICKET)],
            "equal": list(spec.inhibit.equal),
        }
    ]


def alertmanager_config(spec: RoutingSpec, secrets: Secrets | None = None) -> dict[str, Any]:
    """The whole Alertmanager configuration for a (validated) routing spec."""
    secrets = secrets or Secrets()
    root: dict[str, Any] = {
        "receiver": spec.default_receiver,
        "group_by": list(spec.group_by),
        **_timing(spec.timing_for(c.SEVERITY_TICKET)),
        "routes": routes(spec),
    }
    config: dict[str, Any] = {
        "global": spec.global_.model_dump(exclude_none=True),
        "route": root,
        "inhibit_rules": inhibit_rules(spec),
        "receivers": _receivers(spec, secrets),
    }
    if spec.time_intervals:
        config["time_intervals"] = [
            {"name": name, "time_intervals": [_interval(t) for t in items]} for name, items in spec.time_intervals.items()
        ]
    return config


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (notification templates) as literal blocks."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)


def render(config: dict[str, Any], source: str = "") -> str:
    origin = f" from {source}" if source else ""
    header = f"# Code generated by infermeter alerts generate{origin}.\n# DO NOT EDIT.\n"
    body = yaml.dump(config, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
    return header + body
