"""Font files per locale, what each one can draw, and the runs of one font a line is drawn in.

Pillow shapes one font per call and has no glyph fallback, so every line is split into runs by font
coverage and the runs are drawn one after another on a shared baseline.

The fonts come from pip packages so that a fresh virtualenv renders the same pixels everywhere:
Noto Sans (Latin, Cyrillic, Greek, Vietnamese), Noto Sans Thai and Noto Sans SC.
"""

from __future__ import annotations

import importlib
import importlib.resources
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from icu4py.breakers import CharacterBreaker
from PIL import ImageFont, features

from transcreate.errors import MissingGlyphError, SetupError

LATIN = "latin"
THAI = "thai"
CHINESE = "chinese"

# script → the pip package that ships its font
_PACKAGES: dict[str, str] = {
    LATIN: "fontpkg-noto-sans",
    THAI: "fontpkg-noto-sans-thai",
    CHINESE: "pylopdf-fonts-zh-cn",
}

_CHAINS: dict[str, tuple[str, ...]] = {
    THAI: (THAI, LATIN, CHINESE),
    CHINESE: (CHINESE, LATIN),
    LATIN: (LATIN, CHINESE, THAI),
}

_CJK_LANGUAGES = frozenset({"zh", "ja", "ko", "yue", "wuu", "hak", "nan", "cmn"})
_CJK_SCRIPTS = frozenset({"hans", "hant", "hani", "jpan", "kore"})


def _locate(script: str) -> Path:
    package = _PACKAGES[script]
    try:
        if script == LATIN:
            found = (
                importlib.resources.files("fontpkg_noto_sans") / "files" / "NotoSans[wdth,wght].ttf"
            )
            return Path(str(found))
        if script == THAI:
            found = (
                importlib.resources.files("fontpkg_noto_sans_thai")
                / "files"
                / "NotoSansThai[wdth,wght].ttf"
            )
            return Path(str(found))
        module = importlib.import_module("pylopdf_fonts_zh_cn")
        return Path(module.sans_path())
    except ModuleNotFoundError as error:
        raise SetupError(
            f"the {script} font is missing: install it with `pip install {package}`"
        ) from error


@cache
def font_path(script: str) -> Path:
    """The font file for one of LATIN, THAI or CHINESE."""
    return _locate(script)


def script_for_locale(locale: str) -> str:
    """The main script of a BCP-47 tag: THAI, CHINESE (any CJK) or LATIN by default."""
    subtags = locale.replace("_", "-").lower().split("-")
    if "thai" in subtags[1:] or subtags[0] == "th":
        return THAI
    if subtags[0] in _CJK_LANGUAGES or _CJK_SCRIPTS.intersection(subtags[1:]):
        return CHINESE
    return LATIN


def fonts_for_locale(locale: str) -> tuple[Path, ...]:
    """The ordered fallback chain of font files for a locale."""
    return tuple(font_path(script) for script in _CHAINS[script_for_locale(locale)])


@cache
def codepoints(path: Path) -> frozenset[int]:
    """Every code point the font maps to a glyph."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


@cache
def is_variable(path: Path) -> bool:
    """Whether the font has variation axes (weights are then instances, not files)."""
    with TTFont(path, lazy=True) as font:
        return "fvar" in font


def check_text_support() -> None:
    """Raise SetupError unless complex-text layout (raqm) and every font file are available."""
    if not features.check("raqm"):
        raise SetupError(
            "Pillow cannot shape complex text: libraqm needs FriBiDi. Install libfribidi0 "
            "(e.g. `apt-get install libfribidi0`); without it Pillow silently falls back to "
            "basic layout and Thai vowel and tone marks no longer stack"
        )
    for script, package in _PACKAGES.items():
        path = font_path(script)
        if not path.is_file():
            raise SetupError(
                f"the {script} font {path} is missing: reinstall it with "
                f"`pip install --force-reinstall {package}`"
            )


_SYNTHETIC_BOLD = {"Bold": 0.03, "SemiBold": 0.015}  # of the font size

Run = tuple[Path, str]


def _covers(path: Path, cluster: str) -> bool:
    available = codepoints(path)
    return all(ord(char) in available or ord(char) in IGNORABLE for char in cluster)


def _missing_glyph(text: str, cluster: str, chain: tuple[Path, ...]) -> MissingGlyphError:
    fonts = ", ".join(path.name for path in chain)
    absent = [char for char in cluster if not any(_covers(path, char) for path in chain)]
    if absent:
        char = absent[0]
        what = f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
    else:
        what = (
            f"the cluster {cluster!r} ({' '.join(f'U+{ord(c):04X}' for c in cluster)}) in one font"
        )
    return MissingGlyphError(
        f"cannot draw {what} in {text!r}: none of the fonts tried ({fonts}) has it; "
        "remove the character or set the copy in a locale whose fonts cover it"
    )


@lru_cache(maxsize=8192)
def runs(text: str, chain: tuple[Path, ...]) -> tuple[Run, ...]:
    runs: list[Run] = []
    for cluster in graphemes(text):
        current = runs[-1][0] if runs else None
        # Whitespace and stray marks stay with the run they follow, so a script change costs no
        # extra run and a mark is never drawn apart from its base.
        joins = cluster.isspace() or is_mark(cluster[0])
        if current is not None and joins and _covers(current, cluster):
            font = current
        else:
            found = next((path for path in chain if _covers(path, cluster)), None)
            if found is None:
                raise _missing_glyph(text, cluster, chain)
            font = found
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + cluster)
        else:
            runs.append((font, cluster))
    return tuple(runs)


def font_runs(text: str, locale: str) -> list[Run]:
    """Split text into (font file, text) runs, each character in the first font that has it."""
    return list(runs(text, fonts_for_locale(locale)))


@lru_cache(maxsize=512)
def _font(path: Path, size: int, weight: str | None) -> ImageFont.FreeTypeFont:
    # One object per variation: set_variation_* mutates the face, so a cached font is never touched
    # again once other threads can see it.
    font = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)
    if weight is not None and is_variable(path):
        font.set_variation_by_name(weight)
    return font


@lru_cache(maxsize=65536)
def _width(face: Face, text: str) -> float:
    return sum(face.length(run) for run in runs(text, face.chain))


@dataclass(frozen=True)
class Face:
    chain: tuple[Path, ...]
    size: int
    weight: str | None
    language: str

    def font(self, path: Path) -> ImageFont.FreeTypeFont:
        return _font(path, self.size, self.weight)

    def length(self, run: Run) -> float:
        return self.font(run[0]).getlength(run[1], direction="ltr", language=self.language)

    def width(self, text: str) -> float:
        return _width(self, text)

    def embolden(self, path: Path) -> int:
        # A font with one weight only (Noto Sans SC) is thickened by a stroke in its own colour.
        if self.weight is None or is_variable(path):
            return 0
        return round(_SYNTHETIC_BOLD.get(self.weight, 0.0) * self.size)

    def metrics(self, text: str) -> tuple[int, int]:
        paths = [path for path, _ in runs(text, self.chain)] or [self.chain[0]]
        ascents, descents = zip(*(self.font(path).getmetrics() for path in paths), strict=True)
        return max(ascents), max(descents)


# HarfBuzz hides these even when the font has no glyph for them, so they need no coverage.
IGNORABLE = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, *range(0xFE00, 0xFE10)})


def is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def graphemes(text: str) -> list[str]:
    return list(CharacterBreaker(text, "und"))
