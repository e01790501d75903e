"""The grafana-clickhouse-datasource macros, expanded here as the plugin expands them, so that every
ClickHouse panel query can be run without Grafana (tests, ``chdb``).

Two stages, in the plugin's order:

1. :func:`apply_conditional_all` — the plugin's *frontend* step, before template variables are
   interpolated: ``$__conditionalAll(condition, $var)`` becomes ``1=1`` when ``$var`` is set to All
   (``$__all``) or is empty, and ``condition`` otherwise. Arguments are split at top-level commas
   of the parenthesised list (parentheses are counted; quotes are not), as the plugin does.
2. :func:`expand_macros` — the *backend* step on the interpolated SQL. Comments (``--`` and
   ``/* */``) are blanked first, then each ``$__name`` or ``$__name(args)`` is replaced; the name
   is the longest run of identifier characters; arguments are split at commas outside brackets
   and quotes, and trimmed. Output, as documented for the plugin:

   ============================  ==========================================================
   ``$__timeFilter(c)``          ``c >= toDateTime(FROM) AND c <= toDateTime(TO)`` (seconds)
   ``$__timeFilter_ms(c)``       ``c >= fromUnixTimestamp64Milli(FROM_MS) AND c <= ...``
   ``$__dateFilter(c)``          ``c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')``
   ``$__dateTimeFilter(d, t)``   ``(date filter on d) AND (time filter on t)``; alias ``$__dt``
   ``$__timeFrom(c)``            ``c >= toDateTime(FROM)``;  ``$__timeTo(c)``: ``c <= toDateTime(TO)``
   ``$__timeGroup(c, 5m)``       ``toStartOfInterval(toDateTime(c), INTERVAL 300 second)``
   ``$__fromTime``/``$__toTime`` ``toDateTime(FROM)`` / ``toDateTime(TO)``
   ``$__fromTime_ms``/``_ms``    ``fromUnixTimestamp64Milli(FROM_MS)`` / ``(TO_MS)``
   ``$__interval_s``             the panel interval in whole seconds, at least 1
   ``$__timeInterval(c)``        ``toStartOfInterval(toDateTime(c), INTERVAL N second)``, N = interval_s
   ``$__timeInterval_ms(c)``     ``toStartOfInterval(toDateTime64(c, 3), INTERVAL N millisecond)``
   ============================  ==========================================================

FROM and TO are Unix seconds (truncated), dates are the UTC calendar dates of the range ends.
One deliberate difference: an unknown ``$__`` macro (or a statement macro such as ``$__columns``,
which the dashboards do not use) raises :class:`MacroError` instead of being left in the SQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

PREFIX = "$__"
ALL_VALUE = "$__all"
_NAME = re.compile(r"[A-Za-z0-9_]+")
_VAR_REF = re.compile(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class MacroError(ValueError):
    """A macro that cannot be expanded: unknown, or called with the wrong arguments."""


@dataclass(frozen=True)
class QueryContext:
    """The panel's time range (timezone-aware) and interval, as Grafana sends them."""

    start: dt.datetime
    end: dt.datetime
    interval: dt.timedelta

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("QueryContext needs timezone-aware datetimes")


# --- stage 1: $__conditionalAll (frontend) ------------------------------------------------------


def _paren_args(text: str, open_index: int) -> tuple[list[str], int] | None:
    """Raw arguments of the list opening at ``text[open_index] == '('`` and the index after ')'.

    Only parentheses are counted (the plugin's frontend does not track quotes)."""
    depth = 0
    args: list[str] = []
    start = open_index + 1
    for i in range(open_index, len(text)):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(text[start:i])
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(text[start:i])
            start = i + 1
    return None


def apply_conditional_all(sql: str, is_all: Callable[[str], bool]) -> str:
    """Replace every ``$__conditionalAll(condition, $var)``, last first as the plugin does.

    ``is_all(name)`` says whether variable ``name`` is set to All (or is empty)."""
    macro = "$__conditionalAll("
    index = sql.rfind(macro)
    while index != -1:
        parsed = _paren_args(sql, index + len(macro) - 1)
        if parsed is None or len(parsed[0]) != 2:
            raise MacroError(f"$__conditionalAll expects (condition, $variable): {sql[index:index + 80]!r}")
        (condition, var_arg), end = parsed
        match = _VAR_REF.search(var_arg.strip())
        phrase = condition
        if match and is_all(match.group(0)):
            phrase = "1=1"
        sql = sql[:index] + phrase + sql[end:]
        index = sql.rfind(macro)
    return sql


# --- stage 2: backend macros -----------------------------------------------------------------


def strip_comments(sql: str) -> str:
    """Blank ``--`` and ``/* */`` comments (same length), leaving quoted text alone."""
    out = list(sql)
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            i = _skip_quoted(sql, i)
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out[i:end] = " " * (end - i)
            i = end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out[i:end] = [c if c == "\n" else " " for c in sql[i:end]]
            i = end
            continue
        i += 1
    return "".join(out)


def _skip_quoted(sql: str, i: int) -> int:
    """Index after the quoted region starting at ``sql[i]`` (backslash escapes, doubled quotes)."""
    quote = sql[i]
    j = i + 1
    while j < len(sql):
        if sql[j] == "\\" and quote != "`":
            j += 2
            continue
        if sql[j] == quote:
            if j + 1 < len(sql) and sql[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def _split_args(text: str, open_index: int) -> tuple[list[str], int]:
    """Arguments (trimmed) of the list opening at ``text[open_index]``, split outside brackets and
    quotes, and the index after the closing parenthesis."""
    depth = 0
    args: list[str] = []
    start = open_index + 1
    i = open_index
    while i < len(text):
        ch = text[i]
        if ch in "'\"`":
            i = _skip_quoted(text, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[start:i].strip())
                return ([] if args == [""] else args), i + 1
        elif ch == "," and depth == 1:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    raise MacroError(f"unclosed argument list: {text[open_index - 20:open_index + 60]!r}")


def _seconds(t: dt.datetime) -> int:
    return int(t.timestamp() // 1)


def _millis(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000 // 1)


def _date(t: dt.datetime) -> str:
    return f"toDate('{t.astimezone(dt.timezone.utc):%Y-%m-%d}')"


def _interval_seconds(ctx: QueryContext) -> int:
    return int(max(ctx.interval.total_seconds(), 1))


def _interval_millis(ctx: QueryContext) -> int:
    return int(max(ctx.interval.total_seconds() * 1000, 1))


def _want(name: str, args: list[str], count: int) -> None:
    if len(args) != count:
        raise MacroError(f"$__{name} expects {count} argument(s), received {len(args)}")


def _group_seconds(period: str) -> int:
    text = period.strip().strip("'\"")
    match = _DURATION.match(text)
    if not match:
        raise MacroError(f"$__timeGroup: invalid interval {text!r}")
    seconds = round(float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if seconds <= 0:
        raise MacroError(f"$__timeGroup: interval must be positive, got {text!r}")
    return seconds


def _expand_one(name: str, args: list[str] | None, ctx: QueryContext) -> str:
    frm, to = f"toDateTime({_seconds(ctx.start)})", f"toDateTime({_seconds(ctx.end)})"
    frm_ms = f"fromUnixTimestamp64Milli({_millis(ctx.start)})"
    to_ms = f"fromUnixTimestamp64Milli({_millis(ctx.end)})"
    a = args or []
    match name:
        case "fromTime":
            return frm
        case "toTime":
            return to
        case "fromTime_ms":
            return frm_ms
        case "toTime_ms":
            return to_ms
        case "interval_s":
            return str(_interval_seconds(ctx))
        case "timeFilter":
            _want(name, a, 1)
            return f"{a[0]} >= {frm} AND {a[0]} <= {to}"
        case "timeFilter_ms":
            _want(name, a, 1)
            return f"{a[0]} >= {frm_ms} AND {a[0]} <= {to_ms}"
        case "dateFilter":
            _want(name, a, 1)
            return f"{a[0]} >= {_date(ctx.start)} AND {a[0]} <= {_date(ctx.end)}"
        case "dateTimeFilter" | "dt":
            _want(name, a, 2)
            return (f"({a[0]} >= {_date(ctx.start)} AND {a[0]} <= {_date(ctx.end)}) AND "
                    f"({a[1]} >= {frm} AND {a[1]} <= {to})")
        case "timeFrom":
            _want(name, a, 1)
            return f"{a[0]} >= {frm}"
        case "timeTo":
            _want(name, a, 1)
            return f"{a[0]} <= {to}"
        case "timeGroup":
            _want(name, a, 2)
            return f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {_group_seconds(a[1])} second)"
        case "timeInterval":
            _want(name, a, 1)
            return f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {_interval_seconds(ctx)} second)"
        case "timeInterval_ms":
            _want(name, a, 1)
            return f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {_interval_millis(ctx)} millisecond)"
    raise MacroError(f"unknown or unsupported macro $__{name}")


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """Expand every ``$__`` macro of interpolated SQL, as the plugin's backend does."""
    if PREFIX not in sql:
        return sql
    text = strip_comments(sql)
    out: list[str] = []
    i = 0
    while True:
        j = text.find(PREFIX, i)
        if j == -1:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        match = _NAME.match(text, j + len(PREFIX))
        if not match:
            raise MacroError(f"macro without a name at {text[j:j + 40]!r}")
        name = match.group(0)
        k = match.end()
        args: list[str] | None = None
        if k < len(text) and text[k] == "(":
            args, k = _split_args(text, k)
        out.append(_expand_one(name, args, ctx))
        i = k


def interpolate(sql: str, ctx: QueryContext, is_all: Callable[[str], bool],
                replace_variables: Callable[[str], str]) -> str:
    """The plugin's whole path: conditionalAll, Grafana's variable interpolation, then macros."""
    return expand_macros(replace_variables(apply_conditional_all(sql, is_all)), ctx)
