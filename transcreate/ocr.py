"""Reading text back from an image with tesseract: the region or the lines to read, the ink picked
out (by the copy's colour, else by contrast), upscaled and bordered as tesseract reads best, one
subprocess per read with a timeout; and the trained languages each locale needs.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from PIL import Image, ImageChops, ImageColor, ImageDraw, ImageFilter, ImageOps

from transcreate.compose.blocks import Box
from transcreate.errors import SetupError, TranscreateError
from transcreate.locales import base_language, script_of

# Tesseract's trained data per language subtag, then per ISO 15924 script (the locale's, or a
# line's own letters'); any other Latin-script locale is read as English.
TESSERACT_LANGUAGES = {"en": "eng", "id": "ind+eng", "vi": "vie", "fa": "fas", "ur": "urd"}
TESSERACT_SCRIPTS = {
    "Thai": "tha",
    "Hans": "chi_sim",
    "Hant": "chi_tra",  # Traditional is not Simplified: chi_sim would fail good copy
    "Jpan": "jpn",
    "Kore": "kor",
    "Arab": "ara",
    "Deva": "hin",
    "Khmr": "khm",
    "Hebr": "heb",
    "Laoo": "lao",
}
# A line's letters → their script, for a line in another script than its locale's.
_SCRIPT_RANGES = (
    ("Thai", "\u0e00", "\u0e7f"),
    ("Laoo", "\u0e80", "\u0eff"),
    ("Khmr", "\u1780", "\u17ff"),
    ("Deva", "\u0900", "\u097f"),
    ("Hebr", "\u0590", "\u05ff"),
    ("Arab", "\u0600", "\u06ff"),
    ("Arab", "\u0750", "\u077f"),
    ("Kore", "\uac00", "\ud7a3"),
    ("Jpan", "\u3040", "\u30ff"),  # kana: Japanese, whatever the locale
)

_MIN_TEXT_HEIGHT = 120  # px; smaller crops are upscaled before reading
_THIN_FROM = 30  # px of font size: from here, enlarged strokes are thinned before reading
_LINE_HEIGHT = 64  # px; one line of copy is upscaled to at least this before reading
_MAX_UPSCALE = 4
_BORDER = 20  # px of white around the crop: tesseract misses glyphs touching the edge
_TIMEOUT = 120  # seconds for one tesseract run


# --- reading text --------------------------------------------------------------------------------


def tesseract_language(locale: str) -> str:
    """The tesseract ``-l`` value for a locale: by its language (eng, ind+eng, vie …), else by
    its script (tha, chi_sim, chi_tra, jpn, kor, ara, hin, khm …), else eng."""
    language = base_language(locale)
    if language in TESSERACT_LANGUAGES:
        return TESSERACT_LANGUAGES[language]
    return TESSERACT_SCRIPTS.get(script_of(locale), "eng")


def _package(language: str) -> str:
    return "tesseract-ocr-" + language.lower().replace("_", "-")


@lru_cache(maxsize=4)
def _installed_languages(executable: str) -> frozenset[str]:
    listing = subprocess.run(
        [executable, "--list-langs"], capture_output=True, text=True, timeout=_TIMEOUT
    )
    # The first line is a header ("List of available languages in ..."); the rest are codes.
    return frozenset(listing.stdout.split("\n")[1:]) - {""}


def _tesseract(language: str) -> str:
    """The tesseract executable, once it is known to have every language asked for."""
    executable = shutil.which("tesseract")
    if executable is None:
        raise SetupError(
            "tesseract is not installed; install the tesseract-ocr package and its languages "
            f"(apt-get install tesseract-ocr {_package('tha')} {_package('chi_sim')} "
            f"{_package('ind')}) or run ./scripts/install"
        )
    missing = [code for code in language.split("+") if code not in _installed_languages(executable)]
    if missing:
        raise SetupError(
            f"tesseract has no {', '.join(missing)} language data; install "
            f"{' '.join(_package(code) for code in missing)} (apt-get install ...)"
        )
    return executable


def require_tesseract(locales: Iterable[str]) -> None:
    """Raise SetupError now, naming the packages, if the locales' copy could not be read later."""
    for locale in locales:
        _tesseract(tesseract_language(locale))


def _ink_of_color(region: Image.Image, color: str, tolerance: int) -> Image.Image:
    """Black where the region has the given colour (within tolerance), white elsewhere."""
    fill = Image.new("RGB", region.size, ImageColor.getrgb(color)[:3])
    red, green, blue = ImageChops.difference(region, fill).split()
    distance = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return distance.point(lambda value: 0 if value < tolerance else 255)


def _otsu_threshold(gray: Image.Image) -> int:
    histogram = gray.histogram()
    total = sum(histogram)
    weighted_total = sum(level * count for level, count in enumerate(histogram))
    best, best_variance = 128, -1.0
    below = weighted_below = 0
    for level, count in enumerate(histogram):
        below += count
        weighted_below += level * count
        above = total - below
        if below == 0 or above == 0:
            continue
        mean_below = weighted_below / below
        mean_above = (weighted_total - weighted_below) / above
        variance = below * above * (mean_below - mean_above) ** 2
        if variance > best_variance:
            best, best_variance = level, variance
    return best


def _ink_by_contrast(region: Image.Image) -> Image.Image:
    """Otsu-thresholded grayscale, black ink on white: the rarer side is taken to be the text."""
    gray = ImageOps.grayscale(region)
    threshold = _otsu_threshold(gray)
    binary = gray.point(lambda value: 255 if value > threshold else 0)
    light = binary.histogram()[255]
    return ImageOps.invert(binary) if light < binary.width * binary.height / 2 else binary


def read_region(
    image: Image.Image,
    box: Box,
    locale: str,
    color: str | None,
    *,
    tolerance: int = 32,
    language: str | None = None,
    psm: int = 6,
) -> str:
    """The text tesseract reads in a box of the image.

    With the copy's fill colour known, only pixels of that colour count (exact for the local
    compositor, whose outline is another colour); without it the crop is thresholded by contrast.
    ``language`` overrides the tesseract language picked from the locale; ``psm`` is tesseract's
    page segmentation mode (6: one block of text).
    """
    language = language or tesseract_language(locale)
    executable = _tesseract(language)
    left, top, right, bottom = box
    clamped = (max(0, left), max(0, top), min(image.width, right), min(image.height, bottom))
    if clamped[2] <= clamped[0] or clamped[3] <= clamped[1]:
        return ""
    region = image.convert("RGB").crop(clamped)
    if region.height < _MIN_TEXT_HEIGHT:
        scale = min(_MAX_UPSCALE, math.ceil(_MIN_TEXT_HEIGHT / region.height))
        region = region.resize(
            (region.width * scale, region.height * scale), Image.Resampling.LANCZOS
        )
    ink = _ink_of_color(region, color, tolerance) if color else _ink_by_contrast(region)
    return _ocr(ink, language, executable, psm)


def _ocr(ink: Image.Image, language: str, executable: str, psm: int) -> str:
    """What tesseract reads on black-on-white ink."""
    page = ImageOps.expand(ink, _BORDER, fill=255)
    png = io.BytesIO()
    page.save(png, format="PNG")
    return _run_tesseract(png.getvalue(), language, executable, psm, page.size)


def _run_tesseract(
    data: bytes, language: str, executable: str, psm: int, size: tuple[int, int]
) -> str:
    try:
        completed = subprocess.run(
            [executable, "stdin", "stdout", "-l", language, "--psm", str(psm)],
            input=data,
            capture_output=True,
            timeout=_TIMEOUT,
            # One thread per process: callers run several reads at once, and OpenMP threads
            # fighting over two cores make tesseract several times slower.
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except subprocess.TimeoutExpired:
        raise TranscreateError(
            f"tesseract took over {_TIMEOUT} s to read a {size[0]}×{size[1]} crop"
        ) from None
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()
        if "Failed loading language" in message:
            raise SetupError(f"tesseract cannot load {language}: install {_package(language)}")
        raise TranscreateError(f"tesseract failed reading with {language}: {message}")
    return completed.stdout.decode("utf-8", "replace").strip()


def line_language(text: str, locale: str) -> str:
    """The tesseract language for one line of copy: by the script of its letters (Thai in an
    English creative is read as Thai), else the locale's."""
    own = tesseract_language(locale)
    for script, first, last in _SCRIPT_RANGES:
        if any(first <= char <= last for char in text):
            language = TESSERACT_SCRIPTS[script]
            # A brand name in Latin letters inside the line ("… على Lumière") is read as such.
            latin = any(char.isascii() and char.isalpha() for char in text)
            return language + "+eng" if latin else language
    if any(unicodedata.east_asian_width(char) in ("W", "F") and char.isalpha() for char in text):
        # Han characters: the locale's reading of them (Japanese, Traditional), else Simplified.
        return own if own in ("chi_sim", "chi_tra", "jpn", "kor") else "chi_sim"
    if "eng" not in own.split("+") and any(char.isascii() and char.isalpha() for char in text):
        return own + "+eng"  # "Lumière" alone on a line of an Arabic creative
    return own


def _without_border_ink(ink: Image.Image) -> Image.Image:
    """Ink not connected to the crop's edge: the glyphs' fill, enclosed by their outline or
    standing on a plate, without background of the same colour around them."""
    cleaned = ink.copy()
    width, height = cleaned.size
    pixels = cleaned.load()
    assert pixels is not None
    edge = [(x, y) for x in range(width) for y in (0, height - 1)]
    edge += [(x, y) for y in range(height) for x in (0, width - 1)]
    for x, y in edge:
        if pixels[x, y] == 0:
            ImageDraw.floodfill(cleaned, (x, y), 255)
    return cleaned


def _line_ink(
    image: Image.Image, box: Box, fill: str, tolerance: int, thin: bool
) -> Image.Image | None:
    left, top, right, bottom = box
    clamped = (max(0, left), max(0, top), min(image.width, right), min(image.height, bottom))
    if clamped[2] <= clamped[0] or clamped[3] <= clamped[1]:
        return None
    region = image.convert("RGB").crop(clamped)
    ink = _ink_of_color(region, fill, tolerance)
    # Background of the fill's colour is found at the image's own size, where a thin outline
    # still closes every glyph off from it (enlarging blurs it open) ...
    background = ImageChops.subtract(_without_border_ink(ink), ink)  # white where removed
    if region.height >= _LINE_HEIGHT:
        return ImageChops.lighter(ink, background)
    # ... and the glyphs are isolated again after enlarging: smoother glyphs read better.
    scale = min(_MAX_UPSCALE, math.ceil(_LINE_HEIGHT / region.height))
    size = (region.width * scale, region.height * scale)
    enlarged = _ink_of_color(region.resize(size, Image.Resampling.LANCZOS), fill, tolerance)
    around = background.resize(size, Image.Resampling.NEAREST).filter(ImageFilter.MaxFilter(3))
    ink = ImageChops.lighter(enlarged, around)
    # Large bold copy enlarged reads as blobs to tesseract: thin every stroke by a pixel a side.
    return ink.filter(ImageFilter.MaxFilter(3)) if thin else ink


def read_lines(
    image: Image.Image,
    boxes: Sequence[Box],
    fill: str,
    language: str,
    *,
    tolerance: int = 48,
    font_size: int = 0,
) -> str:
    """The text of lines the built-in editor set, one line of output per line: only pixels of
    the fill colour enclosed by the outline, plate or contrast around them (never the outline, the
    plate or background of the same colour). The lines go to tesseract as one page, one start-up."""
    executable = _tesseract(language)
    thin = font_size >= _THIN_FROM
    inks = [
        ink for box in boxes if (ink := _line_ink(image, box, fill, tolerance, thin)) is not None
    ]
    if not inks:
        return ""
    # One page per line in one multi-page TIFF: each line read as a single line (psm 7), which
    # is surer than a page of lines of mixed sizes, for one start-up of tesseract.
    pages = [ImageOps.expand(ink, _BORDER, fill=255) for ink in inks]
    texts = _read_pages(pages, language, executable, psm=7)
    if len(texts) != len(pages):  # a page read as nothing leaves no page break: read one by one
        texts = [_read_pages([page], language, executable, psm=7)[0] for page in pages]
    # A line of one word can read as nothing as a line (a lone Arabic word does) and whole as
    # a word (psm 8): those are read again so.
    for index, text in enumerate(texts):
        if not text:
            texts[index] = _read_pages([pages[index]], language, executable, psm=8)[0]
    return "\n".join(text for text in texts if text)


def _read_pages(
    pages: Sequence[Image.Image], language: str, executable: str, psm: int
) -> list[str]:
    tiff = io.BytesIO()
    pages[0].save(tiff, format="TIFF", save_all=True, append_images=list(pages[1:]))
    read = _run_tesseract(tiff.getvalue(), language, executable, psm=psm, size=pages[0].size)
    texts = [page.strip() for page in read.split("\f")][: len(pages)]
    return texts if len(pages) > 1 else [texts[0] if texts else ""]
