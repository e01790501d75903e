"""Reading the chargeback YAML files: one-line errors naming the file, the line and the field."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from infermeter.errors import ConfigError
from infermeter.yamlio import read_yaml_text

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, what: str) -> tuple[Any, str]:
    """The parsed document and its text; a missing or broken file is a ConfigError."""
    data, text = read_yaml_text(path, what)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} file must be a mapping at the top level")
    return data, text


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def line_of(text: str, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (keys and list indexes), or of its nearest parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value) == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def where(path: Path, text: str, loc: Sequence[Any]) -> str:
    line = line_of(text, loc)
    return f"{path}:{line}" if line else str(path)


def dotted(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(model: type[M], data: Any, path: Path, text: str) -> M:
    """``model`` from ``data``; the first problem becomes one ConfigError line: file:line: field: message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        more = len(exc.errors()) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{where(path, text, loc)}: {dotted(loc)}: {msg}{extra}") from None
