"""Font files per locale, and what each one can draw.

The fonts come from pip packages so that a fresh virtualenv renders the same pixels everywhere:
Noto Sans (Latin, Cyrillic, Greek, Vietnamese), Noto Sans Thai and Noto Sans SC.
"""

from __future__ import annotations

import importlib
import importlib.resources
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import features

from transcreate.errors import SetupError

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
