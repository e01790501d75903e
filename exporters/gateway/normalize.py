"""From one input record to the fields of a ``usage`` row: pure functions, shared by every input.

Each input (OTLP span, access-log line, LiteLLM payload) becomes a :class:`Candidate`: either the
fields of a :class:`~infermeter.ingest.models.UsageEvent` or the reason it could not be read, and
the raw payload that goes to ``quarantine`` if it turns out invalid. Validation itself is the
UsageEvent model's, in :class:`~infermeter.exporters.gateway.sink.UsageSink`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REDACTED = "<redacted>"
_SECRET_PREFIXES = ("sk-", "Bearer ", "bearer ")


@dataclass(slots=True)
class Candidate:
    """One event as read from an input: its usage fields, or why it could not be read."""

    data: dict[str, Any] | None
    payload: str | Callable[[], str]  # raw record for quarantine; a callable is evaluated only then
    origin: str
    line: int = 0
    reason: str | None = None  # set when data is None
    hints: Mapping[str, str] | None = None  # field -> where this input looked for it (for reasons)

    def raw(self) -> str:
        return self.payload() if callable(self.payload) else self.payload


def key_hash(secret: str) -> str:
    """The id stored for a raw API key: its SHA-256 in hex (LiteLLM's ``user_api_key_hash`` is the same)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def api_key_id(value: Any) -> str:
    """An API key id as given, unless it looks like a key itself (``sk-...``, ``Bearer ...``): then hashed."""
    text = str(value).strip()
    if text.startswith(_SECRET_PREFIXES):
        if text.lower().startswith("bearer "):
            text = text[7:].strip()
        return key_hash(text)
    return text


def content_id(raw: bytes) -> str:
    """An event id for a record that has none: a hash of its bytes (identical records collapse)."""
    return hashlib.sha256(raw).hexdigest()[:32]


def lookup(record: Any, path: str) -> Any:
    """The value at a dotted path (``usage.prompt_tokens``); an exact key with dots wins."""
    if isinstance(record, Mapping) and path in record:
        return record[path]
    node = record
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def first(record: Any, paths: Iterable[str]) -> Any:
    """The first value at ``paths`` that is neither missing, null nor an empty string."""
    for path in paths:
        value = lookup(record, path)
        if value is not None and value != "":
            return value
    return None


def stringify(value: Any) -> str:
    """An attribute value as text: scalars as they print, lists and maps as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def scaled(value: Any, factor: float) -> Any:
    """``value * factor`` for numbers (and numeric text); anything else unchanged for validation to reject."""
    if factor == 1.0 or value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, (int, float)):
        return value * factor
    return value


def status_class(code: int) -> str:
    """``2xx``, ``4xx``, ``5xx`` (and ``1xx``/``3xx`` for those codes)."""
    return f"{code // 100}xx"


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
