"""Supported locales and their CLDR formats (Babel): the one source of truth for what we localize to."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_percent

# The locales the product ships catalogs and fonts for. Any other CLDR locale works once a catalog
# is added under locales/<tag>/LC_MESSAGES/messages.po (see the README's translator workflow).
SUPPORTED_LOCALES: tuple[str, ...] = ("id", "th", "zh", "en")
DEFAULT_LOCALES: tuple[str, ...] = SUPPORTED_LOCALES


def parse_locale(tag: str) -> Locale:
    """Parse a BCP 47 / CLDR tag such as ``th`` or ``zh-Hans``; ValueError names the bad tag."""
    try:
        return Locale.parse(tag.strip(), sep="-" if "-" in tag else "_")
    except (ValueError, UnknownLocaleError) as error:
        raise ValueError(
            f"{tag!r} is not a CLDR locale; use a tag such as {', '.join(SUPPORTED_LOCALES)}"
        ) from error


def normalize_locale_tag(tag: str) -> str:
    """Canonical spelling of a locale tag, as used in column names, keys and the manifest."""
    parse_locale(tag)  # validates
    return tag.strip().replace("_", "-")


def parse_locale_list(text: str) -> tuple[str, ...]:
    """Split ``"id, th zh"`` (commas, semicolons, spaces or pipes) into validated tags, in order."""
    tags = [part for part in re.split(r"[\s,;|]+", text) if part]
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(normalize_locale_tag(tag), None)
    return tuple(seen)


def babel_name(tag: str) -> str:
    """Babel's own spelling of a tag (``zh-Hant`` → ``zh_Hant``)."""
    return str(parse_locale(tag))


def format_price(amount: Decimal, currency: str, locale: str) -> str:
    """A price as an ad shows it: CLDR symbol and grouping, no ``.00`` on whole amounts."""
    if amount == amount.to_integral_value():
        pattern = _whole_amount_pattern(babel_name(locale))
        return format_currency(
            amount, currency, format=pattern, locale=babel_name(locale), currency_digits=False
        )
    return format_currency(amount, currency, locale=babel_name(locale))


@lru_cache(maxsize=64)
def _whole_amount_pattern(locale: str) -> str:
    standard = Locale.parse(locale).currency_formats["standard"].pattern
    return re.sub(r"\.0+", "", standard)


def format_discount(percent: Decimal, locale: str) -> str:
    """``Decimal(50)`` → ``50%`` in the locale's style."""
    return format_percent(percent / 100, locale=babel_name(locale), decimal_quantization=False)


def format_end_date(day: datetime.date, locale: str) -> str:
    """A campaign end date in the locale's medium style (``31 Des 2026``, ``2026年12月31日``)."""
    return format_date(day, format="medium", locale=babel_name(locale))


def language_name(tag: str, in_locale: str = "en") -> str:
    """The locale's display name, e.g. ``Thai`` or ``ไทย``."""
    return parse_locale(tag).get_display_name(babel_name(in_locale)) or tag
