"""Lexical pieces of the exposition parser: patterns, label sets, numbers and timestamps.

Everything here is shared by :mod:`infermeter.exporters.exposition`; the public API lives
there. The helpers raise :class:`LineError` with a short, user-facing reason.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "METRIC_NAME_RE",
    "LabelCache",
    "LabelKey",
    "LineError",
    "millis_to_ms",
    "parse_float",
    "parse_label_text",
    "seconds_to_ms",
    "unescape_label_value",
]

LabelKey = tuple[tuple[str, str], ...]
"""Labels as a tuple of ``(name, value)`` pairs sorted by name: hashable, a stable series key."""


class LineError(ValueError):
    """A line that cannot be parsed; the message is the reason, meant for the user."""


# --- patterns -------------------------------------------------------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
# The inside of a double-quoted string: anything but quote, backslash and newline, or an escape.
QUOTED_BODY = r'[^"\\\n]*(?:\\.[^"\\\n]*)*'
# The inside of a label set: text outside quotes up to the first unquoted closing brace.
RAW_LABELS = r'[^"}\n]*(?:"' + QUOTED_BODY + r'"[^"}\n]*)*'

METRIC_NAME_RE = re.compile(METRIC_NAME)
_LABELS_FAST = re.compile(
    rf'[ \t]*(?:{LABEL_NAME}[ \t]*=[ \t]*"{QUOTED_BODY}"[ \t]*'
    rf'(?:,[ \t]*{LABEL_NAME}[ \t]*=[ \t]*"{QUOTED_BODY}"[ \t]*)*(?:,[ \t]*)?)?'
)
_CANONICAL_PART = re.compile(rf'({LABEL_NAME})="([^"\\]*)')
_LABEL_PAIR = re.compile(rf'({LABEL_NAME})[ \t]*=[ \t]*"({QUOTED_BODY})"')
# One term of a label set in the general form: a label, or a quoted (UTF-8) metric name.
_LABEL_TERM = re.compile(rf'[ \t]*(?:({LABEL_NAME})|"({QUOTED_BODY})")[ \t]*(?:=[ \t]*"({QUOTED_BODY})")?[ \t]*(,|$)')
_ESCAPE = re.compile(r'\\[\\n"]')
_UNESCAPED = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}


def unescape_label_value(text: str) -> str:
    r"""Undo the exposition escapes ``\\``, ``\"`` and ``\n``; other backslashes stay as written."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: _UNESCAPED[m.group()], text)


def parse_label_text(raw: str) -> tuple[str | None, dict[str, str]]:
    """Parse the text between ``{`` and ``}``; return (metric name given inside, labels).

    The metric name comes from a quoted bare term (``{"my.metric", a="b"}``) or a ``__name__``
    label, and is None when neither is present. Label order is kept. A trailing comma and spaces
    around ``=`` and ``,`` are accepted, as Prometheus accepts them.
    """
    if "__name__" not in raw and _LABELS_FAST.fullmatch(raw):
        return None, _pairs_to_dict(_LABEL_PAIR.findall(raw), raw)
    return _parse_label_terms(raw)


def _pairs_to_dict(pairs: list[tuple[str, str]], raw: str) -> dict[str, str]:
    labels = dict(pairs)
    if len(labels) != len(pairs):
        raise LineError(f"duplicate label name in {{{raw}}}")
    if "\\" in raw:
        for key, value in labels.items():
            labels[key] = unescape_label_value(value)
    return labels


def _parse_label_terms(raw: str) -> tuple[str | None, dict[str, str]]:
    """The general (slow) label parser: quoted names, ``__name__``, precise error messages."""
    metric: str | None = None
    labels: dict[str, str] = {}
    pos, end = 0, len(raw)
    while pos < end and raw[pos:].strip():
        match = _LABEL_TERM.match(raw, pos)
        if match is None:
            raise LineError(_describe_bad_label(raw, pos))
        bare, quoted, value, _sep = match.groups()
        name = bare if bare is not None else unescape_label_value(quoted)
        if value is None:
            if bare is not None or metric is not None:
                raise LineError(f"label {name!r} has no value")
            metric = name
        elif name == "__name__":
            if metric is not None:
                raise LineError("metric name given twice")
            metric = unescape_label_value(value)
        else:
            if name in labels:
                raise LineError(f"duplicate label name {name!r}")
            labels[name] = unescape_label_value(value)
        pos = match.end()
    return metric, labels


def _describe_bad_label(raw: str, pos: int) -> str:
    rest = raw[pos:].lstrip(" \t,")
    head = re.match(rf"{LABEL_NAME}", rest)
    if head is None:
        return f"invalid label name at {rest[:20]!r}"
    after = rest[head.end() :].lstrip(" \t")
    if not after.startswith("="):
        return f"expected '=' after label name {head.group()!r}"
    value = after[1:].lstrip(" \t")
    if not value.startswith('"'):
        return f"label value of {head.group()!r} is not quoted"
    return f"malformed label {head.group()!r} (missing ',' or closing quote?)"


class LabelCache:
    """Parses remembered between lines and between scrapes; one per scrape target.

    Two levels, each in two views (``dict`` labels for :func:`parse`, which copies them before
    handing them out, and sorted-tuple labels for :func:`parse_series`, shared as they are
    immutable):

    * ``heads``: the text of a sample line before its value (``name{labels}``) -> (name,
      labels). On the next scrape the same series costs one ``rpartition`` and one lookup.
    * ``labels``: the raw text between the braces -> labels, so that a label set repeated
      across families (``engine="0",model_name="m"``) is parsed once.

    Before each page, a map that the page could push past ``max_entries`` is emptied, which
    bounds memory under series churn. Not shared between threads that parse concurrently.
    """

    __slots__ = ("head_dicts", "head_keys", "label_dicts", "label_keys", "label_parts", "max_entries", "metric_names")

    def __init__(self, max_entries: int = 200_000) -> None:
        self.head_dicts: dict[str, tuple[str, dict[str, str]]] = {}
        self.head_keys: dict[str, tuple[str, LabelKey]] = {}
        self.label_dicts: dict[str, dict[str, str]] = {}
        self.label_keys: dict[str, LabelKey] = {}
        self.metric_names: dict[str, str] = {}
        self.label_parts: dict[str, tuple[str, str]] = {}
        self.max_entries = max_entries

    def _tables(self) -> tuple[dict[str, Any], ...]:
        return (self.head_dicts, self.head_keys, self.label_dicts, self.label_keys, self.metric_names, self.label_parts)

    def __len__(self) -> int:
        return len(self.head_dicts) + len(self.head_keys)

    def clear(self) -> None:
        """Forget everything."""
        for table in self._tables():
            table.clear()

    def make_room(self, lines: int) -> None:
        """Called before a page of ``lines`` lines: empties each map that the page could push
        past ``max_entries`` (a page adds at most one entry per line to each)."""
        for table in self._tables():
            if len(table) + lines > self.max_entries:
                table.clear()

    def metric_name(self, name: str) -> str | None:
        """``name`` (one shared string object per name) if it is a valid metric name, else None."""
        checked = self.metric_names.get(name)
        if checked is None:
            checked = self.metric_names[name] = name if METRIC_NAME_RE.fullmatch(name) else ""
        return checked or None

    def labels_dict(self, raw: str) -> dict[str, str]:
        """The labels of ``raw`` as a dict shared through the cache (copy before mutating)."""
        labels = self.label_dicts.get(raw)
        if labels is None:
            labels = self.label_dicts[raw] = self._parse_plain(raw)
        return labels

    def labels_key(self, raw: str) -> LabelKey:
        """The labels of ``raw`` as a sorted tuple of pairs."""
        key = self.label_keys.get(raw)
        if key is None:
            key = self.label_keys[raw] = tuple(sorted(self._parse_plain(raw).items()))
        return key

    def _parse_plain(self, raw: str) -> dict[str, str]:
        """Labels of a sample that named its metric before the braces."""
        labels = self._parse_canonical(raw)
        if labels is not None:
            return labels
        metric, labels = parse_label_text(raw)
        if metric is not None:
            raise LineError("metric name given both before and inside the label set")
        return labels

    def _parse_canonical(self, raw: str) -> dict[str, str] | None:
        """Label text as exporters write it (``a="x",b="y"``, no escapes, no spaces), split at
        ``",`` with each ``name="value`` part parsed once; None for anything else.

        Splitting is exact here: a value without backslashes cannot contain a quote.
        """
        if "\\" in raw or raw[-1:] != '"':
            return None
        parts = self.label_parts
        pairs: list[tuple[str, str]] = []
        for part in raw[:-1].split('",'):
            pair = parts.get(part)
            if pair is None:
                match = _CANONICAL_PART.fullmatch(part)
                if match is None:
                    return None
                pair = parts[part] = (match[1], match[2])
            pairs.append(pair)
        labels = dict(pairs)
        if len(labels) != len(pairs) or "__name__" in labels:
            return None  # the general parser explains
        return labels


# --- numbers --------------------------------------------------------------------------------


def parse_float(token: str) -> float:
    """A sample value as Go's ParseFloat reads it: decimal or exponent notation, ``NaN``,
    ``+Inf``, ``-Inf`` (any case). Digit separators (``1_000``) are refused."""
    if "_" not in token:
        try:
            return float(token)
        except ValueError:
            pass
    raise LineError(f"invalid value {token!r}")


def _to_decimal(token: str) -> Decimal:
    if "_" in token or not token.isascii():
        raise LineError(f"invalid timestamp {token!r}")
    try:
        number = Decimal(token)
    except InvalidOperation:
        raise LineError(f"invalid timestamp {token!r}") from None
    if not number.is_finite():
        raise LineError(f"invalid timestamp {token!r}")
    return number


def millis_to_ms(token: str) -> int:
    """A Prometheus text-format timestamp (integer milliseconds); decimals are rounded."""
    try:
        if "_" not in token:
            return int(token)
    except ValueError:
        pass
    return int(_to_decimal(token).to_integral_value(ROUND_HALF_EVEN))


def seconds_to_ms(token: str) -> int:
    """An OpenMetrics timestamp (float seconds) as integer milliseconds.

    Converted exactly from the decimal text, then rounded to the nearest millisecond (ties to
    even), so ``1520879607.789`` gives ``1520879607789`` with no binary floating-point error.
    """
    try:
        if "_" not in token:
            return int(token) * 1000
    except ValueError:
        pass
    return int((_to_decimal(token) * 1000).to_integral_value(ROUND_HALF_EVEN))
