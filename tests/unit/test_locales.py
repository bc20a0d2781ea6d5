from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from transcreate.locales import (
    SUPPORTED_LOCALES,
    babel_name,
    format_discount,
    format_end_date,
    format_price,
    normalize_locale_tag,
    parse_locale_list,
)


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "expected"),
    [
        ("id", "199000", "IDR", "Rp199.000"),
        ("th", "399", "THB", "฿399"),
        ("zh", "89", "CNY", "¥89"),
        ("en", "12.99", "USD", "$12.99"),
    ],
)
def test_price_uses_the_cldr_symbol_and_grouping(
    locale: str, amount: str, currency: str, expected: str
) -> None:
    assert format_price(Decimal(amount), currency, locale) == expected


def test_whole_price_has_no_decimals() -> None:
    assert format_price(Decimal("12"), "USD", "en") == "$12"
    assert format_price(Decimal("199000.00"), "IDR", "id") == "Rp199.000"


def test_price_with_cents_keeps_two_decimals() -> None:
    assert format_price(Decimal("12.5"), "USD", "en") == "$12.50"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_discount_is_a_percent_in_every_locale(locale: str) -> None:
    assert format_discount(Decimal(50), locale) == "50%"


def test_fractional_discount_keeps_its_decimals() -> None:
    assert format_discount(Decimal("12.5"), "en") == "12.5%"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("id", "12 Des 2026"),
        ("th", "12 ธ.ค. 2026"),
        ("zh", "2026年12月12日"),
        ("en", "Dec 12, 2026"),
    ],
)
def test_end_date_is_in_the_locale_medium_style(locale: str, expected: str) -> None:
    assert format_end_date(datetime.date(2026, 12, 12), locale) == expected


@pytest.mark.parametrize("text", ["id,th,zh", "id, th, zh", "id;th;zh", "id th  zh", "id|th|zh"])
def test_locale_list_splits_on_commas_semicolons_spaces_and_pipes(text: str) -> None:
    assert parse_locale_list(text) == ("id", "th", "zh")


def test_locale_list_drops_repeats_and_keeps_order() -> None:
    assert parse_locale_list("th, id, th, TH, id") == ("th", "id")


def test_empty_locale_list_is_empty() -> None:
    assert parse_locale_list(" , ") == ()


@pytest.mark.parametrize("tag", ["xx", "th:x", "english", "zh-Hant-XX-YY-ZZ!"])
def test_bad_locale_tag_is_a_value_error_naming_the_tag(tag: str) -> None:
    with pytest.raises(ValueError, match=f"{tag!r} is not a CLDR locale"):
        parse_locale_list(f"id, {tag}")


def test_traditional_chinese_is_accepted() -> None:
    assert parse_locale_list("zh-Hant") == ("zh-Hant",)
    assert babel_name("zh-Hant") == "zh_Hant"
    assert format_end_date(datetime.date(2026, 12, 12), "zh-Hant") == "2026年12月12日"


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("TH", "th"),
        (" id ", "id"),
        ("zh_hant", "zh-Hant"),
        ("ZH-HANT", "zh-Hant"),
        ("en-us", "en-US"),
        ("zh-Hans-cn", "zh-Hans-CN"),
        ("es-419", "es-419"),
        ("zh-TW", "zh-TW"),
    ],
)
def test_locale_tag_gets_its_canonical_spelling(tag: str, canonical: str) -> None:
    assert normalize_locale_tag(tag) == canonical
