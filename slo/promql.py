"""Light PromQL checks and the ``{{.window}}`` template variable.

No PromQL parser here: ``validate`` checks what breaks most specs (an unbalanced bracket or quote,
a missing or misspelt window variable); ``promtool check rules`` checks generated files in tests.
"""

from __future__ import annotations

import re

from infermeter.slo.conventions import WINDOW_VAR_RE

_ANY_ACTION_RE = re.compile(r"{{.*?}}", re.DOTALL)
_PAIRS = {")": "(", "]": "[", "}": "{"}


def render_window(query: str, window: str) -> str:
    """Replace every ``{{.window}}`` (spaces allowed inside the braces) with ``window``."""
    return WINDOW_VAR_RE.sub(window, query)


def has_window_var(query: str) -> bool:
    return WINDOW_VAR_RE.search(query) is not None


def check_query(query: str) -> str | None:
    """A short reason why ``query`` cannot be a valid SLI query template, or None."""
    if not query.strip():
        return "query is required"
    if not has_window_var(query):
        return "template must contain the {{ .window }} variable"
    stray = _ANY_ACTION_RE.search(WINDOW_VAR_RE.sub("", query))
    if stray:
        return f"unknown template action {stray.group(0)!r} (only {{{{.window}}}} is supported)"
    return check_syntax(render_window(query, "1m"))


def check_syntax(expr: str) -> str | None:
    """Balanced brackets and closed string literals (with escapes), comments skipped."""
    stack: list[tuple[str, int]] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch == "#":  # PromQL comment to end of line
            while i < n and expr[i] != "\n":
                i += 1
            continue
        if ch in "\"'`":
            end = _string_end(expr, i)
            if end < 0:
                return f"unterminated string literal starting at offset {i}"
            i = end + 1
            continue
        if ch in "([{":
            stack.append((ch, i))
        elif ch in ")]}":
            if not stack or stack[-1][0] != _PAIRS[ch]:
                return f"unexpected {ch!r} at offset {i}"
            stack.pop()
        i += 1
    if stack:
        opener, pos = stack[-1]
        return f"unclosed {opener!r} at offset {pos}"
    return None


def _string_end(expr: str, start: int) -> int:
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        ch = expr[i]
        if ch == "\\" and quote != "`":
            i += 2
            continue
        if ch == quote:
            return i
        if ch == "\n" and quote != "`":
            return -1
        i += 1
    return -1


_BY_RE = re.compile(r"\b(by|without)\s*\(([^)]*)\)")


def aggregates_by(query: str, labels: tuple[str, ...]) -> bool:
    """Whether some ``by (...)`` clause of ``query`` keeps every label in ``labels`` (or a
    ``without (...)`` clause is used, which may keep them)."""
    for kind, inner in _BY_RE.findall(query):
        if kind == "without":
            return True
        kept = {part.strip() for part in inner.split(",")}
        if all(label in kept for label in labels):
            return True
    return False
