"""The copy check reads what the built-in editor set: no false flags on outlined light-on-light
and dark-on-dark copy, on plates over busy prints, in any script; garbled copy is still flagged."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from transcreate.editors.local import LocalEditor
from transcreate.jobs import EditJob, Overlay
from transcreate.ocr import require_tesseract
from transcreate.quality import copy_check

pytestmark = pytest.mark.slow

ROLES = ("headline", "offer", "cta")
COPY = {
    "en": ("Free shipping", "Only $12.99", "Order today"),
    "id": ("Gratis Ongkir", "Hanya Rp199.000", "Pesan hari ini"),
    "th": ("ส่งฟรีทั่วประเทศ", "เพียง 399 บาท", "สั่งซื้อวันนี้"),
    "zh": ("全国包邮", "仅需89元", "今天下单"),
}


@pytest.fixture(scope="module", autouse=True)
def _tesseract() -> None:
    require_tesseract(COPY)


@pytest.fixture(scope="module")
def editor() -> LocalEditor:
    return LocalEditor()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def creative(backdrop: tuple[int, int, int], product: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (768, 768), backdrop)
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((300, 250, 470, 560), radius=40, fill=product)
    pen.ellipse((220, 520, 550, 600), fill=tuple(max(0, c - 40) for c in product))
    return png(image)


def busy_print() -> bytes:
    rng = np.random.default_rng(11)
    noise = rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)
    return png(Image.fromarray(noise).resize((768, 768), Image.Resampling.NEAREST))


def job(locale: str, color: str, position: str) -> EditJob:
    headline, offer, cta = COPY[locale]
    overlays = (
        Overlay("headline", headline, color),
        Overlay("offer", offer, color),
        Overlay("cta", cta, color),
    )
    return EditJob("c", f"v-{position}", locale, "default", "", overlays, position, "s", "local/2")


CASES = {
    # name: (base image, copy colour)
    "white on white": (lambda: creative((250, 250, 250), (60, 140, 150)), "#FFFFFF"),
    "cream on cream": (lambda: creative((245, 235, 215), (120, 60, 40)), "#FFF5E0"),
    "black on black": (lambda: creative((18, 18, 22), (200, 170, 60)), "#000000"),
    "navy on navy": (lambda: creative((20, 24, 60), (220, 220, 230)), "#1A237E"),
    "yellow on a busy print": (busy_print, "#FFD700"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("locale", sorted(COPY))
def test_correct_copy_is_never_flagged(editor: LocalEditor, case: str, locale: str) -> None:
    make_base, color = CASES[case]
    base = make_base()
    # one position per case and locale, alternating: every locale and every case is read in a
    # corner and in a band across the whole run, at half the renders of both everywhere
    turn = (sorted(CASES).index(case) + sorted(COPY).index(locale)) % 2
    position = ("top-left", "bottom-center")[turn]
    edited = editor.edit(job(locale, color, position), base).png
    check = copy_check(job(locale, color, position), edited, roles=ROLES)
    assert check.passed, (case, locale, position, check)


@pytest.mark.parametrize("locale", sorted(COPY))
def test_garbled_copy_is_flagged(editor: LocalEditor, locale: str) -> None:
    base = creative((250, 250, 250), (60, 140, 150))
    asked = job(locale, "#FFFFFF", "top-left")
    edited = editor.edit(asked, base).png
    # The output shows another locale's copy where this one's should be.
    other = "zh" if locale != "zh" else "th"
    wrong = dataclasses.replace(
        asked,
        overlays=tuple(
            dataclasses.replace(overlay, text=COPY[other][index])
            for index, overlay in enumerate(asked.overlays)
        ),
    )
    assert not copy_check(wrong, edited).passed
