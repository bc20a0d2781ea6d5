"""Every script a campaign needs: the face per language, right-to-left order and placement,
line breaks per language held to an independent segmenter, CLDR digits, OCR languages. Nothing
here paints a creative: faces are measured and single glyphs drawn."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from tests.segmenting import at_word_end, cuts, word_ends
from transcreate.campaign import mirrored
from transcreate.compose import fonts
from transcreate.compose.blocks import TextBlock
from transcreate.compose.fonts import (
    ARABIC,
    HONG_KONG,
    JAPANESE,
    KOREAN,
    LATIN,
    TRADITIONAL,
    Face,
    family_for_locale,
    font_path,
    fonts_for_locale,
    visual_runs,
)
from transcreate.compose.lines import line_units, wrap
from transcreate.compose.search import pinned
from transcreate.errors import SetupError
from transcreate.locales import format_discount, format_end_date, format_price, native_digits
from transcreate.ocr import line_language, tesseract_language
from transcreate.request import RunRequest
from transcreate.wiring import compositor_for

# --- faces ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "family"),
    [
        ("ja", JAPANESE),
        ("ko", KOREAN),
        ("zh-Hant", TRADITIONAL),
        ("zh-TW", TRADITIONAL),
        ("zh-HK", HONG_KONG),
        ("ar", ARABIC),
        ("fa", ARABIC),
        ("ur", ARABIC),
        ("hi", fonts.DEVANAGARI),
        ("km", fonts.KHMER),
        ("he", fonts.HEBREW),
        ("lo", fonts.LAO),
        ("vi", LATIN),
        ("zh", fonts.CHINESE),
    ],
)
def test_each_language_takes_its_own_face(locale: str, family: str) -> None:
    assert family_for_locale(locale) == family
    assert fonts_for_locale(locale)[0] == font_path(family)


def test_japanese_korean_and_traditional_chinese_take_their_own_face_of_the_collection() -> None:
    faces = {font_path(family) for family in (JAPANESE, KOREAN, TRADITIONAL, HONG_KONG)}
    assert len({face.index for face in faces}) == 4
    assert {face.path.name for face in faces} == {"NotoSansCJK-Regular.ttc"}
    assert all(face.bold is not None and face.bold.name == "NotoSansCJK-Bold.ttc" for face in faces)


def _glyph(char: str, locale: str) -> bytes:
    face = Face(fonts_for_locale(locale), 64, None, locale)
    image = Image.new("L", (80, 80))
    ImageDraw.Draw(image).text((8, 70), char, font=face.font(face.chain[0]), fill=255, anchor="ls")
    return image.tobytes()


@pytest.mark.parametrize("char", ["直", "骨", "今"])
def test_the_same_character_takes_each_regions_glyph_form(char: str) -> None:
    forms = {locale: _glyph(char, locale) for locale in ("ja", "zh", "zh-Hant")}
    assert forms["ja"] != forms["zh"]  # Japanese never borrows the mainland form
    assert forms["ja"] != forms["zh-Hant"] or forms["zh"] != forms["zh-Hant"]


def test_a_missing_font_names_the_package_that_provides_it(monkeypatch, tmp_path) -> None:
    source = fonts._SOURCES[JAPANESE]
    monkeypatch.setitem(
        fonts._SOURCES,
        JAPANESE,
        fonts._Source(source.package, directory=str(tmp_path), file=source.file, face=source.face),
    )
    fonts.font_path.cache_clear()
    fonts._chain.cache_clear()
    try:
        with pytest.raises(SetupError, match="apt-get install fonts-noto-cjk"):
            fonts.require_fonts(["en", "ja"])
        sheet = tmp_path / "sheet.csv"
        sheet.write_text("variant,headline\nsale,セール\n", encoding="utf-8")
        request = RunRequest(campaign=str(sheet), image=str(sheet), out=str(tmp_path), locales="ja")
        with pytest.raises(SetupError, match="the japanese font is missing"):
            compositor_for(request)  # before any job: the run's editor is never made
    finally:
        fonts.font_path.cache_clear()
        fonts._chain.cache_clear()


# --- right to left --------------------------------------------------------------------------------


def test_a_right_to_left_line_runs_in_visual_order_with_its_brand_name_and_number() -> None:
    chain = fonts_for_locale("he")
    drawn = visual_runs("מבצע Lumière עד 50%", chain, True)
    # read right to left: מבצע, then Lumière, then עד 50% (the number stays left to right)
    assert [(text.strip(), direction) for _, text, direction in drawn if text.strip()] == [
        ("50%", "ltr"),
        ("עד", "rtl"),
        ("Lumière", "ltr"),
        ("מבצע", "rtl"),
    ]
    assert {font for font, text, _ in drawn if "Lumière" in text} == {font_path(LATIN)}


def test_arabic_text_shapes_right_to_left_in_one_run_with_its_number() -> None:
    drawn = visual_runs("خصم 30%", fonts_for_locale("ar"), True)
    # after an Arabic letter a European number is an Arabic number (UAX #9 W2), so the percent
    # sign reads first, at the left: ٪30 as Arabic readers write it
    assert [(text, direction) for _, text, direction in drawn] == [
        ("%", "rtl"),
        ("30", "ltr"),
        ("خصم ", "rtl"),
    ]


def test_left_to_right_copy_is_not_reordered() -> None:
    chain = fonts_for_locale("en")
    assert visual_runs("Sale 50% today", chain, False) == (
        (font_path(LATIN), "Sale 50% today", "ltr"),
    )


@pytest.mark.parametrize(
    ("position", "seen"),
    [("bottom-left", "bottom-right"), ("top-right", "top-left"), ("center", "center")],
)
def test_positions_mirror(position: str, seen: str) -> None:
    assert mirrored(position) == seen


def test_right_to_left_lines_are_set_flush_right_and_the_button_under_their_start() -> None:
    blocks = [
        TextBlock("headline", "تخفيضات الشتاء على منتجات Lumière المختارة", "#FFFFFF"),
        TextBlock("cta", "تسوق الآن", "#E53935"),
    ]
    headline, button = pinned(blocks, "bottom-right", (800, 800), "ar")
    rights = {box[2] for box in headline.line_boxes()}
    assert len(headline.measured.lines) >= 2 and max(rights) - min(rights) <= 1
    assert abs(button.box[2] - headline.box[2]) <= 1  # under the start of the lines


# --- line breaking, held to an independent segmenter ----------------------------------------------


JAPANESE_COPY = [
    "期間限定のタイムセール開催中、今すぐチェック",
    "冬の新作コレクションが入荷しました",
    "ポイント最大十倍キャンペーン実施中です",
]


@pytest.mark.parametrize("text", JAPANESE_COPY)
@pytest.mark.parametrize("width", [260, 340])
def test_japanese_never_breaks_inside_a_word_nor_before_a_small_kana_or_long_mark(
    text: str, width: int
) -> None:
    face = Face(fonts_for_locale("ja"), 32, "Bold", "ja")
    lines = wrap(text, face, width, 4, strict=True)  # as the layout sets copy
    assert lines is not None and "".join(lines) == text
    words = word_ends(text, "ja")  # ICU's dictionary, not BudouX, which decides our breaks
    for cut in cuts(text, lines):
        assert cut in words, (text, lines)
        assert text[cut] not in "ぁぃぅぇぉっゃゅょァィゥェォッャュョー、。がをにのはで"


def test_korean_breaks_only_between_words_at_spaces() -> None:
    text = "루미에르 겨울 한정 특가 최대 30% 할인 행사"
    assert all(unit.endswith(" ") for unit in line_units(text, "ko")[:-1])
    face = Face(fonts_for_locale("ko"), 32, "Bold", "ko")
    for width in (150, 220, 300):
        lines = wrap(text, face, width, 5)
        assert lines is not None
        assert " ".join(lines) == text


def test_khmer_breaks_where_an_independent_segmenter_ends_a_word() -> None:
    text = "បញ្ចុះតម្លៃរដូវរងា សម្រាប់អតិថិជនថ្មី ទិញឥឡូវនេះ"
    words = word_ends(text, "km")  # khmer-nltk's model; ICU's dictionary decides our breaks
    face = Face(fonts_for_locale("km"), 32, "Bold", "km")
    for width in (200, 280, 380):
        lines = wrap(text, face, width, 5)
        assert lines is not None
        assert all(at_word_end(text, cut, words) for cut in cuts(text, lines)), lines


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("ar", "تخفيضات الشتاء على منتجات Lumière المختارة"),
        ("hi", "सर्दियों की सेल में भारी छूट पाएं"),
        ("vi", "Ưu đãi mùa đông cho khách hàng mới của Lumière"),
    ],
)
def test_spaced_scripts_break_at_spaces_with_their_clusters_whole(locale: str, text: str) -> None:
    face = Face(fonts_for_locale(locale), 32, "Bold", locale)
    for width in (200, 300):
        lines = wrap(text, face, width, 5)
        assert lines is not None and " ".join(lines) == text


# --- formats and OCR ------------------------------------------------------------------------------


def test_digits_follow_the_locales_cldr_numbering_system() -> None:
    from datetime import date
    from decimal import Decimal

    assert format_discount(Decimal(30), "ar-EG") == "٣٠%"
    assert native_digits("2026", "fa") == "۲۰۲۶"
    assert format_discount(Decimal(30), "ar") == "30%"  # CLDR's ar (and ar-MA) writes Latin
    assert "١٩٩" in format_price(Decimal(199), "EGP", "ar-EG")
    assert format_end_date(date(2026, 12, 31), "ar-SA").startswith("٣١")
    assert format_price(Decimal(199), "USD", "hi") == "$199"


@pytest.mark.parametrize(
    ("locale", "language"),
    [("ko", "kor"), ("ja", "jpn"), ("zh-TW", "chi_tra"), ("ar", "ara"), ("hi", "hin"),
     ("vi", "vie"), ("km", "khm"), ("he", "heb"), ("fil", "eng")],
)  # fmt: skip
def test_each_script_is_read_back_in_its_own_tesseract_language(locale: str, language: str) -> None:
    assert tesseract_language(locale) == language


def test_a_line_is_read_in_the_language_of_its_letters() -> None:
    assert line_language("تخفيضات على Lumière", "ar") == "ara+eng"
    assert line_language("Lumière", "ar") == "ara+eng"
    assert line_language("今すぐチェック", "zh") == "jpn"
    assert line_language("限時搶購", "zh-TW") == "chi_tra"
    assert line_language("Sale", "en") == "eng"
