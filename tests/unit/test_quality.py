"""Output checks without OCR: text comparison, the copy's region, and scene changes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from transcreate.errors import SetupError
from transcreate.ocr import read_region, require_tesseract, tesseract_language
from transcreate.quality import (
    change_check,
    character_error_rate,
    copy_region,
    substring_error_rate,
)

# --- character error rate ------------------------------------------------------------------------


def test_identical_text_has_no_errors() -> None:
    assert character_error_rate("ส่วนลดใหญ่", "ส่วนลดใหญ่") == 0.0


def test_whitespace_and_line_breaks_do_not_count() -> None:
    assert character_error_rate("Diskon Besar", "Diskon\nBesar ") == 0.0
    assert character_error_rate("超级大促", "超 级 大 促") == 0.0


def test_thai_sara_am_matches_nikhahit_and_sara_aa_as_tesseract_writes_it() -> None:
    assert character_error_rate("สำหรับ", "ส\u0e4d\u0e32หรับ") == 0.0


def test_full_width_and_invisible_characters_fold_away() -> None:
    assert character_error_rate("50%", "５０％") == 0.0
    assert character_error_rate("ส่วน\u200bลด", "ส่วนลด") == 0.0


def test_one_wrong_character_in_four_is_a_quarter() -> None:
    assert character_error_rate("大促销啊", "大促销吗") == 0.25
    assert character_error_rate("Sale", "Sal") == 0.25
    assert character_error_rate("Sale", "Sales") == 0.25


def test_nothing_read_is_all_wrong_and_nothing_expected_is_not() -> None:
    assert character_error_rate("Sale", "") == 1.0
    assert character_error_rate("", "") == 0.0


def test_the_expected_copy_is_found_inside_other_text() -> None:
    read = "~~ noise\nBig Sa1e\nOnly $12.99"
    assert substring_error_rate("Big Sale", read) == pytest.approx(1 / 7)
    assert character_error_rate("Big Sale", read) > 1
    assert substring_error_rate("Flash Sale", read) > 0.25


# --- where copy goes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "band"),
    [
        ("bottom-center", (0, 450, 900, 900)),
        ("bottom-left", (0, 450, 900, 900)),
        ("top-right", (0, 0, 900, 450)),
        ("center", (0, 150, 900, 750)),
        ("center-left", (0, 150, 900, 750)),
    ],
)
def test_copy_region_is_the_positions_third_widened(position: str, band: tuple[int, ...]) -> None:
    assert copy_region(position, (900, 900)) == band


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("th", "tha"),
        ("zh", "chi_sim"),
        ("zh-Hans", "chi_sim"),
        ("zh-Hant", "chi_tra"),
        ("id", "ind+eng"),
        ("en", "eng"),
        ("vi", "vie"),
    ],
)
def test_each_locale_is_read_with_its_tesseract_language(locale: str, language: str) -> None:
    assert tesseract_language(locale) == language


def test_a_machine_without_tesseract_gets_a_setup_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    image = Image.new("RGB", (100, 50), "white")
    with pytest.raises(SetupError, match="tesseract-ocr"):
        read_region(image, (0, 0, 100, 50), "th", None)
    with pytest.raises(SetupError, match="tesseract-ocr-tha"):
        require_tesseract(["th", "zh"])


# --- how much changed ----------------------------------------------------------------------------


def scene(size: tuple[int, int] = (600, 600)) -> Image.Image:
    """A product shot: a gradient backdrop, a bottle and a plinth."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle((width * 0.4, height * 0.2, width * 0.6, height * 0.6), fill=(30, 120, 140))
    draw.ellipse((width * 0.25, height * 0.55, width * 0.75, height * 0.7), fill=(220, 150, 120))
    return image


def png(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def test_an_unchanged_image_has_nothing_changed() -> None:
    base = png(scene())
    check = change_check(base, base, "bottom-center")
    assert check.passed
    assert check.changed_fraction == 0.0


def test_a_banner_added_at_the_copys_position_passes() -> None:
    edited = scene()
    draw = ImageDraw.Draw(edited)
    draw.rectangle((40, 430, 560, 560), fill=(255, 214, 0))
    draw.text((60, 470), "Diskon Besar", fill="black")
    check = change_check(png(scene()), png(edited), "bottom-center")
    assert check.passed
    assert check.changed_fraction < 0.05


def test_a_re_encoded_and_resized_output_still_passes() -> None:
    resized = scene().resize((1024, 1024), Image.Resampling.LANCZOS)
    check = change_check(png(scene()), png(resized, "JPEG"), "top-left")
    assert check.passed, check


def test_a_fully_repainted_scene_fails() -> None:
    repainted = Image.new("RGB", (600, 600), (250, 250, 250))
    ImageDraw.Draw(repainted).ellipse((100, 100, 500, 500), fill=(200, 40, 40))
    check = change_check(png(scene()), png(repainted), "bottom-center")
    assert not check.passed
    assert check.changed_fraction > 0.35


def test_a_banner_far_from_the_copys_position_counts_as_change() -> None:
    edited = scene()
    ImageDraw.Draw(edited).rectangle((0, 0, 600, 300), fill=(255, 214, 0))
    assert change_check(png(scene()), png(edited), "top-center").passed
    assert not change_check(png(scene()), png(edited), "bottom-center").passed
