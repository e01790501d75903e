"""The routing spec (``routing.yaml``): teams, their receivers, routes, business hours, grouping
and tenant budget thresholds. Pydantic models (no logic beyond field checks) and the loader, whose
errors name the file and the field (``routing.yaml: field teams[1].page: unknown receiver 'x'``)."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infermeter.alerts import conventions as c
from infermeter.errors import ConfigError
from infermeter.slo.durations import DurationError, parse_duration

SPEC_VERSION = "infermeter/v1"
SPEC_KIND = "Routing"
_NAME_RE = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _duration(value: Any) -> str:
    text = str(value)
    try:
        if parse_duration(text) <= 0:
            raise ValueError("must be a positive duration")
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    return text


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid name (letters, digits, '-', '_', '.')")
    return value


# --- Secrets -------------------------------------------------------------------------------------
class _SecretSource(_Model):
    """A secret is read from a file (kept as a ``*_file`` path) or an environment variable."""

    @model_validator(mode="after")
    def _one_source(self) -> "_SecretSource":
        for field in self.secret_fields():
            given = [f"{field}{suffix}" for suffix in ("_file", "_env") if getattr(self, f"{field}{suffix}", None)]
            if len(given) > 1:
                raise ValueError(f"give only one of {' or '.join(given)}")
        return self

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return ()


class WebhookReceiver(_SecretSource):
    url: str | None = None
    url_env: str | None = Field(None, description="Inlined: Alertmanager 0.25 has no url_file.")
    url_file: str | None = Field(None, description="Needs Alertmanager >= 0.26.")
    send_resolved: bool = True
    max_alerts: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _one_url(self) -> "WebhookReceiver":
        given = [n for n in ("url", "url_env", "url_file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of url, url_env or url_file")
        return self


class PagerDutyReceiver(_SecretSource):
    routing_key_file: str | None = None
    routing_key_env: str | None = None
    service_key_file: str | None = None
    service_key_env: str | None = None
    url: str | None = None
    severity: str | None = None
    send_resolved: bool = True

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return ("routing_key", "service_key")

    @model_validator(mode="after")
    def _one_key(self) -> "PagerDutyReceiver":
        given = [n for n in ("routing_key_file", "routing_key_env", "service_key_file", "service_key_env") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of routing_key_file, routing_key_env, service_key_file, service_key_env")
        return self


class SlackReceiver(_SecretSource):
    channel: str
    api_url_file: str | None = Field(None, description="Default: global.slack_api_url_file.")
    api_url_env: str | None = None
    send_resolved: bool = True

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return ("api_url",)


class EmailReceiver(_SecretSource):
    to: str
    from_: str | None = Field(None, alias="from")
    smarthost: str | None = None
    auth_username: str | None = None
    auth_password_file: str | None = None
    auth_password_env: str | None = None
    require_tls: bool | None = None
    send_resolved: bool = False

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return ("auth_password",)


class OpsgenieReceiver(_SecretSource):
    api_key_file: str | None = None
    api_key_env: str | None = None
    api_url: str | None = None
    priority: str | None = None
    send_resolved: bool = True

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return ("api_key",)


RECEIVER_KINDS = ("webhook", "pagerduty", "slack", "email", "opsgenie")


class Receiver(_Model):
    """A named notification target; one or more integrations (each may be a list)."""

    name: str
    webhook: list[WebhookReceiver] = Field(default_factory=list)
    pagerduty: list[PagerDutyReceiver] = Field(default_factory=list)
    slack: list[SlackReceiver] = Field(default_factory=list)
    email: list[EmailReceiver] = Field(default_factory=list)
    opsgenie: list[OpsgenieReceiver] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _name(value)

    @field_validator(*RECEIVER_KINDS, mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _some_integration(self) -> "Receiver":
        if not any(getattr(self, kind) for kind in RECEIVER_KINDS):
            raise ValueError(f"receiver {self.name!r} has no integration (one of {', '.join(RECEIVER_KINDS)})")
        return self


# --- Timing and grouping -------------------------------------------------------------------------
class Timing(_Model):
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None

    @field_validator("group_wait", "group_interval", "repeat_interval", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> str | None:
        return None if value is None else _duration(value)


def _default_timing() -> dict[str, Timing]:
    return {
        c.SEVERITY_PAGE: Timing(group_wait="30s", group_interval="5m", repeat_interval="1h"),
        c.SEVERITY_TICKET: Timing(group_wait="5m", group_interval="30m", repeat_interval="24h"),
    }


# --- Time intervals (Alertmanager's time_intervals, checked here so errors name the field) ---------
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")


def _minutes(text: str) -> int:
    m = _TIME_RE.match(text)
    if not m or int(m.group(2)) > 59 or int(m.group(1)) > 24 or (int(m.group(1)) == 24 and m.group(2) != "00"):
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 00:00 to 24:00)")
    return int(m.group(1)) * 60 + int(m.group(2))


class TimeRange(_Model):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _ordered(self) -> "TimeRange":
        if _minutes(self.start_time) >= _minutes(self.end_time):
            raise ValueError(f"start_time {self.start_time} must be before end_time {self.end_time}")
        return self


def _range(value: Any, parse, what: str, order=lambda n: n) -> str:
    text = str(value).strip().lower()
    lo, sep, hi = text.partition(":")
    a = parse(lo)
    b = parse(hi) if sep else a
    if order(a) > order(b):
        raise ValueError(f"{what} range {value!r}: start is after end")
    return text


def _named(names: tuple[str, ...], offset: int, what: str):
    def parse(token: str) -> int:
        if token in names:
            return names.index(token) + offset
        if offset and token.isdigit() and 1 <= int(token) <= len(names):
            return int(token)
        raise ValueError(f"{token!r} is not a {what}")

    return parse


def _day_of_month(token: str) -> int:
    try:
        day = int(token)
    except ValueError:
        raise ValueError(f"{token!r} is not a day of month") from None
    if day == 0 or not -31 <= day <= 31:
        raise ValueError(f"day of month {day} is out of range (1..31 or -31..-1)")
    return day


def _year(token: str) -> int:
    if not token.isdigit():
        raise ValueError(f"{token!r} is not a year")
    return int(token)


class TimeInterval(_Model):
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str | None = None

    @field_validator("weekdays", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> list[str]:
        return [_range(v, _named(_WEEKDAYS, 0, "weekday"), "weekday") for v in value or []]

    @field_validator("days_of_month", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        # As Alertmanager: negative days count from the end, compared as if months had 30 days.
        return [_range(v, _day_of_month, "day of month", lambda d: d if d > 0 else 30 + d) for v in value or []]

    @field_validator("months", mode="before")
    @classmethod
    def _months(cls, value: Any) -> list[str]:
        return [_range(v, _named(_MONTHS, 1, "month"), "month") for v in value or []]

    @field_validator("years", mode="before")
    @classmethod
    def _years(cls, value: Any) -> list[str]:
        return [_range(v, _year, "year") for v in value or []]

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is None or value in ("UTC", "Local"):
            return value
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone (IANA name such as Europe/Paris)") from None
        return value


# --- Teams and routes ------------------------------------------------------------------------------
class Team(_Model):
    name: str
    receivers: list[Receiver] = Field(default_factory=list)
    page: str | None = Field(None, description="Receiver for pages (default: the team's first receiver).")
    ticket: str | None = Field(None, description="Receiver for tickets (default: the page receiver).")
    services: list[str] = Field(default_factory=list, description="SLO services (sloth_service) owned.")
    tenants: list[str] = Field(default_factory=list, description="Tenants whose alerts this team gets.")
    ticket_time_intervals: list[str] = Field(default_factory=list, description="Tickets only in these.")
    timing: dict[Literal["page", "ticket"], Timing] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _name(value)

    @property
    def page_receiver(self) -> str:
        return self.page or self.receivers[0].name

    @property
    def ticket_receiver(self) -> str:
        return self.ticket or self.page_receiver


class Route(_Model):
    """An explicit route, tried before the team routes."""

    receiver: str
    match: dict[str, str | list[str]] = Field(default_factory=dict, description="service/severity/team/tenant/slo/alertname.")
    labels: dict[str, str | list[str]] = Field(default_factory=dict, description="Any other alert label.")
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    timing: Timing | None = None
    active_time_intervals: list[str] = Field(default_factory=list)
    mute_time_intervals: list[str] = Field(default_factory=list)

    @field_validator("match")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key not in c.MATCH_KEYS:
                raise ValueError(f"unknown match key {key!r} (use {', '.join(c.MATCH_KEYS)}, or labels: for others)")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not _LABEL_RE.match(key):
                raise ValueError(f"{key!r} is not a label name")
        return value

    @model_validator(mode="after")
    def _some_matcher(self) -> "Route":
        if not self.match and not self.labels:
            raise ValueError("a route needs match: or labels: (the default_receiver takes everything else)")
        return self


class Threshold(_Model):
    share: float = Field(gt=0, description="Share of the month's budget spent: 0.8 = 80%.")
    severity: Literal["page", "ticket"] = "ticket"


def _default_thresholds() -> list[Threshold]:
    return [Threshold(share=0.8, severity="ticket"), Threshold(share=1.0, severity="page")]


class TenantBudgets(_Model):
    """Prometheus alert rules on the exposed ``infermeter_tenant_budget_used_ratio`` gauge."""

    enabled: bool = True
    thresholds: list[Threshold] = Field(default_factory=_default_thresholds)
    tenants: dict[str, list[Threshold]] = Field(default_factory=dict, description="Per-tenant thresholds.")
    runbook_url: str | None = None
    for_: str = Field("0s", alias="for")

    @field_validator("for_", mode="before")
    @classmethod
    def _for(cls, value: Any) -> str:
        text = str(value)
        try:
            parse_duration(text)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        return text


class Inhibit(_Model):
    equal: list[str] = Field(default_factory=lambda: list(c.DEFAULT_INHIBIT_EQUAL))


class GlobalConfig(_Model):
    resolve_timeout: str = "5m"
    smtp_from: str | None = None
    smtp_smarthost: str | None = None
    smtp_require_tls: bool | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str | None = None
    opsgenie_api_url: str | None = None

    @field_validator("resolve_timeout", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> str:
        return _duration(value)


class RoutingSpec(_Model):
    version: Literal["infermeter/v1"] = SPEC_VERSION
    kind: Literal["Routing"] = SPEC_KIND
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    default_receiver: str
    group_by: list[str] = Field(default_factory=lambda: list(c.DEFAULT_GROUP_BY))
    timing: dict[Literal["page", "ticket"], Timing] = Field(default_factory=dict)
    time_intervals: dict[str, list[TimeInterval]] = Field(default_factory=dict)
    inhibit: Inhibit = Field(default_factory=Inhibit)
    receivers: list[Receiver] = Field(default_factory=list, description="Receivers outside any team.")
    teams: list[Team] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    tenant_budgets: TenantBudgets = Field(default_factory=TenantBudgets)

    def all_receivers(self) -> list[Receiver]:
        return [*self.receivers, *(r for t in self.teams for r in t.receivers)]

    def timing_for(self, severity: str, team: Team | None = None) -> Timing:
        """Spec defaults, then the spec's timing, then the team's (later wins, field by field)."""
        merged: dict[str, str] = {}
        for layer in (_default_timing().get(severity), self.timing.get(severity), team and team.timing.get(severity)):  # type: ignore[call-overload]
            if layer is not None:
                merged.update(layer.model_dump(exclude_none=True))
        return Timing(**merged)


# --- Loading -----------------------------------------------------------------------------------------
def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = {"global_": "global", "continue_": "continue", "from_": "from", "for_": "for"}.get(str(part), str(part))
            out += ("." if out else "") + name
    return out


def _message(error: dict[str, Any]) -> str:
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def check_references(spec: RoutingSpec) -> None:
    """Names that must be unique or must exist; raises ``ValueError('field X: ...')``."""
    seen_teams: dict[str, int] = {}
    for i, team in enumerate(spec.teams):
        if team.name in seen_teams:
            raise ValueError(f"field teams[{i}].name: duplicate team name {team.name!r} (also teams[{seen_teams[team.name]}])")
        seen_teams[team.name] = i
        if not team.receivers:
            raise ValueError(f"field teams[{i}].receivers: team {team.name!r} has no receivers")
    where: dict[str, str] = {}
    located = [(r, f"receivers[{j}]") for j, r in enumerate(spec.receivers)]
    located += [(r, f"teams[{i}].receivers[{j}]") for i, t in enumerate(spec.teams) for j, r in enumerate(t.receivers)]
    for receiver, loc in located:
        if receiver.name in where:
            raise ValueError(f"field {loc}.name: duplicate receiver name {receiver.name!r} (also {where[receiver.name]})")
        where[receiver.name] = loc
    known = sorted(where)

    def need_receiver(name: str | None, field: str) -> None:
        if name is not None and name not in where:
            raise ValueError(f"field {field}: unknown receiver {name!r} (known: {', '.join(known) or 'none'})")

    def need_intervals(names: list[str], field: str) -> None:
        for k, name in enumerate(names):
            if name not in spec.time_intervals:
                defined = ", ".join(sorted(spec.time_intervals)) or "none"
                raise ValueError(f"field {field}[{k}]: unknown time interval {name!r} (defined: {defined})")

    need_receiver(spec.default_receiver, "default_receiver")
    for i, team in enumerate(spec.teams):
        need_receiver(team.page, f"teams[{i}].page")
        need_receiver(team.ticket, f"teams[{i}].ticket")
        need_intervals(team.ticket_time_intervals, f"teams[{i}].ticket_time_intervals")
    for i, route in enumerate(spec.routes):
        need_receiver(route.receiver, f"routes[{i}].receiver")
        need_intervals(route.active_time_intervals, f"routes[{i}].active_time_intervals")
        need_intervals(route.mute_time_intervals, f"routes[{i}].mute_time_intervals")
    for name in spec.time_intervals:
        _name_or_raise(name, f"time_intervals.{name}")
    for k, label in enumerate([*spec.group_by, *spec.inhibit.equal]):
        if label != "..." and not _LABEL_RE.match(label):
            field = f"group_by[{k}]" if k < len(spec.group_by) else f"inhibit.equal[{k - len(spec.group_by)}]"
            raise ValueError(f"field {field}: {label!r} is not a label name")


def _name_or_raise(name: str, field: str) -> None:
    try:
        _name(name)
    except ValueError as exc:
        raise ValueError(f"field {field}: {exc}") from None


def parse_spec(data: Any, source: str) -> RoutingSpec:
    """A routing spec from parsed YAML; every error names ``source`` and the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a routing spec must be a mapping")
    try:
        spec = RoutingSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _loc(first["loc"]) or "(top level)"
        raise ConfigError(f"{source}: field {field}: {_message(first)}") from None
    try:
        check_references(spec)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return spec


def load_spec(path: Path) -> RoutingSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse_spec(data, str(path))
