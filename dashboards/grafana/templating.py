"""Grafana's side of a panel query, for running dashboard queries without Grafana: template
variable interpolation (the syntaxes ``$var``, ``${var}``, ``${var:format}``, ``[[var]]``, the
per-datasource default formats, All and custom All values) and the interval that Grafana computes
for a panel (``$__interval``, ``$__rate_interval``, ``$__range``).

Behaviour follows Grafana's template service: a custom All value is inserted as it is (not
formatted, except for ``text``); All without one means every option's value; a variable that is
not defined is left in the text. Default formats: the Prometheus datasource escapes regex
characters and joins several values as ``(a|b)`` when the variable is multi-value or has All (a
plain single-value variable is only quote-escaped); the ClickHouse datasource joins several values
as ``'a','b'`` and inserts one value as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from infermeter.dashboards.grafana.macros import ALL_VALUE

_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
_PROM_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")
_REGEX_SPECIAL = re.compile(r"[\\^$.*+?()[\]{}|/-]")

# Grafana's rangeutil.roundInterval: (upper bound exclusive, interval), in milliseconds.
_ROUND_INTERVAL_MS = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000), (3_500, 2_000),
    (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000), (45_000, 30_000),
    (90_000, 60_000), (210_000, 120_000), (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000),
    (1_500_000, 1_200_000), (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000),
    (16_200_000, 10_800_000), (32_400_000, 21_600_000), (86_400_000, 43_200_000),
    (604_800_000, 86_400_000), (1_814_400_000, 604_800_000), (3_628_800_000, 2_592_000_000),
)
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
            "y": 31_536_000_000}


@dataclass(frozen=True)
class Selection:
    """A variable's state: its chosen values (or All), its options and its definition flags."""

    name: str
    values: tuple[str, ...] = ()
    is_all: bool = False
    options: tuple[str, ...] = ()
    all_value: str | None = None
    multi: bool = False
    include_all: bool = False

    @classmethod
    def of(cls, var: Mapping, *, values: Sequence[str] = (), options: Sequence[str] = (), all_: bool = False):
        """From a dashboard JSON variable and the values chosen (``all_`` for All)."""
        return cls(
            name=var["name"],
            values=tuple(values),
            is_all=all_,
            options=tuple(options),
            all_value=var.get("allValue"),
            multi=bool(var.get("multi")),
            include_all=bool(var.get("includeAll")),
        )

    def raw(self) -> list[str] | str:
        """The value Grafana formats: the chosen values, or every option for All."""
        if self.is_all:
            return list(self.options)
        if self.multi:
            return list(self.values)
        return self.values[0] if self.values else ""

    def is_all_or_empty(self) -> bool:
        return self.is_all or not self.values or self.values == (ALL_VALUE,)


# --- formats ---------------------------------------------------------------------------------


def _as_list(value: list[str] | str) -> list[str]:
    return value if isinstance(value, list) else [value]


def prometheus_regular_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def prometheus_regex_escape(value: str) -> str:
    value = value.replace("\\", "\\\\\\\\")
    return _PROM_REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value)


def prometheus_default(value: list[str] | str, sel: Selection) -> str:
    """The Prometheus datasource's ``interpolateQueryExpr``."""
    if not sel.multi and not sel.include_all:
        return prometheus_regular_escape(value if isinstance(value, str) else ",".join(value))
    if isinstance(value, str):
        return prometheus_regex_escape(value)
    escaped = [prometheus_regex_escape(v) for v in value]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def clickhouse_default(value: list[str] | str, sel: Selection) -> str:
    """grafana-clickhouse-datasource's format: several values as ``'a','b'``, one as it is."""
    if isinstance(value, list):
        return "'" + "','".join(value) + "'"
    return value


def _regex(value: list[str] | str) -> str:
    escaped = [_REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), v) for v in _as_list(value)]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


FORMATS: dict[str, Callable[[list[str] | str], str]] = {
    "singlequote": lambda v: ",".join("'" + x.replace("'", "\\'") + "'" for x in _as_list(v)),
    "doublequote": lambda v: ",".join('"' + x.replace('"', '\\"') + '"' for x in _as_list(v)),
    "sqlstring": lambda v: ",".join("'" + x.replace("'", "''") + "'" for x in _as_list(v)),
    "csv": lambda v: ",".join(_as_list(v)),
    "pipe": lambda v: "|".join(_as_list(v)),
    "raw": lambda v: ",".join(_as_list(v)),
    "regex": _regex,
}


# --- interval -----------------------------------------------------------------------------------


def parse_interval_ms(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a Grafana interval: {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def round_interval_ms(ms: float) -> int:
    for bound, value in _ROUND_INTERVAL_MS:
        if ms < bound:
            return value
    return 31_536_000_000


def panel_interval(start: dt.datetime, end: dt.datetime, *, max_data_points: int = 1000,
                   min_interval: str | None = None) -> dt.timedelta:
    """Grafana's ``calculateInterval``: range / points, rounded, and at least the minimum."""
    ms = round_interval_ms((end - start).total_seconds() * 1000 / max_data_points)
    if min_interval:
        ms = max(ms, parse_interval_ms(min_interval))
    return dt.timedelta(milliseconds=ms)


def format_duration(delta: dt.timedelta) -> str:
    """An interval as Grafana writes ``$__interval``: ``30s``, ``1m``, ``2h``, ``1d`` or ``500ms``."""
    ms = int(delta.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True)
class PanelContext:
    """Time range, interval and scrape interval of one panel query."""

    start: dt.datetime
    end: dt.datetime
    interval: dt.timedelta
    scrape_interval: dt.timedelta = dt.timedelta(seconds=15)
    builtins: dict[str, str] = field(default_factory=dict)

    def builtin(self, name: str) -> str | None:
        range_s = int((self.end - self.start).total_seconds())
        rate = max(self.interval + self.scrape_interval, 4 * self.scrape_interval)
        table = {
            "__interval": format_duration(self.interval),
            "__interval_ms": str(int(self.interval.total_seconds() * 1000)),
            "__rate_interval": format_duration(rate),
            "__range": f"{range_s}s",
            "__range_s": str(range_s),
            "__range_ms": str(range_s * 1000),
            "__from": str(int(self.start.timestamp() * 1000)),
            "__to": str(int(self.end.timestamp() * 1000)),
            **self.builtins,
        }
        return table.get(name)


def replace(
    text: str,
    selections: Mapping[str, Selection],
    default_format: Callable[[list[str] | str, Selection], str],
    ctx: PanelContext | None = None,
) -> str:
    """Interpolate every variable reference in ``text`` as Grafana's template service does."""

    def sub(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if ctx is not None and name.startswith("__"):
            value = ctx.builtin(name)
            if value is not None:
                return value
        sel = selections.get(name)
        if sel is None:
            return match.group(0)
        if sel.is_all and sel.all_value and fmt not in ("text", "percentencode", "queryparam"):
            return sel.all_value
        value = sel.raw()
        if fmt is None:
            return default_format(value, sel)
        if fmt == "text":
            return "All" if sel.is_all else ",".join(_as_list(value))
        if fmt not in FORMATS:
            raise ValueError(f"variable format {fmt!r} is not supported here")
        return FORMATS[fmt](value)

    return _VARIABLE.sub(sub, text)


_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([smhdwMy]))?$")


def resolve_time(expr: str, now: dt.datetime) -> dt.datetime:
    """A dashboard time (``now``, ``now-6h``, ``now/M``, ``now-1d/d``) at ``now`` (UTC, rounded
    down for ``/unit`` as Grafana does for a range start)."""
    match = _RELATIVE.match(expr.strip())
    if not match:
        raise ValueError(f"unsupported dashboard time {expr!r}")
    amount, unit, round_to = match.groups()
    t = now.astimezone(dt.timezone.utc)
    if amount:
        n = int(amount)
        if unit == "M":
            month = t.month - 1 - n
            t = t.replace(year=t.year + month // 12, month=month % 12 + 1)
        elif unit == "y":
            t = t.replace(year=t.year - n)
        else:
            t = t - dt.timedelta(milliseconds=n * _UNIT_MS[unit])
    if round_to:
        if round_to == "M":
            t = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        elif round_to == "y":
            t = t.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        elif round_to == "w":
            t = (t - dt.timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        else:
            size = _UNIT_MS[round_to] // 1000
            t = dt.datetime.fromtimestamp(int(t.timestamp()) // size * size, tz=dt.timezone.utc)
    return t
