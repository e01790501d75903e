"""Pure arithmetic of the ledger: exact unit conversions and largest-remainder rounding.

Quantities travel as integers in the ledger's smallest unit (1e-9 GPU-hour, 1e-9 of 1M tokens,
one cent), so sums are exact and a split always adds back to its total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Sequence

NANO = 10**9
MS_PER_HOUR = 3_600_000
CENTS = 100


def round_half_even(value: Fraction) -> int:
    """The nearest integer, ties to even (banker's rounding, as Decimal's default)."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def ms_to_nano_hours(ms: int) -> int:
    """GPU-milliseconds to units of 1e-9 GPU-hour."""
    return round_half_even(Fraction(ms * NANO, MS_PER_HOUR))


def nano_to_decimal(units: int, places: int = 9) -> Decimal:
    """An integer count of 10**-places units as an exact Decimal."""
    return Decimal(units).scaleb(-places)


def round_half_up(value: Fraction) -> int:
    """The nearest integer, ties away from zero (the usual rule on invoices)."""
    if value < 0:
        return -round_half_up(-value)
    return (value.numerator * 2 + value.denominator) // (2 * value.denominator)


def cents_of(amount: Fraction | Decimal) -> int:
    """An exact amount of money to whole cents, half a cent away from zero."""
    if isinstance(amount, Decimal):
        amount = Fraction(amount)
    return round_half_up(amount * CENTS)


def gpu_cost_cents(held_ms: int, price_per_hour: Decimal) -> int:
    """Cost of ``held_ms`` GPU-milliseconds at a per-GPU-hour price, in cents."""
    return cents_of(Fraction(held_ms, MS_PER_HOUR) * Fraction(price_per_hour))


def token_cost_cents(tokens: int, price_per_million: Decimal) -> int:
    """Cost of ``tokens`` at a per-1M-token price, in cents."""
    return cents_of(Fraction(tokens, 10**6) * Fraction(price_per_million))


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` that sum to ``total`` exactly.

    Each part is the floor of its exact share; the units left over go one each to the parts with
    the largest remainders (ties to the earlier part, so the result is deterministic). Weights
    must be >= 0; when they are all zero, ``total`` must be zero. ``total`` may be negative.
    """
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    if total < 0:
        return [-part for part in largest_remainder(-total, weights)]
    denominator = sum(weights)
    if denominator == 0:
        if total:
            raise ValueError(f"cannot split {total} over zero weights")
        return [0] * len(weights)
    shares = [divmod(total * w, denominator) for w in weights]
    parts = [q for q, _ in shares]
    left = total - sum(parts)
    if left:
        # The leftover units (fewer than there are parts) go to the largest remainders, earlier first.
        order = sorted(range(len(shares)), key=lambda i: -shares[i][1])
        for i in order[:left]:
            parts[i] += 1
    return parts


def float_weights(values: Sequence[float], scale: int = 1000) -> list[int]:
    """Non-negative float weights (GPU-milliseconds from SQL) as integers (microseconds)."""
    return [max(0, int(round(v * scale))) if v == v else 0 for v in values]


def quantize(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
