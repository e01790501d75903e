"""A small YAML emitter for rule files: the same bytes as :func:`infermeter.slo.render.dump`
(libyaml set up as go-yaml), about an order of magnitude faster, for the shapes rule files have.

Rule files are nested block mappings and sequences of mappings whose leaves are strings. For
those, this module reproduces libyaml's choices (``yaml_emitter_analyze_scalar``,
``select_scalar_style`` and the plain, single-quoted, double-quoted and literal writers): plain
when the text allows it, double quotes when the text would read as another type, single quotes
when plain is not allowed, literal blocks (``|``, ``|-``) for multi-line text, and folding of
long plain and single-quoted lines at the first space past column 80, continued two columns in.

Anything outside that (non-ASCII or control characters, empty collections, non-string leaves,
keys that are not simple, block scalars that would need ``|+`` or an indentation indicator, a
double-quoted string long enough to fold) makes :func:`fast_dump` return None, and the caller
falls back to libyaml. ``tests/slo/test_yaml_emit.py`` compares both on the Sloth goldens, on
every template and on generated strings.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

WIDTH = 80  # libyaml's best_width as render.dump sets it
INDENT = 2
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_PRINTABLE_LINE = re.compile(r"^[\x20-\x7e]*$")
_PRINTABLE_BLOCK = re.compile(r"^[\x20-\x7e\n]*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]{0,127}$")
_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")
_FLOW_INDICATORS = frozenset(",?[]{}")


class _Unsupported(Exception):
    """A value this emitter does not write exactly as libyaml would."""


@lru_cache(maxsize=65536)
def _reads_as_string(text: str) -> bool:
    return _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG


def _plain_allowed(s: str) -> bool:
    """libyaml's ``block_plain_allowed`` for one line of printable ASCII."""
    if not s or s[0] == " " or s[-1] == " ":
        return False
    if s.startswith(("---", "...")):
        return False
    first = s[0]
    n = len(s)
    if first in _FIRST_INDICATORS:
        return False
    if first in "?:-" and (n == 1 or s[1] == " "):
        return False
    for i in range(1, n):
        ch = s[i]
        if ch == ":" and (i + 1 == n or s[i + 1] == " "):
            return False
        if ch == "#" and s[i - 1] == " ":
            return False
    return True


def _fold(s: str, column: int, indent: int, single_quoted: bool) -> str:
    """libyaml's plain / single-quoted writer: break at the first space past the width."""
    if column + s.rfind(" ") <= WIDTH and not (single_quoted and "'" in s):
        return s  # no space lies past the width: nothing folds (the common case)
    out: list[str] = []
    spaces = False
    n = len(s)
    last = n - 1
    for i, ch in enumerate(s):
        if ch == " ":
            if (not spaces and column > WIDTH and (i + 1 > last or s[i + 1] != " ")
                    and (not single_quoted or (i != 0 and i != last))):
                out.append("\n" + " " * indent)
                column = indent
            else:
                out.append(" ")
                column += 1
            spaces = True
        else:
            if single_quoted and ch == "'":
                out.append("''")
                column += 2
            else:
                out.append(ch)
                column += 1
            spaces = False
    return "".join(out)


@lru_cache(maxsize=65536)
def scalar(s: str, column: int, indent: int) -> str:
    """The text written after ``key:`` (which ends at ``column``) for the string ``s``, up to the
    end of its last line (no newline); continuation lines are indented by ``indent``."""
    if "\n" in s:
        if not _PRINTABLE_BLOCK.match(s) or s[0] in " \n" or " \n" in s or s.endswith(" "):
            raise _Unsupported("block scalar needs libyaml")
        if s.endswith("\n\n") or s == "\n":
            raise _Unsupported("keep-chomping block scalar")
        chomp = "" if s.endswith("\n") else "-"
        body = s[:-1] if s.endswith("\n") else s
        pad = " " * indent
        return " |" + chomp + "\n" + "\n".join(pad + line if line else "" for line in body.split("\n"))
    if not _PRINTABLE_LINE.match(s):
        raise _Unsupported("non-printable or non-ASCII text")
    if not _reads_as_string(s):
        quoted = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if column + 1 + len(quoted) > WIDTH:
            raise _Unsupported("a long double-quoted string may fold")
        return " " + quoted
    if _plain_allowed(s):
        return " " + _fold(s, column + 1, indent, single_quoted=False)
    return " '" + _fold(s, column + 2, indent, single_quoted=True) + "'"


@lru_cache(maxsize=4096)
def _key(key: Any) -> str:
    if not isinstance(key, str) or not _KEY.match(key) or not _plain_allowed(key) or not _reads_as_string(key):
        raise _Unsupported(f"key {key!r}")
    return key


def _mapping(data: dict, indent: int, out: list[str], inline_first: bool) -> None:
    if not data:
        raise _Unsupported("empty mapping")
    pad = " " * indent
    first = True
    for key, value in data.items():
        k = _key(key)
        prefix = "" if (first and inline_first) else pad
        first = False
        if isinstance(value, str):
            out.append(prefix + k + ":" + scalar(value, indent + len(k) + 1, indent + INDENT) + "\n")
        elif isinstance(value, dict):
            out.append(prefix + k + ":\n")
            _mapping(value, indent + INDENT, out, False)
        elif isinstance(value, list):
            out.append(prefix + k + ":\n")
            _sequence(value, indent, out)
        else:
            raise _Unsupported(f"value of type {type(value).__name__}")


def _sequence(items: list, indent: int, out: list[str]) -> None:
    """A block sequence of mappings, indentless (``- `` at the parent key's column)."""
    if not items:
        raise _Unsupported("empty sequence")
    dash = " " * indent + "- "
    for item in items:
        if not isinstance(item, dict):
            raise _Unsupported("sequence item that is not a mapping")
        out.append(dash)
        _mapping(item, indent + INDENT, out, True)


def fast_dump(data: Any) -> str | None:
    """``render.dump(data)`` for rule-file shapes, or None when libyaml must write it."""
    if not isinstance(data, dict):
        return None
    out: list[str] = []
    try:
        _mapping(data, 0, out, False)
    except _Unsupported:
        return None
    return "".join(out)
