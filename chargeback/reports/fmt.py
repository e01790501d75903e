"""Text forms of report values: exact decimals (never exponent notation), money, shares."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

CENT = Decimal("0.01")


def dec(value: Decimal | None) -> str:
    """A decimal in plain fixed notation without trailing zeros ('12.5', '0', '-3')."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def money(value: Decimal | None) -> str:
    """Money to the cent ('1234.50')."""
    if value is None:
        return ""
    return format(value.quantize(CENT, rounding=ROUND_HALF_EVEN), "f")


def money_grouped(value: Decimal | None, currency: str = "") -> str:
    """Money for people: thousands separators and the currency ('1,234.50 USD')."""
    if value is None:
        return "n/a"
    text = f"{value.quantize(CENT, rounding=ROUND_HALF_EVEN):,.2f}"
    return f"{text} {currency}".strip()


def hours(value: Decimal | float | None, places: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,}"


def share(value: Decimal | float | None) -> str:
    """A 0..1 share as a percentage ('12.3%'), or 'n/a'."""
    if value is None:
        return "n/a"
    return f"{float(value) * 100:.1f}%"


def count(value: int) -> str:
    return f"{value:,}"


def plain(value: Any) -> Any:
    """JSON-ready form of a model dump: decimals as exact strings at their scale ('79.30'), dates ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
