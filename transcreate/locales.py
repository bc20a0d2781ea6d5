"""Supported locales and their CLDR formats (Babel): the one source of truth for our locales."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.core import parse_locale as split_identifier
from babel.dates import format_date
from babel.numbers import format_currency, format_percent, get_currency_symbol

# The locales the product ships catalogs, fonts and OCR languages for (the README's table lists
# each one's). Any other CLDR locale works once a catalog is added under
# locales/<tag>/LC_MESSAGES/messages.po (see the README's translator workflow) and its script has a
# font (compose/fonts.py).
SUPPORTED_LOCALES: tuple[str, ...] = (
    "id", "th", "zh", "en", "ms", "vi", "fil", "zh-Hant", "ja", "ko", "hi", "km", "ar", "he",
)  # fmt: skip
#: The same, as a type: a form offers exactly these (tests keep the two in step).
SupportedLocale = Literal[
    "id", "th", "zh", "en", "ms", "vi", "fil", "zh-Hant", "ja", "ko", "hi", "km", "ar", "he"
]
#: What a run makes when it is not told: the first markets.
DEFAULT_LOCALES: tuple[SupportedLocale, ...] = ("id", "th", "zh", "en")


def parse_locale(tag: str) -> Locale:
    """Parse a BCP 47 / CLDR tag such as ``th`` or ``zh-Hans``; ValueError names the bad tag."""
    try:
        return Locale.parse(tag.strip(), sep="-" if "-" in tag else "_")
    except (ValueError, UnknownLocaleError) as error:
        raise ValueError(
            f"{tag!r} is not a CLDR locale; use a tag such as {', '.join(SUPPORTED_LOCALES)}"
        ) from error


def normalize_locale_tag(tag: str) -> str:
    """Canonical spelling of a locale tag, as used in column names, keys and the manifest.

    BCP 47 casing of the subtags as written (``TH`` → ``th``, ``zh_hant`` → ``zh-Hant``,
    ``en-us`` → ``en-US``), so ``headline:TH`` and a run for ``th`` meet; aliases are kept as
    written (``zh-TW`` stays ``zh-TW``).
    """
    parse_locale(tag)  # validates
    language, *rest = re.split(r"[-_]", tag.strip())
    subtags = [language.lower()]
    for subtag in rest:
        if len(subtag) == 4 and subtag.isalpha():
            subtags.append(subtag.title())  # script
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            subtags.append(subtag.upper())  # region
        else:
            subtags.append(subtag.lower())
    return "-".join(subtags)


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


# The zero of each numbering system CLDR names as a locale's default, other than latn (the other
# nine digits follow it in Unicode). Babel picks the system's separators but writes Latin digits.
_ZEROS = {"arab": "\u0660", "arabext": "\u06f0", "beng": "\u09e6", "deva": "\u0966",
          "khmr": "\u17e0", "laoo": "\u0ed0", "mymr": "\u1040", "thai": "\u0e50"}  # fmt: skip


@lru_cache(maxsize=64)
def _digits(locale: str) -> dict[int, str]:
    system = Locale.parse(locale).default_numbering_system
    zero = _ZEROS.get(system)
    return {} if zero is None else {ord("0") + n: chr(ord(zero) + n) for n in range(10)}


def native_digits(text: str, locale: str) -> str:
    """Latin digits written in the locale's own (``٥٠`` in Egypt and Saudi Arabia, ``۵۰`` in
    Iran), as CLDR's default numbering system for the locale says; unchanged elsewhere."""
    return text.translate(_digits(babel_name(locale)))


def format_price(amount: Decimal, currency: str, locale: str) -> str:
    """A price as an ad shows it: CLDR symbol and grouping, no ``.00`` on whole amounts, the
    locale's own digits and separators."""
    name = babel_name(locale)
    if amount == amount.to_integral_value():
        formatted = format_currency(
            amount,
            currency,
            format=_whole_amount_pattern(name),
            locale=name,
            currency_digits=False,
            numbering_system="default",
        )
    else:
        formatted = format_currency(amount, currency, locale=name, numbering_system="default")
    return native_digits(_isolated_symbol(formatted, currency, name), locale)


_LEFT_TO_RIGHT_MARK = "\u200e"


def _isolated_symbol(formatted: str, currency: str, locale: str) -> str:
    """In right-to-left copy a symbol in Latin letters ("US$") ends in a left-to-right mark:
    else the bidi algorithm moves its "$" to the letters' other side ("$US"). A mark, as CLDR
    itself uses, not an isolate: the policy refuses isolates in copy (they can hide text)."""
    symbol = get_currency_symbol(currency, locale)
    if not is_right_to_left(locale) or not any(
        char.isascii() and char.isalpha() for char in symbol
    ):
        return formatted
    return formatted.replace(symbol, symbol + _LEFT_TO_RIGHT_MARK, 1)


@lru_cache(maxsize=64)
def _whole_amount_pattern(locale: str) -> str:
    standard = Locale.parse(locale).currency_formats["standard"].pattern
    return re.sub(r"\.0+", "", standard)


def format_discount(percent: Decimal, locale: str) -> str:
    """``Decimal(50)`` → ``50%`` in the locale's style."""
    formatted = format_percent(
        percent / 100,
        locale=babel_name(locale),
        decimal_quantization=False,
        numbering_system="default",
    )
    return native_digits(formatted, locale)


def format_end_date(day: datetime.date, locale: str) -> str:
    """A campaign end date in the locale's medium style (``31 Des 2026``, ``2026年12月31日``)."""
    return native_digits(format_date(day, format="medium", locale=babel_name(locale)), locale)


def base_language(tag: str) -> str:
    """The language subtag of a locale tag, lower-case: ``zh-Hant-TW`` → ``zh``."""
    return tag.replace("_", "-").split("-")[0].lower()


def language_name(tag: str, in_locale: str = "en") -> str:
    """The locale's display name, e.g. ``Thai`` or ``ไทย``."""
    return parse_locale(tag).get_display_name(babel_name(in_locale)) or tag


@lru_cache(maxsize=256)
def script_of(locale: str) -> str:
    """The ISO 15924 script a locale is written in (``Thai``, ``Latn``, ``Hant`` …), or "".

    An explicit script subtag wins; else CLDR's likely subtags, for the language and region
    first (zh-TW is written in Traditional characters, zh in Simplified)."""
    parsed = parse_locale(locale)
    if parsed.script:
        return str(parsed.script)
    likely_subtags = get_global("likely_subtags")
    for key in (f"{parsed.language}_{parsed.territory}", parsed.language):
        likely = likely_subtags.get(key, "")  # "th" → "th_Thai_TH"
        if likely:
            try:
                return split_identifier(likely)[2] or ""
            except ValueError:
                return ""
    return ""


@lru_cache(maxsize=256)
def is_right_to_left(locale: str) -> bool:
    """Whether the locale's copy runs right to left (Arabic, Hebrew, Persian, Urdu …), by CLDR."""
    return parse_locale(locale).character_order == "right-to-left"
