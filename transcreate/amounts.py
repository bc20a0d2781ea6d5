"""Amounts in a campaign sheet: plain numbers (a price, a discount) and each locale's price
with its ISO 4217 currency, every problem reported against its column."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, is_currency

PRICE_FIELDS: tuple[str, ...] = ("price", "currency")
Reporter = Callable[[str, str], None]  # report(column, message) for the row being parsed

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_WHOLE_DIGITS = 15  # 999 trillion: more than any price in any currency
_MAX_DIGITS = 24  # with its decimals


def decimal_in(text: str, column: str, problem: Reporter, example: str) -> Decimal | None:
    if not text:
        return None
    compact = text.replace(" ", "").replace("\u00a0", "")
    if not _NUMBER.fullmatch(compact):
        problem(
            column,
            f"{text!r} is not a plain number; write {example} (no currency signs, no thousands "
            "separators, '.' for decimals)",
        )
        return None
    whole = compact.split(".", 1)[0].lstrip("0")
    if len(whole) > _MAX_WHOLE_DIGITS or len(compact) > _MAX_DIGITS:
        # Babel formats within Python's 28-digit decimal context; no price or discount needs more
        problem(column, f"{text!r} has too many digits for an amount; write {example}")
        return None
    try:
        return Decimal(compact)
    except InvalidOperation:  # pragma: no cover - the pattern above already rules this out
        problem(column, f"{text!r} is not a number; write {example}")
        return None


def prices_of(values: Mapping[str, str], problem: Reporter) -> dict[str, tuple[Decimal, str]]:
    """The default price (`price`, `currency`) and per-locale ones (`price:th`, `currency:th`)."""
    prices: dict[str, tuple[Decimal, str]] = {}
    suffixes = {
        column.partition(":")[2] for column in values if column.partition(":")[0] in PRICE_FIELDS
    }
    for suffix in sorted(suffixes):
        price_column = f"price:{suffix}" if suffix else "price"
        currency_column = f"currency:{suffix}" if suffix else "currency"
        example = "a price like 199000 or 19.99"
        amount = decimal_in(values.get(price_column, ""), price_column, problem, example)
        currency = (values.get(currency_column) or values.get("currency", "")).upper()
        if currency and not is_currency(currency):
            problem(
                currency_column,
                f"{currency!r} is not an ISO 4217 code; use e.g. IDR, THB, CNY, USD",
            )
        elif amount is not None and not currency:
            problem(currency_column, "empty, but the row has a price; give its ISO 4217 code")
        elif amount is not None and _decimals(amount) > get_currency_precision(currency):
            # "199.000" is 199000 written with a thousands separator far more often than 199 IDR.
            problem(
                price_column,
                f"{values[price_column]!r} has more decimals than {currency} uses "
                f"({get_currency_precision(currency)}); if '.' separates thousands, write "
                f"{values[price_column].replace('.', '')}, else round it",
            )
        elif amount is not None:
            prices[suffix] = (amount, currency)
    return prices


def _decimals(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
