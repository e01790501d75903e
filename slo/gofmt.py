"""Go's text formatting, reproduced where Sloth's output depends on it.

Sloth is written in Go; matching its output byte for byte means formatting floats as Go's
``fmt`` does (``%g``, ``%v`` and ``strconv.FormatFloat(f, 'f', -1)``), quoting label values as
``strconv.Quote`` does, and ordering map keys as go-yaml's encoder does.
"""

from __future__ import annotations

import functools
import unicodedata
from decimal import Decimal


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of ``value`` and the exponent of its first digit."""
    sign, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(str(d) for d in digits).rstrip("0") or "0"
    # value = 0.d1d2d3... * 10**(len(digits) + exponent)
    assert isinstance(exponent, int)
    point = len(digits) + exponent
    return text, point - 1


def _fixed(digits: str, exp: int) -> str:
    point = exp + 1  # digits before the decimal point
    if point <= 0:
        return "0." + "0" * (-point) + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _sci(digits: str, exp: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{mantissa}e{sign}{abs(exp):02d}"


def _format(value: float, exp_limit: int) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    neg = value < 0 or (value == 0 and str(value).startswith("-"))
    if value == 0:
        return "-0" if neg else "0"
    digits, exp = _shortest_digits(value)
    body = _sci(digits, exp) if exp < -4 or exp >= exp_limit else _fixed(digits, exp)
    return ("-" if neg else "") + body


def format_g(value: float) -> str:
    """Go's ``fmt.Sprintf("%g", value)``: shortest digits, exponent form from 1e+06 or below 1e-04."""
    return _format(float(value), 6)


def format_v(value: float) -> str:
    """Go's ``fmt.Sprint(value)`` (``%v``), as text/template prints a float64."""
    return _format(float(value), 21)


def format_f(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'f', -1, 64)``: shortest digits, never an exponent."""
    value = float(value)
    if value == 0:
        return "0"
    digits, exp = _shortest_digits(value)
    return ("-" if value < 0 else "") + _fixed(digits, exp)


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double quotes, with escapes for control and non-printable runes."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) > 0x7F and unicodedata.category(ch)[0] in ("C", "Z") and ch != " ":
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def label_filter(labels: dict[str, str]) -> str:
    """Prometheus ``LabelSet.String()``: ``{a="x", b="y"}`` with keys sorted."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


def _key_less(a: str, b: str) -> bool:
    """go-yaml's map key order: letters compare by code point, digit runs compare as numbers,
    other characters sort before letters."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return ca < cb
        if al or bl:
            return bl
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _cmp(a: str, b: str) -> int:
    if _key_less(a, b):
        return -1
    if _key_less(b, a):
        return 1
    return 0


_sort_key = functools.cmp_to_key(_cmp)


def yaml_key_order(keys: list[str] | tuple[str, ...] | set[str] | dict[str, object]) -> list[str]:
    """Keys in the order go-yaml writes a map."""
    return sorted(keys, key=_sort_key)
