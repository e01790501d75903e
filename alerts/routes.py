"""Which receivers a label set reaches in an Alertmanager route tree, walked as Alertmanager walks
it (``amtool config routes test`` does the same): depth first, children in order, the first
matching child wins unless it has ``continue: true``, a route whose children all miss takes the
alert itself. Pure: a config dict in, the matching routes out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from infermeter.errors import ConfigError

_MATCHER_RE = re.compile(r"^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op in ("=", "!="):
            hit = actual == self.value
        else:
            hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op in ("=", "=~") else not hit


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), text[1:-1])
    return text


def parse_matcher(text: str) -> Matcher:
    """``name="value"``, ``name=~"a|b"``, ``name!=v`` as Alertmanager's matcher syntax writes them."""
    m = _MATCHER_RE.match(text)
    if not m:
        raise ConfigError(f"matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex")
    name, op, value = m.group(1), m.group(2), _unquote(m.group(3))
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f"matcher {text!r}: invalid regular expression: {exc}") from None
    return Matcher(name, op, value)


def route_matchers(route: dict[str, Any]) -> list[Matcher]:
    out = [parse_matcher(m) for m in route.get("matchers") or []]
    out += [Matcher(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    out += [Matcher(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    return out


@dataclass(frozen=True)
class Reached:
    """A route that takes the alert, with what it inherited from its parents."""

    receiver: str
    path: tuple[str, ...]  # the matchers from the root down, one string per route
    group_by: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    mute_time_intervals: tuple[str, ...] = ()
    timing: dict[str, str] = field(default_factory=dict)


_TIMING = ("group_wait", "group_interval", "repeat_interval")


def _walk(route: dict[str, Any], labels: dict[str, str], inherited: dict[str, Any], path: tuple[str, ...]) -> list[Reached]:
    here = {
        "receiver": route.get("receiver") or inherited.get("receiver", ""),
        "group_by": tuple(route["group_by"]) if "group_by" in route else inherited.get("group_by", ()),
        "timing": {**inherited.get("timing", {}), **{k: route[k] for k in _TIMING if k in route}},
        # time intervals are not inherited by child routes in Alertmanager
        "active": tuple(route.get("active_time_intervals") or ()),
        "mute": tuple(route.get("mute_time_intervals") or ()),
    }
    found: list[Reached] = []
    for child in route.get("routes") or []:
        if not all(m.matches(labels) for m in route_matchers(child)):
            continue
        label = ", ".join(child.get("matchers") or []) or "(match all)"
        found += _walk(child, labels, here, (*path, label))
        if not child.get("continue"):
            break
    if not found:
        found = [Reached(here["receiver"], path, here["group_by"], here["active"], here["mute"], here["timing"])]
    return found


def reached(config: dict[str, Any], labels: dict[str, str]) -> list[Reached]:
    """The routes (and so receivers) an alert with ``labels`` reaches, in notification order."""
    root = config.get("route")
    if not isinstance(root, dict):
        raise ConfigError("the Alertmanager configuration has no route")
    return _walk(root, labels, {}, ())
