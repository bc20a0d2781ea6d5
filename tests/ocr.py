"""Reading copy back from output images with tesseract, for legibility tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

TESSERACT_LANGUAGES = {"th": "tha", "zh": "chi_sim", "id": "ind+eng", "en": "eng"}


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def ink_of_color(region: Image.Image, color: str, tolerance: int = 32) -> Image.Image:
    """Black where the region has the text's fill colour, white elsewhere, with a margin.

    Tesseract reads a crop of clean dark-on-light glyphs far better than stroked coloured copy
    over a photo; the fill colour is known from the sheet, so isolating it is exact.
    """
    fill = Image.new("RGB", region.size, tuple(int(color[i : i + 2], 16) for i in (1, 3, 5)))
    red, green, blue = ImageChops.difference(region.convert("RGB"), fill).split()
    distance = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    ink = distance.point(lambda value: 0 if value < tolerance else 255)
    return ImageOps.expand(ink, 20, fill=255)


def read_text(image: Image.Image, locale: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "crop.png"
        image.save(path)
        completed = subprocess.run(
            ["tesseract", str(path), "-", "-l", TESSERACT_LANGUAGES[locale], "--psm", "6"],
            capture_output=True,
            text=True,
            check=True,
        )
    return completed.stdout


def normalized(text: str) -> str:
    # NFKC folds Thai SARA AM (U+0E33) into NIKHAHIT + SARA AA, as tesseract writes it.
    return "".join(unicodedata.normalize("NFKC", text).split())


def character_error_rate(expected: str, read: str) -> float:
    """Levenshtein distance over the expected length, ignoring whitespace."""
    a, b = normalized(expected), normalized(read)
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1] / max(1, len(a))
