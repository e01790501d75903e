"""Reading a YAML file for the user: one-line errors that name the file (and line:column)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infermeter.errors import ConfigError


def read_yaml_text(path: Path, what: str) -> tuple[Any, str]:
    """The parsed document and its text. A missing, unreadable, non-UTF-8 or malformed file is a
    :class:`ConfigError` naming ``path`` (and ``:line:column`` for YAML errors); ``what`` names
    the kind of file in the messages ("configuration", "price catalog", ...)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
