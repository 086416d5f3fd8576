"""Kubernetes resource quantities ("500m", "1Gi", "2e3") as exact Decimals (pure).

The API server canonicalizes the quantities it stores ("0.5" comes back as
"500m"), so comparing desired and live objects needs their values, not their text.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{
        suffix: Decimal(1024) ** power
        for power, suffix in enumerate(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"], 1)
    },
}
# A signed decimal number, then a binary or decimal SI suffix or a decimal exponent.
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))((?:[eE][+-]?\d+)|[KMGTPE]i|[numkMGTPE]?)")


def parse_quantity(text: str) -> Decimal:
    """The value of ``text``; raises ValueError when it is not a Kubernetes quantity."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a quantity: {text!r}")
    number, suffix = match.groups()
    try:
        if suffix in _SUFFIXES:
            return Decimal(number) * _SUFFIXES[suffix]
        return Decimal(number + suffix)  # a decimal exponent such as "e3"
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {text!r}") from exc


def same_quantity(left: str, right: str) -> bool:
    """Whether two strings are equal quantities; False when either is not a quantity."""
    try:
        return parse_quantity(left) == parse_quantity(right)
    except ValueError:
        return False
