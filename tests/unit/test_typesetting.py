from __future__ import annotations

import hashlib
import io
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from tests.drawing import layout, typeset
from transcreate.campaign import POSITIONS
from transcreate.compose import fonts
from transcreate.compose.blocks import Box, TextBlock
from transcreate.compose.colors import contrasting_color
from transcreate.compose.fonts import (
    CHINESE,
    LATIN,
    THAI,
    codepoints,
    font_path,
    font_runs,
    fonts_for_locale,
)
from transcreate.compose.lines import line_units
from transcreate.errors import MissingGlyphError, SetupError, TypesettingError

GREY = (128, 128, 128)
SQUARE = (1024, 1024)
CLOSING_PUNCTUATION = "，。！？、）"


@pytest.fixture
def base() -> Image.Image:
    return Image.new("RGB", SQUARE, GREY)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def compose(
    image: Image.Image, blocks: list[TextBlock], position: str, locale: str
) -> tuple[Image.Image, list[Box]]:
    """The exact layout, decided and painted as the built-in editor sets it, and each box."""
    composed, record = typeset(image, blocks, position, locale, layout="exact")
    return composed, [tuple(element["box"]) for element in record["elements"]]


def headline(text: str, color: str = "#FFD700") -> TextBlock:
    return TextBlock("headline", text, color)


def test_fonts_for_locale_puts_the_script_of_the_locale_first() -> None:
    latin, thai, chinese = font_path(LATIN), font_path(THAI), font_path(CHINESE)
    assert fonts_for_locale("th") == (thai, latin, chinese)
    assert fonts_for_locale("zh") == (chinese, latin)
    assert fonts_for_locale("zh-Hans-CN") == (chinese, latin)
    assert fonts_for_locale("id") == (latin, chinese, thai)
    assert fonts_for_locale("en") == (latin, chinese, thai)
    assert fonts_for_locale("pt-BR") == (latin, chinese, thai)


def test_check_text_support_passes_on_this_machine() -> None:
    fonts.check_text_support()


def test_check_text_support_without_raqm_says_to_install_libfribidi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fonts.features, "check", lambda feature: False)
    with pytest.raises(SetupError, match="libfribidi0"):
        fonts.check_text_support()


def test_thai_line_units_break_at_word_boundaries() -> None:
    units = line_units("ส่วนลดใหญ่ ซื้อเลยวันนี้", "th")
    assert units[0] == "ส่วนลด"
    assert "ใหญ่ " in units
    assert "โปรโมชั่น" in line_units("โปรโมชั่นพิเศษ", "th")


@pytest.mark.parametrize(
    "text",
    ["ส่วนลดใหญ่ ซื้อเลยวันนี้", "ลด 50% Sale  วันนี้!", "  ที่นี่\nเท่านั้น ", "限时 SALE 50%", ""],
)
def test_line_units_concatenate_back_to_the_text(text: str) -> None:
    assert "".join(line_units(text, "th")) == text


def test_thai_line_units_keep_numbers_and_trailing_punctuation_whole() -> None:
    units = line_units("ลด 50% วันนี้!", "th")
    assert "50% " in units
    assert units[-1] == "วันนี้!"


def test_long_thai_headline_wraps_without_starting_a_line_with_a_mark() -> None:
    text = "ส่วนลดใหญ่ สำหรับสมาชิกใหม่ทุกคนวันนี้เท่านั้น"
    [placed] = layout([headline(text)], "top-left", (480, 480), "th")
    assert len(placed.lines) >= 2
    assert all(unicodedata.category(line[0]) not in ("Mn", "Mc", "Me") for line in placed.lines)
    assert "".join(placed.lines).replace(" ", "") == text.replace(" ", "")
    assert not any(line.startswith("ลด") for line in placed.lines)  # "ส่วนลด" stays whole


def test_chinese_breaks_between_characters_but_never_before_closing_punctuation() -> None:
    units = line_units("限时抢购，全场五折起！", "zh")
    assert units[:3] == ["限", "时", "抢"]
    assert "购，" in units
    assert units[-1] == "起！"
    text = "限时抢购，全场五折起！新品上市。欢迎选购！"
    [placed] = layout([headline(text)], "top-left", (400, 400), "zh")
    assert len(placed.lines) >= 2
    assert all(line[0] not in CLOSING_PUNCTUATION for line in placed.lines)


def test_mixed_script_runs_pick_the_first_font_that_has_each_character() -> None:
    latin, thai, chinese = font_path(LATIN), font_path(THAI), font_path(CHINESE)
    assert font_runs("ลด 50% Sale", "th") == [(thai, "ลด 50% Sale")]
    assert font_runs("ลด 50% Sale", "en") == [(thai, "ลด "), (latin, "50% Sale")]
    assert font_runs("限时 SALE 50%", "zh") == [(chinese, "限时 SALE 50%")]
    assert font_runs("限时 SALE 50%", "id") == [(chinese, "限时 "), (latin, "SALE 50%")]


def test_thai_marks_stay_in_the_run_of_their_base() -> None:
    runs = font_runs("Sale ที่นี่", "en")
    assert runs == [(font_path(LATIN), "Sale "), (font_path(THAI), "ที่นี่")]


@pytest.mark.parametrize("char", ["\U0001f9ff", "\u0f40"])  # nazar amulet emoji, Tibetan KA
def test_character_outside_every_font_raises_missing_glyph_error(char: str) -> None:
    chain = fonts_for_locale("en")
    assert not any(ord(char) in codepoints(path) for path in chain)
    with pytest.raises(MissingGlyphError, match=f"U\\+{ord(char):04X}") as raised:
        layout([headline(f"Sale {char}")], "center", SQUARE, "en")
    assert "NotoSans" in str(raised.value)


def test_long_headline_gets_a_smaller_font_than_a_short_one() -> None:
    [short] = layout([headline("Big Sale")], "center", SQUARE, "en")
    long_text = "Everything in the store is half price this weekend, online and in every shop"
    [long] = layout([headline(long_text)], "center", SQUARE, "en")
    assert long.font_size < short.font_size
    assert len(long.lines) <= 3


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("canvas", [(1024, 1024), (1200, 628), (1080, 1920)])
def test_every_box_lies_inside_the_canvas(position: str, canvas: tuple[int, int]) -> None:
    blocks = [
        headline("ส่วนลดใหญ่ สำหรับสมาชิกใหม่ทุกคนวันนี้เท่านั้น"),
        TextBlock("offer", "ลด 50% ราคา ฿1,290", "#FFFFFF"),
        TextBlock("ends", "หมดเขต 31 ธันวาคม 2568", "#FFFFFF"),
        TextBlock("cta", "ซื้อเลย", "#1A237E"),
    ]
    placed = layout(blocks, position, canvas, "th")
    assert [p.role for p in placed] == ["headline", "offer", "ends", "cta"]
    for p in placed:
        left, top, right, bottom = p.box
        assert 0 <= left < right <= canvas[0]
        assert 0 <= top < bottom <= canvas[1]


def test_impossible_copy_raises_typesetting_error_naming_the_text() -> None:
    text = "Diskon besar untuk semua produk " * 200
    with pytest.raises(TypesettingError, match="Diskon besar") as raised:
        layout([headline(text)], "bottom-center", SQUARE, "id")
    assert "px box" in str(raised.value)


def test_an_unbreakable_word_is_split_between_grapheme_clusters() -> None:
    word = "Supe\u0301rcalifragi\u0301listic" * 3  # decomposed accents: base + combining mark
    [placed] = layout([headline(word)], "top-left", (400, 400), "en")
    assert len(placed.lines) >= 2
    assert "".join(placed.lines) == word
    assert all(unicodedata.category(line[0]) == "Lu" or line[0].isalpha() for line in placed.lines)
    assert all(not unicodedata.combining(line[0]) for line in placed.lines)


@pytest.mark.parametrize("position", POSITIONS)
def test_block_sits_in_the_third_of_the_canvas_its_position_names(position: str) -> None:
    [placed] = layout([headline("Big Sale")], position, SQUARE, "en")
    left, top, right, bottom = placed.box
    vertical, _, horizontal = position.partition("-")
    expected_column = {"left": 0, "center": 1, "right": 2}[horizontal or "center"]
    expected_row = {"top": 0, "center": 1, "bottom": 2}[vertical]
    assert int((left + right) / 2 // (SQUARE[0] / 3)) == expected_column
    assert int((top + bottom) / 2 // (SQUARE[1] / 3)) == expected_row


def test_unknown_position_is_refused_with_the_known_ones() -> None:
    with pytest.raises(TypesettingError, match="bottom-center"):
        layout([headline("Big Sale")], "middle", SQUARE, "en")


def test_blank_blocks_are_left_out() -> None:
    placed = layout(
        [headline("Big Sale"), TextBlock("cta", "  ", "#000000")], "center", SQUARE, "en"
    )
    assert [p.role for p in placed] == ["headline"]


def test_compose_draws_inside_the_headline_box_and_nowhere_far_away(base: Image.Image) -> None:
    composed, [box] = compose(base, [headline("Big Sale")], "top-left", "en")
    assert composed.mode == "RGB"
    assert composed.size == base.size
    left, top, _, _ = box
    assert ImageChops.difference(composed.crop(box), base.crop(box)).getbbox()
    assert composed.getpixel((SQUARE[0] - 10, SQUARE[1] - 10)) == GREY
    assert base.getpixel((left + 5, top + 5)) == GREY  # the input is left alone


def test_compose_draws_nothing_outside_the_placed_boxes(base: Image.Image) -> None:
    blocks = [
        headline("ส่วนลดใหญ่ ที่นี่ ฤๅษี Sale jÅg"),
        TextBlock("offer", "限时抢购，全场五折起！", "#FFFFFF"),
        TextBlock("ends", "Berakhir 31 Desember", "#1A237E"),
        TextBlock("cta", "ซื้อเลย", "#E53935"),
    ]
    composed, boxes = compose(base, blocks, "center", "th")
    mask = Image.new("L", SQUARE, 255)
    for box in boxes:
        ImageDraw.Draw(mask).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=0)
    outside = ImageChops.multiply(ImageChops.difference(composed, base).convert("L"), mask)
    assert outside.getbbox() is None


def test_compose_is_deterministic(base: Image.Image) -> None:
    blocks = [headline("ส่วนลดใหญ่"), TextBlock("cta", "ซื้อเลย", "#1A237E")]
    first, _ = compose(base, blocks, "bottom-center", "th")
    second, _ = compose(base, blocks, "bottom-center", "th")
    assert png_bytes(first) == png_bytes(second)


def test_compose_gives_the_same_pixels_from_many_threads() -> None:
    jobs = [
        (locale, text, position)
        for locale, text in [("th", "ส่วนลดใหญ่ ที่นี่"), ("zh", "限时抢购！"), ("id", "Diskon Besar")]
        for position in ("top-left", "center", "bottom-right")
    ]

    def render(job: tuple[str, str, str]) -> str:
        locale, text, position = job
        image = Image.new("RGB", (640, 640), GREY)
        composed, _ = compose(image, [headline(text)], position, locale)
        return hashlib.sha256(composed.tobytes()).hexdigest()

    alone = [render(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(render, jobs * 4))
    assert together == alone * 4


def test_thai_marks_are_positioned_by_raqm_not_basic_layout() -> None:
    path = str(font_path(THAI).path)
    shaped = ImageFont.truetype(path, 64, layout_engine=ImageFont.Layout.RAQM)
    basic = ImageFont.truetype(path, 64, layout_engine=ImageFont.Layout.BASIC)

    def draw(font: ImageFont.FreeTypeFont) -> bytes:
        image = Image.new("L", (300, 120))
        ImageDraw.Draw(image).text((10, 90), "ที่นี่", font=font, fill=255, anchor="ls")
        return image.tobytes()

    assert draw(shaped) != draw(basic)


@pytest.mark.parametrize(
    ("color", "contrast"),
    [
        ("#FFD700", "#000000"),
        ("#1A237E", "#FFFFFF"),
        ("#FFFFFF", "#000000"),
        ("#000000", "#FFFFFF"),
    ],
)
def test_stroke_colour_contrasts_with_the_text_colour(color: str, contrast: str) -> None:
    assert contrasting_color(color) == contrast


def test_a_colour_that_is_not_a_colour_is_refused() -> None:
    with pytest.raises(TypesettingError, match="#RRGGBB"):
        layout([headline("Big Sale", color="yellowish")], "center", SQUARE, "en")


def test_cta_sits_on_a_plate_of_its_colour(base: Image.Image) -> None:
    composed, placed = compose(base, [TextBlock("cta", "Shop now", "#1A237E")], "center", "en")
    left, top, _, bottom = placed[0]
    assert composed.getpixel((left + 12, (top + bottom) // 2)) == (0x1A, 0x23, 0x7E)


def test_tabs_and_runs_of_spaces_are_set_as_one_space_and_the_text_is_kept() -> None:
    text = "  Big\t\tSale   today \r\n"
    [placed] = layout([headline(text)], "center", SQUARE, "en")
    assert placed.lines == ("Big Sale today",)
    assert placed.text == text


def test_newlines_in_the_copy_start_new_lines() -> None:
    [placed] = layout([headline("Big Sale\n\nToday")], "center", SQUARE, "en")
    assert placed.lines == ("Big Sale", "Today")
