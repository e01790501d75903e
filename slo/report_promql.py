"""The PromQL that SLO reports can answer from stored samples, parsed into counter sums.

A report computes an SLI over a month from the ``delta`` column of ``samples`` (the reset-aware
increase of each counter sample), so it can only answer queries that are sums of counter
increases. This module parses the SLI queries of an SLO (with ``{{.window}}`` standing for the
report window) and returns them as signed sums of :class:`CounterSum` terms, or raises
:class:`UnsupportedQuery` saying which part of the query is outside the supported shapes:

* a **term**: ``sum(rate(SELECTOR[{{.window}}]))`` or ``increase`` instead of ``rate``, with
  ``by (labels)`` before or after the parentheses; the selector is a metric name and/or label
  matchers (``=``, ``!=``, ``=~``, ``!~``, ``__name__`` included);
* an **events query** (``error_query``, ``total_query``): terms joined by ``+`` and ``-``, in
  parentheses or not, optionally ``or vector(0)`` (a missing counter is 0 in a report anyway);
* a **raw query** (``error_ratio_query``): ``A / B`` or ``1 - (A / B)`` with ``A`` and ``B``
  events queries (the second is what Sloth makes of an OpenSLO ratio: good over total).

Everything else (other aggregations or functions, a fixed range instead of ``{{.window}}``,
``offset``/``@``, subqueries, ``on``/``ignoring``, comparisons, ``without``) is rejected. All the
terms of one SLO must aggregate by the same labels (these become the report's groups, e.g. one
row per tenant) and use the same function (all ``rate`` or all ``increase``), so that the ratio
of their increases is the ratio of the queries.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infermeter.slo.conventions import WINDOW_VAR_RE
from infermeter.slo.model import SLI, EventsSLI, RawSLI

NAME_LABEL = "__name__"
MATCH_OPS = ("=", "!=", "=~", "!~")
_WINDOW = "\x00window\x00"  # what {{.window}} becomes before tokenizing

SUPPORTED_SHAPES = (
    "sums of sum(rate(selector[{{.window}}])) or increase(), with an optional by (labels), joined by + and -, "
    "optionally 'or vector(0)'; raw SLIs as 'A / B' or '1 - (A / B)' of such sums"
)


_AGGREGATIONS = frozenset(
    {"avg", "min", "max", "count", "count_values", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
     "limitk", "limit_ratio"}
)


class UnsupportedQuery(ValueError):
    """The query is valid PromQL (perhaps) but not a shape a report can compute from samples."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # one of MATCH_OPS
    value: str  # the unquoted value (a regex for =~ and !~, unanchored as written)


@dataclass(frozen=True)
class CounterSum:
    """``sum by (by) (func(selector[window]))``: the increase of the matching counters."""

    matchers: tuple[Matcher, ...]
    by: tuple[str, ...] = ()  # sorted
    func: str = "rate"  # rate | increase


Linear = tuple[tuple[int, CounterSum], ...]  # signed terms: (+1 or -1, term)


@dataclass(frozen=True)
class CounterRatio:
    """An SLI as error events over total events, each a signed sum of counter increases."""

    errors: Linear
    total: Linear

    @property
    def by(self) -> tuple[str, ...]:
        return self.total[0][1].by if self.total else ()

    def terms(self) -> tuple[CounterSum, ...]:
        return tuple(t for _, t in (*self.errors, *self.total))


# --- tokens -----------------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<range>\[[^\]]*\])
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^(){},=<>@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise UnsupportedQuery(f"cannot read {text[pos:pos + 12]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(0), pos))
        pos = m.end()
    out.append(_Tok("eof", "", pos))
    return out


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def unquote(literal: str) -> str:
    """The value of a PromQL string literal (Go's escapes; backticks are raw)."""
    quote, body = literal[0], literal[1:-1]
    if quote == "`":
        return body
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        elif nxt.isdigit():
            out.append(chr(int(body[i + 1 : i + 4], 8)))
            i += 4
        else:
            raise UnsupportedQuery(f"unknown escape sequence \\{nxt} in {literal}")
    return "".join(out)


# --- syntax tree ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Vector0:
    pass


@dataclass(frozen=True)
class _Term:
    term: CounterSum
    summed: bool  # inside sum(...): a bare rate() keeps its labels, which a report cannot


@dataclass(frozen=True)
class _Bin:
    op: str
    lhs: object
    rhs: object


class _Parser:
    """Recursive descent over the supported subset; anything else raises UnsupportedQuery."""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if tok.text != text:
            raise UnsupportedQuery(f"expected {text!r} at offset {tok.pos}, found {tok.text or 'the end'!r}")
        return tok

    def parse(self) -> object:
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "eof":
            raise UnsupportedQuery(f"unexpected {tok.text!r} at offset {tok.pos}")
        return node

    def or_expr(self) -> object:
        node = self.add_expr()
        while self.peek().text in ("or", "and", "unless"):
            op = self.take().text
            if op != "or":
                raise UnsupportedQuery(f"'{op}' is not supported")
            self._no_matching_modifiers(op)
            rhs = self.add_expr()
            if not isinstance(rhs, _Vector0):
                raise UnsupportedQuery("'or' is supported only as 'or vector(0)'")
            node = _Bin("or", node, rhs)
        return node

    def _no_matching_modifiers(self, op: str) -> None:
        tok = self.peek()
        if tok.text in ("on", "ignoring", "group_left", "group_right", "bool"):
            raise UnsupportedQuery(f"'{op} {tok.text}' (vector matching) is not supported")

    def add_expr(self) -> object:
        node = self.mul_expr()
        while self.peek().text in ("+", "-"):
            op = self.take().text
            self._no_matching_modifiers(op)
            node = _Bin(op, node, self.mul_expr())
        tok = self.peek()
        if tok.text in ("==", "!=", "<", ">", "<=", ">="):
            raise UnsupportedQuery(f"comparison '{tok.text}' is not supported")
        return node

    def mul_expr(self) -> object:
        node = self.unary()
        while self.peek().text in ("*", "/", "%", "^"):
            op = self.take().text
            if op != "/":
                raise UnsupportedQuery(f"operator '{op}' is not supported")
            self._no_matching_modifiers(op)
            node = _Bin(op, node, self.unary())
        return node

    def unary(self) -> object:
        tok = self.peek()
        if tok.kind == "number":
            self.take()
            return _Num(float(tok.text))
        if tok.text == "(":
            self.take()
            node = self.or_expr()
            self.expect(")")
            return node
        if tok.kind == "ident":
            name = tok.text
            if name == "sum":
                return self.aggregation()
            if name in _AGGREGATIONS:
                raise UnsupportedQuery(f"aggregation '{name}' is not supported, only sum")
            if name == "vector":
                self.take()
                self.expect("(")
                num = self.take()
                if num.kind != "number" or float(num.text) != 0:
                    raise UnsupportedQuery("only vector(0) is supported")
                self.expect(")")
                return _Vector0()
            if self.toks[self.i + 1].text == "(":
                if name in ("rate", "increase"):
                    return self.rate_call()
                raise UnsupportedQuery(f"{name}(...) is not supported")
            raise UnsupportedQuery(f"a bare selector ({name}) is not supported; use sum(rate({name}[{{{{.window}}}}]))")
        if tok.text == "{":
            raise UnsupportedQuery("a bare selector is not supported; use sum(rate({...}[{{.window}}]))")
        raise UnsupportedQuery(f"unexpected {tok.text or 'end of query'!r} at offset {tok.pos}")

    def grouping(self) -> tuple[str, ...] | None:
        tok = self.peek()
        if tok.text == "without":
            raise UnsupportedQuery("'without (...)' is not supported; use 'by (...)'")
        if tok.text != "by":
            return None
        self.take()
        self.expect("(")
        labels: list[str] = []
        while self.peek().text != ")":
            label = self.take()
            if label.kind != "ident":
                raise UnsupportedQuery(f"expected a label name in by (...), found {label.text!r}")
            labels.append(label.text)
            if self.peek().text == ",":
                self.take()
        self.expect(")")
        return tuple(labels)

    def aggregation(self) -> object:
        self.take()  # sum
        by = self.grouping()
        self.expect("(")
        inner = self.or_expr()
        self.expect(")")
        after = self.grouping()
        if by is not None and after is not None:
            raise UnsupportedQuery("'by' is given twice")
        by = by if by is not None else (after or ())
        if not isinstance(inner, _Term):
            raise UnsupportedQuery("sum(...) must wrap exactly one rate(...) or increase(...)")
        if inner.summed:
            raise UnsupportedQuery("nested sum(...) is not supported")
        return _Term(CounterSum(inner.term.matchers, tuple(sorted(set(by))), inner.term.func), True)

    def rate_call(self) -> _Term:
        func = self.take().text
        self.expect("(")
        matchers = self.selector()
        rng = self.take()
        if rng.kind != "range":
            raise UnsupportedQuery(f"{func}(...) needs a range [{{{{.window}}}}], found {rng.text or 'the end'!r}")
        body = rng.text[1:-1].strip()
        if ":" in body:
            raise UnsupportedQuery("subqueries are not supported")
        if body != _WINDOW:
            raise UnsupportedQuery(f"range [{body}] is fixed; a report needs [{{{{.window}}}}]")
        if self.peek().text in ("offset", "@"):
            raise UnsupportedQuery(f"'{self.peek().text}' modifiers are not supported")
        self.expect(")")
        return _Term(CounterSum(matchers, (), func), False)

    def selector(self) -> tuple[Matcher, ...]:
        matchers: list[Matcher] = []
        tok = self.peek()
        if tok.kind == "ident":
            self.take()
            matchers.append(Matcher(NAME_LABEL, "=", tok.text))
        if self.peek().text == "{":
            self.take()
            while self.peek().text != "}":
                name = self.take()
                if name.kind == "string":  # Prometheus 3 quoted names: {"metric.name"}
                    matchers.append(Matcher(NAME_LABEL, "=", unquote(name.text)))
                else:
                    if name.kind != "ident":
                        raise UnsupportedQuery(f"expected a label name, found {name.text!r}")
                    op = self.take()
                    if op.text not in MATCH_OPS:
                        raise UnsupportedQuery(f"expected a matcher operator after {name.text}, found {op.text!r}")
                    value = self.take()
                    if value.kind != "string":
                        raise UnsupportedQuery(f"expected a quoted value for {name.text}, found {value.text!r}")
                    matchers.append(Matcher(name.text, op.text, unquote(value.text)))
                if self.peek().text == ",":
                    self.take()
                elif self.peek().text != "}":
                    raise UnsupportedQuery(f"expected ',' or '}}' at offset {self.peek().pos}")
            self.take()
        if not matchers:
            raise UnsupportedQuery(f"expected a selector at offset {tok.pos}")
        return tuple(matchers)


def _parse(query: str) -> object:
    return _Parser(WINDOW_VAR_RE.sub(_WINDOW, query)).parse()


# --- reduction ------------------------------------------------------------------------------------
def _linear(node: object) -> Linear:
    if isinstance(node, _Term):
        if not node.summed:
            raise UnsupportedQuery(f"{node.term.func}(...) must be inside sum(...)")
        return ((1, node.term),)
    if isinstance(node, _Bin) and node.op in ("+", "-"):
        sign = 1 if node.op == "+" else -1
        return _linear(node.lhs) + tuple((sign * s, t) for s, t in _linear(node.rhs))
    if isinstance(node, _Bin) and node.op == "or":
        return _linear(node.lhs)
    if isinstance(node, _Num):
        raise UnsupportedQuery("a number is supported only as '1 - (A / B)' in a raw SLI")
    if isinstance(node, _Vector0):
        raise UnsupportedQuery("vector(0) is supported only after 'or'")
    if isinstance(node, _Bin) and node.op == "/":
        raise UnsupportedQuery("'/' is supported only in a raw SLI ('A / B' or '1 - (A / B)')")
    raise UnsupportedQuery("unsupported expression")  # pragma: no cover


def _ratio(node: object) -> CounterRatio:
    if isinstance(node, _Bin) and node.op == "/":
        return CounterRatio(_linear(node.lhs), _linear(node.rhs))
    if isinstance(node, _Bin) and node.op == "-" and isinstance(node.lhs, _Num) and node.lhs.value == 1:
        good = _ratio(node.rhs)
        return CounterRatio(good.total + tuple((-s, t) for s, t in good.errors), good.total)
    raise UnsupportedQuery("a raw SLI must be 'A / B' or '1 - (A / B)'")


def _checked(ratio: CounterRatio) -> CounterRatio:
    terms = ratio.terms()
    if not ratio.total:
        raise UnsupportedQuery("the total has no terms")
    bys = {t.by for t in terms}
    if len(bys) > 1:
        found = " and ".join(f"by ({', '.join(b)})" if b else "no by" for b in sorted(bys))
        raise UnsupportedQuery(f"all terms must aggregate by the same labels, found {found}")
    funcs = {t.func for t in terms}
    if len(funcs) > 1:
        raise UnsupportedQuery("the terms mix rate() and increase()")
    return ratio


def parse_linear(query: str) -> Linear:
    """An events query as signed counter sums."""
    return _linear(_parse(query))


def counter_ratio(sli: SLI) -> CounterRatio:
    """The SLI of an SLO as error and total counter sums; raises :class:`UnsupportedQuery`."""
    if isinstance(sli, EventsSLI):
        try:
            errors = parse_linear(sli.error_query)
        except UnsupportedQuery as exc:
            raise UnsupportedQuery(f"error_query: {exc}") from None
        try:
            total = parse_linear(sli.total_query)
        except UnsupportedQuery as exc:
            raise UnsupportedQuery(f"total_query: {exc}") from None
        return _checked(CounterRatio(errors, total))
    if isinstance(sli, RawSLI):
        try:
            return _checked(_ratio(_parse(sli.error_ratio_query)))
        except UnsupportedQuery as exc:
            raise UnsupportedQuery(f"error_ratio_query: {exc}") from None
    raise UnsupportedQuery("the SLO has no SLI")


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Label matchers written as a template ``selector`` (``a="b", c=~"d"``)."""
    if not text.strip():
        return ()
    parser = _Parser("{" + text + "}")
    matchers = parser.selector()
    if parser.peek().kind != "eof":
        raise UnsupportedQuery(f"unexpected {parser.peek().text!r} in selector {text!r}")
    return matchers
